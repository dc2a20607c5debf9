import { jest } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

import { MAX_REQUEST_BYTES } from '../../lib/storage/stdin-frame.js';
import { UNUSED_CONNECTION_TIMEOUT_SECONDS } from '../../lib/storage/sshd-settings.js';
import {
  createWorld,
  DIST,
  type AgentUnit,
  type RunResult,
  type StorageUnit,
  type World,
} from '../support/datapath-world.js';
import { startSshd, type Sshd } from '../support/sshd.js';

/**
 * Issue 17, the storage's SSH door (items 1 to 3): what an agent's key can do to its storage with
 * the real ssh client from the agent's machine, against a real sshd with the storages' settings
 * (lib/storage/sshd-settings.ts) and the real forced command. What security.test.ts already
 * shows (no shell or pty, no -L/-D/-W, no -R off loopback) is not repeated here.
 */

jest.setTimeout(180_000);

/** The forced command's request timeout here: short, so an idle login is seen refused. */
const REQUEST_TIMEOUT_SECONDS = 3;
/** What a `-N` login is given on the second sshd before it is closed. */
const SHORT_UNUSED_SECONDS = 4;

let world: World;
let storage: StorageUnit;
let alice: AgentUnit;

beforeAll(async () => {
  world = await createWorld('probe-ssh-door');
  storage = await world.addStorage('primary', { ping_request_timeout: REQUEST_TIMEOUT_SECONDS });
  alice = await world.addAgent('alice');
  const data = join(world.root, 'ledger');
  await mkdir(data, { recursive: true });
  await writeFile(join(data, 'entry'), 'one\n');
  await alice.setSources({ ledger: { path: data } });
  expect((await storage.updateConfig()).exitCode).toBe(0);
  expect((await alice.updateConfig()).exitCode).toBe(0);
  expect((await storage.updateConfig()).exitCode).toBe(0);
  const knownHosts = storage.sshd.hostPublicKeys.map((key) => `${world.hostAddress} ${key}\n`).join('');
  await mkdir(alice.varDir, { recursive: true });
  await writeFile(join(alice.varDir, 'test_known_hosts'), knownHosts);
});
afterAll(() => world?.destroy());

/** The real ssh client's argv on the agent's machine, with the agent's key and the pinned host key. */
function sshArgv(server: Pick<Sshd, 'port'>, args: readonly string[]): string[] {
  return [
    'ssh',
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${join(alice.varDir, 'test_known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-i',
    join(alice.varDir, 'ssh_key'),
    '-p',
    String(server.port),
    '-l',
    'root',
    ...args,
  ];
}

async function sshAs(args: readonly string[], options: { input?: string; timeout?: number } = {}): Promise<RunResult> {
  const result = await alice.host.exec(sshArgv(storage.sshd, args), {
    input: options.input ?? '',
    timeout: options.timeout ?? 30_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** One line of figures in the test output (they go into issue 17's closing note). */
function report(line: string): void {
  // eslint-disable-next-line no-console -- the figures belong in the test output
  console.log(line);
}

/** The process's result, or 'still connected' when it has not exited within `ms`. */
async function exitWithin<T>(process: Promise<T>, ms: number): Promise<T | 'still connected'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'still connected'>(
    (resolve) => (timer = setTimeout(() => resolve('still connected'), ms)),
  );
  try {
    return await Promise.race([process, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether something listens on the storage's loopback `port` (ss, without connecting to it). */
async function isListening(port: number): Promise<boolean> {
  const { stdout } = await execa('ss', ['-Hltn', `sport = :${port}`], { reject: false });
  return stdout.trim() !== '';
}

/** `sshd -T` for a login as `user` from the agent's address: the server's effective settings. */
async function effectiveSettings(configFile: string, user: string): Promise<Record<string, string>> {
  const { stdout } = await execa('/usr/sbin/sshd', [
    '-T',
    '-f',
    configFile,
    '-C',
    `user=${user},host=agent,addr=${alice.host.nsAddress}`,
  ]);
  return Object.fromEntries(stdout.split('\n').map((line) => [line.split(' ')[0]!, line.slice(line.indexOf(' ') + 1)]));
}

test('item 1: the running storage sshd denies every forwarding kind but remote TCP on loopback (sshd -T)', async () => {
  expect(await effectiveSettings(storage.sshd.configFile, 'root')).toMatchObject({
    allowtcpforwarding: 'remote',
    permitlisten: 'localhost:* 127.0.0.1:*',
    permitopen: 'none',
    allowstreamlocalforwarding: 'no',
    allowagentforwarding: 'no',
    x11forwarding: 'no',
    permittunnel: 'no',
    gatewayports: 'no',
    unusedconnectiontimeout: String(UNUSED_CONNECTION_TIMEOUT_SECONDS),
  });
  expect(await effectiveSettings(storage.sshd.configFile, 'nobody')).toMatchObject({
    allowtcpforwarding: 'no',
    allowstreamlocalforwarding: 'no',
  });
});

test('item 1: `ssh -N -R <path>.sock:127.0.0.1:22` is refused and no socket appears', async () => {
  const paths = [join(world.root, 'stolen.sock'), `/tmp/turku-probe-${process.pid}.sock`];
  try {
    for (const path of paths) {
      const attempt = await sshAs([
        '-N',
        '-o',
        'ExitOnForwardFailure=yes',
        '-R',
        `${path}:127.0.0.1:22`,
        world.hostAddress,
      ]);
      expect(attempt.exitCode).toBe(255);
      expect(attempt.stderr).toContain(`remote port forwarding failed for listen path ${path}`);
      expect(existsSync(path)).toBe(false);
    }
    // Nor alongside the forced command's session.
    const withSession = await sshAs(['-T', '-R', `${paths[0]!}:127.0.0.1:22`, world.hostAddress], { input: '' });
    expect(withSession.stderr).toContain('remote port forwarding failed');
    expect(existsSync(paths[0]!)).toBe(false);
  } finally {
    for (const path of paths) await rm(path, { force: true });
  }
});

test('item 2 (sshd half): a `-N -R` login that never opens a session is closed after UnusedConnectionTimeout', async () => {
  // A second sshd with the storages' settings but a short timeout, on the same authorized_keys.
  const authorizedKeysFile = join(storage.dir, 'ssh', 'authorized_keys');
  const short = await startSshd({
    dir: join(storage.dir, 'sshd-short-unused'),
    hostKeyDir: join(storage.dir, 'sshd'),
    listenAddress: world.hostAddress,
    authorizedKeysFile,
    unusedConnectionTimeoutSeconds: SHORT_UNUSED_SECONDS,
  });
  try {
    const port = 62000 + (process.pid % 1000);
    const started = Date.now();
    // No ExitOnForwardFailure: the login stays whether or not this port is the machine's to listen on.
    const login = alice.host.spawn(sshArgv(short, ['-N', '-R', `${port}:127.0.0.1:1`, world.hostAddress]), {
      stdin: 'ignore',
    });
    // Watched with ss, not by connecting: a connection would be a channel, and keep the login in use.
    let sawListener = false;
    const poll = setInterval(() => {
      void isListening(port).then((up) => (sawListener ||= up));
    }, 250);
    const result = await exitWithin(login, 60_000);
    clearInterval(poll);
    const seconds = (Date.now() - started) / 1000;
    if (result === 'still connected') {
      login.kill('SIGKILL');
      report(`sshd log:\n${short.logs().slice(-3000)}`);
    }
    report(
      `item 2: a -N -R login was closed by sshd after ${seconds.toFixed(1)} s (UnusedConnectionTimeout ${SHORT_UNUSED_SECONDS} s; ` +
        `its listener ${sawListener ? 'was up, then' : 'was never'} seen)`,
    );
    expect(result).not.toBe('still connected');
    expect(seconds).toBeGreaterThanOrEqual(SHORT_UNUSED_SECONDS - 1);
    expect(await isListening(port)).toBe(false);
  } finally {
    await short.stop();
  }
});

test('item 3: 60 MB on stdin without the terminator is refused at once, in bounded memory', async () => {
  // The forced command under /usr/bin/time, for its peak resident memory and duration.
  const figures = join(storage.dir, 'ping-time.txt');
  await rm(figures, { force: true });
  const ping = `${process.execPath} ${join(DIST, 'storage', 'ping-main.js')} --config-dir ${storage.configDir}`;
  await storage.configure({
    ping_request_timeout: REQUEST_TIMEOUT_SECONDS,
    authorized_keys_command: `/usr/bin/time -f '%M %e' -o ${figures} ${ping}`,
  });
  expect((await storage.updateConfig()).exitCode).toBe(0);
  try {
    const bytes = 60_000_000;
    const started = Date.now();
    const ssh = sshArgv(storage.sshd, ['-T', world.hostAddress])
      .map((word) => `'${word}'`)
      .join(' ');
    const result = await alice.host.exec(['bash', '-c', `head -c ${bytes} /dev/zero | tr '\\0' a | ${ssh}`], {
      timeout: 120_000,
    });
    const seconds = (Date.now() - started) / 1000;
    const [maxRssKiB, elapsed] = (await readFile(figures, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
    // The same program doing nothing (--help), for what Node and its modules take anyway.
    const idle = await execa('/usr/bin/time', [
      '-f',
      '%M',
      process.execPath,
      join(DIST, 'storage', 'ping-main.js'),
      '--help',
    ]);
    const baselineKiB = Number(idle.stderr.trim().split('\n').pop());
    report(
      `item 3: 60 MB without terminator: refused after ${seconds.toFixed(1)} s (forced command ran ${elapsed!.toFixed(2)} s), ` +
        `peak RSS of the forced command ${(maxRssKiB! / 1024).toFixed(1)} MiB (the program printing --help: ${(baselineKiB / 1024).toFixed(1)} MiB)`,
    );
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toContain(`request refused: over ${MAX_REQUEST_BYTES} bytes`);
    expect(String(result.stderr).trim().split('\n')).toHaveLength(1);
    expect(maxRssKiB! / 1024).toBeLessThan(100);
    expect((maxRssKiB! - baselineKiB) / 1024).toBeLessThan(20);
    expect(seconds).toBeLessThan(15);
    expect(await storage.localLog()).toContain(`request refused: over ${MAX_REQUEST_BYTES} bytes`);
  } finally {
    await storage.configure({ ping_request_timeout: REQUEST_TIMEOUT_SECONDS });
    expect((await storage.updateConfig()).exitCode).toBe(0);
  }
});

test('item 3: a login that sends nothing is refused after the request timeout and its session ends', async () => {
  const started = Date.now();
  // stdin stays open and empty: the agent's side of an idle login.
  const login = alice.host.spawn(sshArgv(storage.sshd, ['-T', world.hostAddress]), { stdin: 'pipe' });
  const result = await exitWithin(login, 60_000);
  const seconds = (Date.now() - started) / 1000;
  if (result === 'still connected') login.kill('SIGKILL');
  login.stdin?.destroy();
  report(
    `item 3: an idle login was refused and closed after ${seconds.toFixed(1)} s (timeout ${REQUEST_TIMEOUT_SECONDS} s)`,
  );
  expect(result).not.toBe('still connected');
  if (result === 'still connected') return;
  expect(result.exitCode).toBe(1);
  expect(String(result.stderr).trim()).toMatch(
    new RegExp(`request refused: not complete within ${REQUEST_TIMEOUT_SECONDS} s \\(0 bytes received\\)$`),
  );
  expect(seconds).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_SECONDS);
});
