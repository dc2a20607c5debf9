import { createServer, type Server } from 'node:net';

import { execa } from 'execa';

import {
  listeningInodes,
  loopback6Listeners,
  loopbackListeners,
  parentPid,
  tunnelOwnedByAncestor,
  tunnelsOfAncestors,
} from './tunnel-owner.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:DF7B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 424242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:DF7B 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 515151 1 0000000000000000 20 4 30 10 -1
   2: 00000000:DF7B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 616161 1 0000000000000000 100 0 0 10 0
`;

test('only loopback listeners on the port count', () => {
  expect(listeningInodes(TCP, 0xdf7b)).toEqual(['424242']);
  expect(listeningInodes(TCP, 22)).toEqual([]);
});

test('loopback listeners are read with their ports; connections and other addresses are not listeners', () => {
  expect(loopbackListeners(TCP)).toEqual([{ port: 0xdf7b, inode: '424242' }]);
  expect(loopbackListeners(TCP.replace('0100007F:DF7B 00000000', '0100007F:0016 00000000'))).toEqual([
    { port: 22, inode: '424242' },
  ]);
});

// ::1:C350 listening, ::1:C351 a connection, [::]:C352 listening on every address, and a
// v4-mapped 127.0.0.1:C353 (none of these but the first is a tunnel on ::1).
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:C350 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 717171 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:C351 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000     0        0 818181 1 0000000000000000 20 4 30 10 -1
   2: 00000000000000000000000000000000:C352 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 919191 1 0000000000000000 100 0 0 10 0
   3: 0000000000000000FFFF00000100007F:C353 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 121212 1 0000000000000000 100 0 0 10 0
`;

test('::1 listeners are read from tcp6; connections, the wildcard and v4-mapped addresses are not', () => {
  expect(loopback6Listeners(TCP6)).toEqual([{ port: 0xc350, inode: '717171' }]);
  expect(loopbackListeners(TCP6)).toEqual([]);
  expect(loopback6Listeners(TCP)).toEqual([]);
});

test('the parent PID is read after the command name, which may hold spaces and parentheses', () => {
  expect(parentPid('1234 (sshd: a (b) c) S 987 1234 1234 0 -1')).toBe(987);
});

describe('against the kernel', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a listener held by an ancestor is accepted; one held by anyone else is not', async () => {
    // This test process holds the socket, so for a child of it an ancestor is the owner.
    const child = execa('sleep', ['30']);
    try {
      expect(await tunnelOwnedByAncestor(port, child.pid)).toBe(true);
      // Seen from this process itself, no ancestor holds it.
      expect(await tunnelOwnedByAncestor(port)).toBe(false);
      // Nothing listens on port 1.
      expect(await tunnelOwnedByAncestor(1, child.pid)).toBe(false);
      // What the helper prints: the child's ancestors hold this port among their loopback listeners.
      expect(await tunnelsOfAncestors(child.pid)).toContainEqual({ port, host: '127.0.0.1' });
      expect((await tunnelsOfAncestors()).map((tunnel) => tunnel.port)).not.toContain(port);
    } finally {
      child.kill();
      await child.catch(() => undefined);
    }
  });

  test('a listener on ::1 alone is a tunnel there; one on both loopbacks is taken on 127.0.0.1', async () => {
    const only6 = createServer();
    await new Promise<void>((resolve) => only6.listen(0, '::1', resolve));
    const port6 = (only6.address() as { port: number }).port;
    const both = createServer();
    await new Promise<void>((resolve) => both.listen(port, '::1', resolve));
    const child = execa('sleep', ['30']);
    try {
      const tunnels = await tunnelsOfAncestors(child.pid);
      expect(tunnels).toContainEqual({ port: port6, host: '::1' });
      expect(tunnels.filter((tunnel) => tunnel.port === port)).toEqual([{ port, host: '127.0.0.1' }]);
    } finally {
      child.kill();
      await child.catch(() => undefined);
      await Promise.all([only6, both].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    }
  });
});
