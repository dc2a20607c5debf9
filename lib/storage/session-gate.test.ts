import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseBusyLine, STORAGE_BUSY_EXIT } from '../turku/protocol/storage-busy.js';
import { buildAuthorizedKeys } from './authorized-keys.js';
import { gatedCommand, sessionGate, type SessionGate } from './session-gate.js';

/**
 * The session gate's sh text, run by the shells a ping user may have (dash, bash) with the real
 * flock(1), as sshd runs a forced command (`<shell> -c <command>`); the path through a real sshd
 * is in tests/e2e/session-gate.test.ts.
 */

const SHELLS = ['dash', 'bash'] as const;
const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
let root: string;
/** Every shell started, ended after each test even when it failed midway. */
const live: ChildProcess[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'turku-gate-'));
});
afterEach(async () => {
  for (const child of live.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

interface Ended {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Started {
  /** Resolves once the gated program has started (it printed "started"), or the gate ended. */
  readonly started: Promise<boolean>;
  readonly ended: Promise<Ended>;
  /** Ends the program (a `read` on its stdin) by closing its stdin. */
  finish(): void;
}

/** A stand-in for turku-storage-ping: prints "started", then waits until its stdin closes. */
const PROGRAM = 'echo started; read -r _ignored || true; echo';

function runGated(shell: string, gate: SessionGate, env: Record<string, string> = {}, program = PROGRAM): Started {
  const child = spawn(shell, ['-c', gatedCommand(gate, `sh -c '${program}' ${UUID}`)], {
    // HOME without a .bashrc: bash reads it when its stdin is a socket, as under sshd (and jest).
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ended = new Promise<Ended>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const started = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('started')) resolve(true);
    });
    void ended.then(() => resolve(false));
  });
  return { started, ended, finish: () => child.stdin.end() };
}

function gateIn(dir: string, settings: { max_concurrent_backups: number; max_waiting_backups: number }): SessionGate {
  return sessionGate({ lock_dir: dir, ...settings });
}

describe.each(SHELLS)('under %s', (shell) => {
  test('starts the program in at most slots + waiting places + 2 sessions, and answers busy itself after that', async () => {
    const gate = gateIn(root, { max_concurrent_backups: 1, max_waiting_backups: 1 });
    await mkdir(gate.dir, { recursive: true });
    expect(gate.places).toBe(4);
    const sessions = Array.from({ length: 6 }, () => runGated(shell, gate));
    const started = await Promise.all(sessions.map((session) => session.started));
    expect(started.filter(Boolean)).toHaveLength(4);
    const refused = await Promise.all(sessions.filter((_, k) => !started[k]).map((session) => session.ended));
    for (const answer of refused) {
      expect(answer.code).toBe(STORAGE_BUSY_EXIT);
      // Before any session has ended: 2 s a session, for the one waiting place's wave and its own
      // turn, and up to a second of spread so that the refused do not all come back at once.
      const busy = parseBusyLine(answer.stdout);
      expect(busy).toMatchObject({ version: 1, running: 1, limit: 1 });
      expect([4, 5]).toContain(busy!.retry_after);
      expect(answer.stderr).toBe(
        `turku-storage: busy, all 4 session places are taken; try again in ${busy!.retry_after} s\n`,
      );
    }
    // A place frees when its program ends, and the next session gets it.
    sessions[started.indexOf(true)]!.finish();
    await sessions[started.indexOf(true)]!.ended;
    const next = runGated(shell, gate);
    expect(await next.started).toBe(true);
    next.finish();
    for (const session of sessions) session.finish();
    await Promise.all(sessions.map((session) => session.ended));
    await next.ended;
  });

  test('a place held by a program killed outright (SIGKILL) is free again', async () => {
    const gate = gateIn(root, { max_concurrent_backups: 1, max_waiting_backups: 0 });
    await mkdir(gate.dir, { recursive: true });
    const program = `echo started; kill -KILL $$`;
    for (let k = 0; k < gate.places + 2; k++) {
      const session = runGated(shell, gate, {}, program);
      expect(await session.started).toBe(true);
      expect((await session.ended).code).not.toBe(STORAGE_BUSY_EXIT);
    }
  });

  test('the suggested wait follows the recent sessions’ length', async () => {
    const gate = gateIn(root, { max_concurrent_backups: 2, max_waiting_backups: 4 });
    await mkdir(gate.dir, { recursive: true });
    await writeFile(join(gate.dir, 'session-seconds'), '6.700\n');
    const holders = Array.from({ length: gate.places }, () => runGated(shell, gate));
    expect(await Promise.all(holders.map((holder) => holder.started))).toEqual(holders.map(() => true));
    const refused = await runGated(shell, gate).ended;
    // 7 s sessions (rounded up), three waves (the four waiting places over two slots, and its own),
    // plus less than one session of spread.
    const { retry_after: wait } = parseBusyLine(refused.stdout)!;
    expect(wait).toBeGreaterThanOrEqual(21);
    expect(wait).toBeLessThan(28);
    // A damaged record is ignored, not fatal to the shell: the first session's 2 s then, 3 waves.
    for (const damage of ['x9$(reboot)\n', '99999999999999999999999\n', '-5\n']) {
      await writeFile(join(gate.dir, 'session-seconds'), damage);
      const damaged = await runGated(shell, gate).ended;
      expect(damaged.code).toBe(STORAGE_BUSY_EXIT);
      expect([6, 7]).toContain(parseBusyLine(damaged.stdout)?.retry_after);
    }
    for (const holder of holders) holder.finish();
    await Promise.all(holders.map((holder) => holder.ended));
  });

  test('restores have places of their own when backups hold all of theirs', async () => {
    const gate = gateIn(root, { max_concurrent_backups: 1, max_waiting_backups: 0 });
    await mkdir(gate.dir, { recursive: true });
    const backups = Array.from({ length: gate.places }, () => runGated(shell, gate));
    expect(await Promise.all(backups.map((session) => session.started))).toEqual(backups.map(() => true));
    expect((await runGated(shell, gate).ended).code).toBe(STORAGE_BUSY_EXIT);
    const restore = { SSH_ORIGINAL_COMMAND: 'turku-ping-remote restore' };
    const restores = Array.from({ length: gate.restorePlaces }, () => runGated(shell, gate, restore));
    expect(await Promise.all(restores.map((session) => session.started))).toEqual(restores.map(() => true));
    // A client that claims to restore is bounded by those places too.
    expect((await runGated(shell, gate, restore).ended).code).toBe(STORAGE_BUSY_EXIT);
    // Anything else is a backup.
    expect((await runGated(shell, gate, { SSH_ORIGINAL_COMMAND: 'turku-ping-remote restore; x' }).ended).code).toBe(
      STORAGE_BUSY_EXIT,
    );
    for (const session of [...backups, ...restores]) session.finish();
    await Promise.all([...backups, ...restores].map((session) => session.ended));
  });

  test('makes its directory when it is missing (a new unit, a tmpfs lock directory after a reboot), and gates from the first session', async () => {
    const gate = gateIn(join(root, 'run', 'lock'), { max_concurrent_backups: 1, max_waiting_backups: 0 });
    expect(gate.places).toBe(3);
    const sessions = Array.from({ length: 5 }, () => runGated(shell, gate));
    const started = await Promise.all(sessions.map((session) => session.started));
    expect(started.filter(Boolean)).toHaveLength(3);
    expect((await stat(gate.dir)).mode & 0o7777).toBe(0o755);
    for (const session of sessions) session.finish();
    const ended = await Promise.all(sessions.map((session) => session.ended));
    expect(ended.filter((end) => end.code === STORAGE_BUSY_EXIT)).toHaveLength(2);
  });

  test('fails open: where its directory cannot be made, or without flock(1), the program starts', async () => {
    await writeFile(join(root, 'a-file'), '');
    const unmakeable = gateIn(join(root, 'a-file'), { max_concurrent_backups: 1, max_waiting_backups: 0 });
    const first = runGated(shell, unmakeable);
    expect(await first.started).toBe(true);
    first.finish();
    expect(await first.ended).toMatchObject({ code: 0, stderr: '' });

    const gate = gateIn(root, { max_concurrent_backups: 1, max_waiting_backups: 0 });
    await mkdir(gate.dir, { recursive: true });
    const bin = join(root, 'bin');
    await mkdir(bin);
    for (const tool of ['sh', shell]) {
      await writeFile(join(bin, tool), `#!/bin/sh\nexec /bin/${tool} "$@"\n`, { mode: 0o755 });
    }
    const noFlock = runGated(shell, gate, { PATH: bin });
    expect(await noFlock.started).toBe(true);
    noFlock.finish();
    expect((await noFlock.ended).code).toBe(0);
  });
});

test.each(SHELLS)('under %s, a command that sets a variable first still runs behind the gate', async (shell) => {
  const gate = gateIn(root, { max_concurrent_backups: 1, max_waiting_backups: 0 });
  await mkdir(gate.dir, { recursive: true });
  const child = spawn(shell, ['-c', gatedCommand(gate, `TURKU_PROBE=on sh -c 'echo "$TURKU_PROBE $0"' ${UUID}`)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root },
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect({ code, stdout }).toEqual({ code: 0, stdout: `on ${UUID}\n` });
});

test('the configured command comes last, so nothing in it can skip the gate', () => {
  const gate = gateIn('/run/lock', { max_concurrent_backups: 2, max_waiting_backups: 2 });
  const text = gatedCommand(gate, `turku-storage-ping # ${UUID}`);
  expect(text.endsWith(`; turku-storage-ping # ${UUID}`)).toBe(true);
  expect(text.indexOf('turku-storage-ping')).toBe(text.lastIndexOf('turku-storage-ping'));
});

test('authorized_keys carries the gated command with its double quotes escaped, and nothing else changes', () => {
  const gate = gateIn("/run/lock/it's", { max_concurrent_backups: 2, max_waiting_backups: 2 });
  const machines = {
    [UUID]: {
      environment_name: null,
      service_name: 'sql',
      unit_name: 'sql/2',
      comment: null,
      ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvmTnB0UVNVzUQyc7cjMmA6u1Bh5YmV+iqbfMN2aLGm turku',
      tunnel_ports: null,
    },
  };
  const input = { file: '/x/authorized_keys', command: 'turku-storage-ping', options: 'restrict', machines };
  const plain = buildAuthorizedKeys(input).text.split('\n')[2]!;
  const gated = buildAuthorizedKeys({ ...input, gate }).text.split('\n')[2]!;
  const command = /command="((?:\\"|[^"])*)" /.exec(gated)![1]!;
  expect(command.replaceAll('\\"', '"')).toBe(gatedCommand(gate, `turku-storage-ping ${UUID}`));
  expect(gated.replace(command, `turku-storage-ping ${UUID}`)).toBe(plain);
  expect(command).toContain(`g='/run/lock/it'\\''s/turku-storage-backup-slots'`);
});
