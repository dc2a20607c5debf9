import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

import { randomAlphanumeric, randomUuid } from '../common/random.js';
import { encodeStdinRequest } from '../turku/protocol/stdin.js';
import {
  closedPort,
  fakeStorageScript,
  memoryLog,
  nodeScript,
  portSequence,
  removeTempDirs,
  tempDir,
} from './__tests__/helpers.js';
import type { DaemonModule } from './rsyncd.js';
import { runStorageSession, tunnelPortChooser, untriedPortIn, type SessionOptions } from './session.js';

afterAll(removeTempDirs);

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@primary';

interface Recorded {
  argv: string[];
  knownHosts: string | null;
  request?: { port: number; sources: Record<string, { username: string; password: string }> };
  eof?: boolean;
}

async function recorded(record: string, n: number): Promise<Recorded> {
  return JSON.parse(await readFile(`${record}.${n}.json`, 'utf8')) as Recorded;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

/** A check-in session for one source, with `ssh_command` pointing at a fake storage. */
async function setUp(behaviour: string) {
  const dir = await tempDir();
  const data = join(dir, 'data');
  await mkdir(data);
  await writeFile(join(data, 'file.txt'), 'backed up\n');
  const record = join(dir, 'ssh');
  const ssh = await nodeScript(dir, 'fake-ssh', fakeStorageScript(record, behaviour));
  let stderr = '';
  const options: SessionOptions = {
    settings: {
      var_dir: join(dir, 'var'),
      rsyncd_command: ['rsync'],
      rsyncd_local_address: '127.0.0.1',
      rsyncd_user: 'root',
      rsyncd_group: '*',
      ssh_command: [ssh],
      tunnel_ports: { min: 49152, max: 65535 },
    },
    storage: {
      name: 'primary',
      ssh_ping_host: 'primary.example.com',
      ssh_ping_host_keys: [HOST_KEY],
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
    },
    modules: (): DaemonModule[] => [
      { name: 'data', path: data, username: randomUuid(), password: randomAlphanumeric(30), readOnly: true },
    ],
    request: (port, modules) =>
      encodeStdinRequest({
        verbose: true,
        action: 'checkin',
        port,
        sources: Object.fromEntries(modules.map((m) => [m.name, { username: m.username, password: m.password }])),
      }),
    stdin: 'hold',
    onStderr: (text) => (stderr += text),
    log: memoryLog(),
  };
  return { dir, record, options, stderr: () => stderr };
}

/** Behaviour of a storage that pulls every offered module into `<record dir>/pulled/<n>`. */
const PULL = `
  const into = require('node:path').dirname(counter) + '/pulled/' + n + '/';
  require('node:fs').mkdirSync(into, { recursive: true });
  for (const [name, { username, password }] of Object.entries(request.sources)) {
    const result = rsync(['-a', 'rsync://' + username + '@127.0.0.1:' + port + '/' + name + '/', into], password);
    if (result.status !== 0) { log('ERROR', 'rsync failed: ' + result.stderr); process.exit(1); }
  }
  log('INFO', 'Done');
  process.exit(0);
`;

describe('a storage session', () => {
  it('lets the storage pull through the daemon and cleans up after itself', async () => {
    const { dir, record, options, stderr } = await setUp(PULL);
    const result = await runStorageSession(options);
    expect(result).toMatchObject({ exitCode: 0, attempts: 1, stopped: false });
    expect(await readFile(join(dir, 'pulled', '1', 'file.txt'), 'utf8')).toBe('backed up\n');
    expect(stderr()).toBe('[2024-12-15 07:00:00,000 primary] INFO: Done\n');

    const seen = await recorded(record, 1);
    expect(seen.request?.port).toBe(result.port);
    expect(seen.argv).toContain(`${result.port}:127.0.0.1:${result.port}`);
    expect(seen.knownHosts).toBe(`primary.example.com ${HOST_KEY}\n`);
    const knownHostsFile = seen.argv.find((word) => word.startsWith('UserKnownHostsFile='))!.split('=')[1]!;
    expect(existsSync(knownHostsFile)).toBe(false);
    expect(existsSync(join(knownHostsFile, '..'))).toBe(false);
    expect(await accepts(result.port)).toBe(false);
  }, 20_000);

  it('retries on a new port with new credentials when the remote forward fails', async () => {
    const behaviour = `
      if (n === 1) {
        process.stderr.write('Warning: remote port forwarding failed for listen port ' + port + '\\n');
        process.exit(255);
      }
      ${PULL}`;
    const { dir, record, options, stderr } = await setUp(behaviour);
    const [first, second] = [await closedPort(), await closedPort()];
    const result = await runStorageSession({ ...options, choosePort: portSequence(first, second) });
    expect(result).toMatchObject({ exitCode: 0, attempts: 2, port: second });
    expect(stderr()).toContain(`remote port forwarding failed for listen port ${first}`);
    expect(await readFile(join(dir, 'pulled', '2', 'file.txt'), 'utf8')).toBe('backed up\n');

    const [one, two] = [await recorded(record, 1), await recorded(record, 2)];
    expect(one.argv).toContain(`${first}:127.0.0.1:${first}`);
    expect(two.argv).toContain(`${second}:127.0.0.1:${second}`);
    expect(two.argv.filter((word) => word === '-R')).toHaveLength(1);
    expect(two.request!.sources.data!.username).not.toBe(one.request!.sources.data!.username);
    expect(two.request!.sources.data!.password).not.toBe(one.request!.sources.data!.password);
    for (const seen of [one, two]) {
      const file = seen.argv.find((word) => word.startsWith('UserKnownHostsFile='))!.split('=')[1]!;
      expect(existsSync(join(file, '..'))).toBe(false);
    }
    expect(await accepts(first)).toBe(false);
    expect(await accepts(second)).toBe(false);
  }, 20_000);

  it("takes the machine's allowed ports first, and says so", async () => {
    const behaviour = `
      if (n === 1) {
        process.stderr.write('Warning: remote port forwarding failed for listen port ' + port + '\\n');
        process.exit(255);
      }
      ${PULL}`;
    const { record, options } = await setUp(behaviour);
    const allowed = [await closedPort(), await closedPort()];
    const log = memoryLog();
    const result = await runStorageSession({ ...options, storage: { ...options.storage, tunnel_ports: allowed }, log });
    expect(result).toMatchObject({ exitCode: 0, attempts: 2 });
    const used = [(await recorded(record, 1)).request!.port, (await recorded(record, 2)).request!.port];
    expect(used.sort()).toEqual([...allowed].sort());
    expect(log.lines.join('')).toContain(
      `Tunnel port for storage primary: from this machine's allowance ${allowed.join(', ')}`,
    );
  }, 20_000);

  it('gives up after three forward failures', async () => {
    const { options } = await setUp(`
      process.stderr.write('Warning: remote port forwarding failed for listen port ' + port + '\\n');
      process.exit(255);`);
    const result = await runStorageSession(options);
    expect(result).toMatchObject({ exitCode: 255, attempts: 3 });
  }, 20_000);

  it('stops the daemon and removes its files when ssh cannot connect', async () => {
    const { record, options } = await setUp(`
      process.stderr.write('ssh: connect to host primary.example.com port 22: Connection refused\\n');
      process.exit(255);`);
    const result = await runStorageSession(options);
    expect(result).toMatchObject({ exitCode: 255, attempts: 1 });
    const seen = await recorded(record, 1);
    const file = seen.argv.find((word) => word.startsWith('UserKnownHostsFile='))!.split('=')[1]!;
    expect(existsSync(join(file, '..'))).toBe(false);
    expect(await accepts(result.port)).toBe(false);
  }, 20_000);

  it('starts ssh again on the port the daemon moved to when the first one was taken here', async () => {
    const { dir, record, options } = await setUp(PULL);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as AddressInfo).port;
    const free = await closedPort();
    try {
      const result = await runStorageSession({ ...options, choosePort: portSequence(takenPort, free) });
      expect(result).toMatchObject({ exitCode: 0, attempts: 1, port: free });
      expect(await readFile(join(dir, 'pulled', '2', 'file.txt'), 'utf8')).toBe('backed up\n');
      const seen = await recorded(record, 2);
      expect(seen.request?.port).toBe(free);
      expect(seen.argv).toContain(`${free}:127.0.0.1:${free}`);
      // The first ssh, for the taken port, was ended before any request went out.
      expect(existsSync(`${record}.1.json`) ? (await recorded(record, 1)).request : undefined).toBeUndefined();
      expect(await accepts(free)).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 30_000);

  it('ends ssh without a request, and says why, when the daemon cannot start', async () => {
    const { record, options } = await setUp(PULL);
    const settings = { ...options.settings, rsyncd_command: ['/nonexistent/rsync'] };
    await expect(runStorageSession({ ...options, settings })).rejects.toThrow(
      'Cannot run the rsync daemon (/nonexistent/rsync)',
    );
    expect(existsSync(`${record}.1.json`) ? (await recorded(record, 1)).request : undefined).toBeUndefined();
    expect(readdirSync(join(options.settings.var_dir, 'sessions'))).toEqual([]);
  }, 30_000);

  it('holds stdin open until stopped, then closes it and ends the session', async () => {
    const { record, options } = await setUp(`
      log('INFO', 'Restore mode active on port ' + port + '.  Good luck.');
      await waitForEof();
      process.exit(0);`);
    const stop = new AbortController();
    const session = runStorageSession({ ...options, stop: stop.signal, graceMs: 5000 });
    // Let the fake take the request first (however long a busy machine takes to start it).
    for (const deadline = Date.now() + 30_000; !existsSync(`${record}.1.json`);) {
      if (Date.now() > deadline) throw new Error('the fake storage never took the request');
      await new Promise((r) => setTimeout(r, 20));
    }
    stop.abort();
    const result = await session;
    expect(result).toMatchObject({ exitCode: 0, stopped: true });
    expect((await recorded(record, 1)).eof).toBe(true);
  }, 20_000);
});

test('the allowance is used up, each port once, before the range; without one, the range', () => {
  const log = memoryLog();
  const choose = tunnelPortChooser({ name: 's', tunnel_ports: [50001, 50002, 50003] }, { min: 60000, max: 60000 }, log);
  expect(new Set([choose(), choose(), choose()])).toEqual(new Set([50001, 50002, 50003]));
  expect(choose()).toBe(60000);
  const plain = tunnelPortChooser({ name: 's' }, { min: 60001, max: 60001 }, log);
  expect(plain()).toBe(60001);
  expect(log.lines.join('')).toContain('Tunnel port for storage s: from tunnel_ports 60001-60001 (no allowance)');
});

test('retries draw ports not tried yet while the range has any', () => {
  const choose = untriedPortIn({ min: 60000, max: 60002 });
  expect(new Set([choose(), choose(), choose()])).toEqual(new Set([60000, 60001, 60002]));
  expect(choose()).toBeGreaterThanOrEqual(60000);
});
