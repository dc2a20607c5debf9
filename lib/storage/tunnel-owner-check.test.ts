import type { ProcessResult } from '../common/process.js';
import { checkTunnelOwner, formatTunnelLines, parseTunnelLines, type TunnelOwnerProbe } from './tunnel-owner-check.js';
import type { HeldTunnel } from './tunnel-owner.js';

const COMMAND = ['sudo', '-n', '/usr/local/bin/turku-storage-tunnel-owner'];

function result(partial: Partial<ProcessResult>): ProcessResult {
  return { exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...partial };
}

/** A probe whose own reading and helper answer are given; it records what it ran. */
function probe(uid: number, ownTunnels: HeldTunnel[], helper: ProcessResult) {
  const ran: (readonly string[])[] = [];
  const value: TunnelOwnerProbe = {
    uid,
    ownTunnels: () => Promise.resolve(ownTunnels),
    run: (argv) => {
      ran.push(argv);
      return Promise.resolve(helper);
    },
  };
  return { value, ran };
}

const v4 = (port: number): HeldTunnel => ({ port, host: '127.0.0.1' });
const v6 = (port: number): HeldTunnel => ({ port, host: '::1' });

test("the helper's output is one tunnel per line: a port on 127.0.0.1, [::1]:port on ::1 only, nothing else", () => {
  expect(parseTunnelLines('')).toEqual([]);
  expect(parseTunnelLines('22\n49153\n')).toEqual([v4(22), v4(49153)]);
  expect(parseTunnelLines('65535\n[::1]:54044\n')).toEqual([v4(65535), v6(54044)]);
  const bad = ['65536\n', '0\n', '022\n', 'port 22\n', '22 \n', '-1\n', '1e3\n', '[::2]:22\n', '::1:22\n', '[::1]:0\n'];
  for (const line of bad) expect([line, parseTunnelLines(line)]).toEqual([line, undefined]);
  // What the helper prints is what the check reads back.
  const tunnels = [v4(22), v6(54044), v4(60000)];
  expect(formatTunnelLines(tunnels)).toBe('22\n[::1]:54044\n60000\n');
  expect(parseTunnelLines(formatTunnelLines(tunnels))).toEqual(tunnels);
});

test('as root the ancestors are read directly and no helper runs', async () => {
  const owned = probe(0, [v4(49153), v6(49155)], result({ stdout: '' }));
  expect(await checkTunnelOwner(49153, COMMAND, owned.value)).toEqual({ host: '127.0.0.1' });
  expect(await checkTunnelOwner(49155, COMMAND, owned.value)).toEqual({ host: '::1' });
  expect(await checkTunnelOwner(49154, COMMAND, owned.value)).toEqual({
    problem: 'Tunnel on port 49154 is not owned by this session',
  });
  expect(owned.ran).toEqual([]);
});

test('any other account asks the helper, and trusts only a port it lists', async () => {
  const asked = probe(995, [v4(49153)], result({ stdout: '2222\n49153\n[::1]:49155\n' }));
  expect(await checkTunnelOwner(49153, COMMAND, asked.value)).toEqual({ host: '127.0.0.1' });
  expect(await checkTunnelOwner(49155, COMMAND, asked.value)).toEqual({ host: '::1' });
  expect(await checkTunnelOwner(2223, COMMAND, asked.value)).toEqual({
    problem: 'Tunnel on port 2223 is not owned by this session',
  });
  expect(asked.ran).toEqual([COMMAND, COMMAND, COMMAND]);
});

test('a helper that fails or answers nonsense refuses the tunnel, saying why', async () => {
  const sudo = probe(995, [], result({ exitCode: 1, stderr: 'sudo: a password is required\n' }));
  expect(await checkTunnelOwner(49153, COMMAND, sudo.value)).toEqual({
    problem: `Cannot check who owns the tunnel on port 49153: ${COMMAND.join(' ')}: sudo: a password is required`,
  });
  const missing = Object.assign(new Error('spawn sudo ENOENT'), { code: 'ENOENT' });
  const noSudo = probe(995, [], result({ exitCode: null, startError: missing }));
  expect(await checkTunnelOwner(49153, COMMAND, noSudo.value)).toEqual({
    problem: `Cannot check who owns the tunnel on port 49153: ${COMMAND.join(' ')}: spawn sudo ENOENT`,
  });
  const slow = probe(995, [], result({ exitCode: null, signal: 'SIGKILL', timedOut: true }));
  expect(await checkTunnelOwner(49153, COMMAND, slow.value)).toEqual({
    problem: expect.stringMatching(/: no answer within 20 s$/),
  });
  const garbled = probe(995, [], result({ stdout: '49153 maybe\n' }));
  expect(await checkTunnelOwner(49153, COMMAND, garbled.value)).toEqual({
    problem: `Cannot check who owns the tunnel on port 49153: ${COMMAND.join(' ')}: unexpected output`,
  });
});
