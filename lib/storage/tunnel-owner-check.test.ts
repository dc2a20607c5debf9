import type { ProcessResult } from '../common/process.js';
import { parsePortLines, tunnelOwnerProblem, type TunnelOwnerProbe } from './tunnel-owner-check.js';

const COMMAND = ['sudo', '-n', '/usr/local/bin/turku-storage-tunnel-owner'];

function result(partial: Partial<ProcessResult>): ProcessResult {
  return { exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...partial };
}

/** A probe whose own reading and helper answer are given; it records what it ran. */
function probe(uid: number, ownPorts: number[], helper: ProcessResult) {
  const ran: (readonly string[])[] = [];
  const value: TunnelOwnerProbe = {
    uid,
    ownPorts: () => Promise.resolve(ownPorts),
    run: (argv) => {
      ran.push(argv);
      return Promise.resolve(helper);
    },
  };
  return { value, ran };
}

test("the helper's output is one port per line, nothing else", () => {
  expect(parsePortLines('')).toEqual([]);
  expect(parsePortLines('22\n49153\n')).toEqual([22, 49153]);
  expect(parsePortLines('65535\n')).toEqual([65535]);
  for (const bad of ['65536\n', '0\n', '022\n', 'port 22\n', '22 \n', '-1\n', '1e3\n']) {
    expect([bad, parsePortLines(bad)]).toEqual([bad, undefined]);
  }
});

test('as root the ancestors are read directly and no helper runs', async () => {
  const owned = probe(0, [49153], result({ stdout: '' }));
  expect(await tunnelOwnerProblem(49153, COMMAND, owned.value)).toBeUndefined();
  expect(await tunnelOwnerProblem(49154, COMMAND, owned.value)).toBe(
    'Tunnel on port 49154 is not owned by this session',
  );
  expect(owned.ran).toEqual([]);
});

test('any other account asks the helper, and trusts only a port it lists', async () => {
  const asked = probe(995, [49153], result({ stdout: '2222\n49153\n' }));
  expect(await tunnelOwnerProblem(49153, COMMAND, asked.value)).toBeUndefined();
  expect(await tunnelOwnerProblem(2223, COMMAND, asked.value)).toBe('Tunnel on port 2223 is not owned by this session');
  expect(asked.ran).toEqual([COMMAND, COMMAND]);
});

test('a helper that fails or answers nonsense refuses the tunnel, saying why', async () => {
  const sudo = probe(995, [], result({ exitCode: 1, stderr: 'sudo: a password is required\n' }));
  expect(await tunnelOwnerProblem(49153, COMMAND, sudo.value)).toBe(
    `Cannot check who owns the tunnel on port 49153: ${COMMAND.join(' ')}: sudo: a password is required`,
  );
  const missing = Object.assign(new Error('spawn sudo ENOENT'), { code: 'ENOENT' });
  const noSudo = probe(995, [], result({ exitCode: null, startError: missing }));
  expect(await tunnelOwnerProblem(49153, COMMAND, noSudo.value)).toBe(
    `Cannot check who owns the tunnel on port 49153: ${COMMAND.join(' ')}: spawn sudo ENOENT`,
  );
  const slow = probe(995, [], result({ exitCode: null, signal: 'SIGKILL', timedOut: true }));
  expect(await tunnelOwnerProblem(49153, COMMAND, slow.value)).toMatch(/: no answer within 20 s$/);
  const garbled = probe(995, [], result({ stdout: '49153 maybe\n' }));
  expect(await tunnelOwnerProblem(49153, COMMAND, garbled.value)).toBe(
    `Cannot check who owns the tunnel on port 49153: ${COMMAND.join(' ')}: unexpected output`,
  );
});
