// The tunnel owner check as a real storage runs it: a real sshd, a NON-ROOT login account (a
// throwaway system user made here, as the storage charm makes turku-ping), a forced command that
// runs the check as turku-storage-ping does (tunnelOwnerProblem with sudo and the real
// turku-storage-tunnel-owner), and the sudoers rule the charm installs. sshd's session process
// changed its uid, so the kernel made it non-dumpable and the account cannot read its
// descriptors itself: the direct reading fails, the helper through sudo must not.
import { jest } from '@jest/globals';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';

import { DIST_DIR, freePort, waitForPort } from '../../tests/support/processes.js';
import { makeTestRoot, startSshd, type Sshd, type TestRoot } from '../../tests/support/sshd.js';
import { tunnelOwnerSudoers } from './tunnel-owner-sudoers.js';

jest.setTimeout(60_000);

const USER = `tko${process.pid % 1_000_000}`;
const SUDOERS = `/etc/sudoers.d/turku-e2e-${USER}`;

let root: TestRoot;
let sshd: Sshd;
let clientKey: string;
let knownHosts: string;
let userMade = false;
/** Processes the tests started (logins holding tunnels, listeners), ended after them. */
const sessions: (PromiseLike<unknown> & { kill(signal: NodeJS.Signals): boolean })[] = [];

/** What the forced command prints: its uid, the check's verdict, and the direct reading. */
interface Verdict {
  readonly uid: number;
  readonly problem: string | null;
  readonly host: string | null;
  readonly direct: boolean;
  readonly sudoWithArgument: number;
}

beforeAll(async () => {
  if ((await execa('sh', ['-c', 'command -v sudo visudo'], { reject: false })).exitCode !== 0) {
    throw new Error('sudo is not installed (scripts/setup installs it): the check needs it for a non-root account');
  }
  root = await makeTestRoot('tunnel-owner');
  const home = join(root.path, 'home');
  await execa('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '-p', '*', USER]);
  userMade = true;
  await mkdir(home, { mode: 0o755 });
  const ids = (await execa('id', ['-u', USER])).stdout.trim();
  await chown(home, Number(ids), Number(ids));

  // The helper as the charm puts it on PATH: a root-owned sh wrapper running the program.
  const helper = join(root.path, 'bin', 'turku-storage-tunnel-owner');
  await mkdir(join(root.path, 'bin'), { mode: 0o755 });
  const program = join(DIST_DIR, 'lib/storage/tunnel-owner-main.js');
  await writeFile(helper, `#!/bin/sh\nexec '${process.execPath}' '${program}' "$@"\n`, { mode: 0o755 });
  const candidate = join(root.path, 'sudoers');
  await writeFile(candidate, tunnelOwnerSudoers(USER, helper), { mode: 0o440 });
  await execa('visudo', ['-c', '-q', '-f', candidate]);
  await writeFile(SUDOERS, tunnelOwnerSudoers(USER, helper), { mode: 0o440 });

  // The forced command: the check turku-storage-ping makes, for the port the client names.
  const probe = join(root.path, 'probe.mjs');
  await writeFile(
    probe,
    [
      `import { checkTunnelOwner } from '${join(DIST_DIR, 'lib/storage/tunnel-owner-check.js')}';`,
      `import { tunnelOwnedByAncestor } from '${join(DIST_DIR, 'lib/storage/tunnel-owner.js')}';`,
      `import { spawnSync } from 'node:child_process';`,
      'const port = Number(process.env.SSH_ORIGINAL_COMMAND);',
      `const verdict = await checkTunnelOwner(port, ['sudo', '-n', '${helper}']);`,
      'const direct = await tunnelOwnedByAncestor(port);',
      `const sudoWithArgument = spawnSync('sudo', ['-n', '${helper}', String(port)]).status;`,
      'const { problem = null, host = null } = { ...verdict };',
      'process.stdout.write(JSON.stringify({ uid: process.getuid(), problem, host, direct, sudoWithArgument }));',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  clientKey = join(root.path, 'client_key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'agent', '-f', clientKey], { stdin: 'ignore' });
  const publicKey = (await execa('cat', [`${clientKey}.pub`])).stdout.trim();
  const authorizedKeys = join(root.path, 'keys', 'authorized_keys');
  await mkdir(join(root.path, 'keys'), { mode: 0o755 });
  const options = `restrict,port-forwarding,permitlisten="localhost:*",command="${process.execPath} ${probe}"`;
  await writeFile(authorizedKeys, `${options} ${publicKey}\n`, { mode: 0o644 });

  sshd = await startSshd({
    dir: join(root.path, 'sshd'),
    listenAddress: '127.0.0.1',
    authorizedKeysFile: authorizedKeys,
    pingUser: USER,
  });
  knownHosts = join(root.path, 'known_hosts');
  await writeFile(knownHosts, sshd.knownHosts('127.0.0.1'));
});

afterAll(async () => {
  for (const session of sessions) session.kill('SIGTERM');
  await Promise.allSettled(sessions);
  await sshd?.stop();
  await rm(SUDOERS, { force: true });
  if (userMade) await execa('userdel', [USER], { reject: false });
  await root?.cleanup();
});

function sshArgv(extra: readonly string[]): string[] {
  return [
    '-i',
    clientKey,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'ExitOnForwardFailure=yes',
    '-p',
    String(sshd.port),
    ...extra,
  ];
}

/** One login with a tunnel on `tunnelPort`, whose forced command checks `checkedPort`. */
async function check(tunnelPort: number, checkedPort: number): Promise<Verdict> {
  const argv = sshArgv(['-R', `${tunnelPort}:127.0.0.1:9`, `${USER}@127.0.0.1`, String(checkedPort)]);
  const result = await execa('ssh', argv, { reject: false, stdin: 'ignore' });
  expect([result.exitCode, result.stderr]).toEqual([0, '']);
  return JSON.parse(result.stdout) as Verdict;
}

test("the account's own tunnel passes, though the account cannot read its sshd session itself", async () => {
  const port = await freePort();
  const verdict = await check(port, port);
  expect(verdict.uid).not.toBe(0);
  expect(verdict.problem).toBeNull();
  expect(verdict.host).toBe('127.0.0.1');
  // Why the helper is needed: the direct reading sees no ancestor holding the port.
  expect(verdict.direct).toBe(false);
  // The sudoers rule allows the helper without arguments only.
  expect(verdict.sudoWithArgument).not.toBe(0);
});

test('a port another process listens on is refused', async () => {
  // A process of its own: this test process is sshd's parent, so an ancestor of every session.
  const listener = execa(
    process.execPath,
    ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>console.log(s.address().port))"],
    { reject: false, stdin: 'ignore' },
  );
  sessions.push(listener);
  const squatted = await new Promise<number>((resolve) =>
    listener.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  const verdict = await check(await freePort(), squatted);
  expect(verdict.problem).toBe(`Tunnel on port ${squatted} is not owned by this session`);
});

test("another session's tunnel, held by the same account, is refused", async () => {
  // A second login of the same account holds its tunnel without running the forced command.
  const other = await freePort();
  const holder = execa('ssh', sshArgv(['-N', '-R', `${other}:127.0.0.1:9`, `${USER}@127.0.0.1`]), {
    reject: false,
    stdin: 'ignore',
  });
  sessions.push(holder);
  await waitForPort('127.0.0.1', other, 15_000, { exited: holder });
  const verdict = await check(await freePort(), other);
  expect(verdict.problem).toBe(`Tunnel on port ${other} is not owned by this session`);
});

test("a tunnel port that is a source port of the storage's own connection is bound on ::1 only, and passes there", async () => {
  // What a busy storage meets: its rsyncs pulling through other tunnels connect from source ports
  // of the range the agents draw tunnel ports from. sshd then fails to bind 127.0.0.1:<port>, binds
  // [::1]:<port>, and calls the forward a success.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  try {
    const port = client.localPort!;
    const verdict = await check(port, port);
    expect(verdict.problem).toBeNull();
    expect(verdict.host).toBe('::1');
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
