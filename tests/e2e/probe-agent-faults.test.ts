import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { listBackups } from '../../lib/api/admin/commands.js';
import { createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { describeTree } from '../support/trees.js';
import {
  namespaceProcesses,
  snapshotState as snapshotsIn,
  storagePingPid,
  storageRsyncPid,
  waitFor,
} from '../support/fault-probes.js';

/**
 * Issue 17, items 7 and 8 (faults in the middle of a backup, seen from the agent): a killed
 * turku-agent-ping must not leave its root rsync daemon, ssh tunnel or credentials behind, and
 * a backup that failed (the storage's rsync or the agent's ssh killed) must be reported as
 * failed by the agent itself: a non-zero exit, a line on stderr, and last-backups.json. Every
 * earlier snapshot stays byte-identical and the next run succeeds.
 */

jest.setTimeout(300_000);

const DATASET_FILES = 8;
const FILE_BYTES = 4 * 2 ** 20; // 32 MiB in all
const BWLIMIT_KBPS = '512';

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let uuid: string;

beforeAll(async () => {
  world = await createWorld('agentfaults');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  data = join(world.root, 'data');
  await mkdir(data, { recursive: true });
  for (let i = 0; i < DATASET_FILES; i++) await writeFile(join(data, `part-${i}.bin`), randomBytes(FILE_BYTES));
  await agent.setSources({ data: { path: data, retention: 'last 4 snapshots' } });
  expect((await storage.updateConfig()).exitCode).toBe(0);
  expect((await agent.updateConfig()).exitCode).toBe(0);
  expect((await storage.updateConfig()).exitCode).toBe(0);
  uuid = await agent.uuid();
  await world.trigger(agent, 'data');
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
});
afterAll(async () => {
  await world?.destroy();
});

test('item 7: kill -9 of turku-agent-ping mid-backup: its rsync daemon and ssh end with it, the port closes, the credentials go at the next start', async () => {
  const before = await snapshotState();
  const { ping } = await startSlowBackup();
  const daemon = (await agentProcesses()).find((process) => / --daemon /.test(process.command));
  expect(daemon).toBeDefined();
  const sessionDir = /--config=(\S+)\/rsyncd\.conf/.exec(daemon!.command)![1]!;
  const port = Number(/^port = (\d+)$/m.exec(await readFile(join(sessionDir, 'rsyncd.conf'), 'utf8'))![1]);
  expect(existsSync(join(sessionDir, 'rsyncd.secrets'))).toBe(true);
  expect(await agentPortAnswers(port)).toBe(true);

  const killedAt = Date.now();
  process.kill(ping.pid!, 'SIGKILL');
  await ping.catch(() => undefined);
  // Every process of that session (the daemon, its connection handlers, ssh) ends by itself.
  const sessionProcesses = async () =>
    (await agentProcesses()).filter((process) => process.command.includes(sessionDir));
  await waitFor(async () => (await sessionProcesses()).length === 0, 15_000).catch(() => undefined);
  const endedAfterMs = Date.now() - killedAt;
  // eslint-disable-next-line no-console -- the figure goes into the issue's closing note
  console.log(`item 7: session processes gone ${endedAfterMs} ms after kill -9 of turku-agent-ping`);
  expect(await sessionProcesses()).toEqual([]);
  expect(endedAfterMs).toBeLessThan(10_000);
  expect(await agentPortAnswers(port)).toBe(false);

  // The storage sees the tunnel close and reports the failure; no snapshot changed.
  await waitFor(async () => (await storagePing()) === undefined);
  const [report] = await listBackups(world.api.api.ctx, 1);
  expect(report).toMatchObject({ source: 'data', success: false, snapshot: null });
  expect(await snapshotState()).toEqual(before);

  // The next start (nothing due) removes what the killed run left: the credentials with it.
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  expect(existsSync(sessionDir)).toBe(false);
  await finishNormally();
});

test('item 7: a daemon an earlier run left serving (no parent-death signal) is stopped, and its files removed, at the next start', async () => {
  // As if setpriv had been missing, or the agent died between fork and prctl: a real root rsync
  // daemon serving a module from a session directory, with nothing of ours running any more.
  const sessionDir = join(agent.varDir, 'sessions', 'session-LeftOv');
  await mkdir(sessionDir, { recursive: true, mode: 0o700 });
  const port = 40_000 + Math.floor(Math.random() * 9000);
  await writeFile(join(sessionDir, 'rsyncd.secrets'), 'leftover:Zq3LeftoverPassword\n', { mode: 0o600 });
  await writeFile(
    join(sessionDir, 'rsyncd.conf'),
    `address = 127.0.0.1\nport = ${port}\nuid = root\ngid = *\nlist = false\n\n` +
      `[data]\n    path = ${data}\n    auth users = leftover\n` +
      `    secrets file = ${join(sessionDir, 'rsyncd.secrets')}\n    read only = true\n`,
    { mode: 0o600 },
  );
  // stdin not a socket (Node's pipes are), or rsync would think inetd started it.
  const daemon = agent.host.spawn(['rsync', '--no-detach', '--daemon', `--config=${join(sessionDir, 'rsyncd.conf')}`], {
    stdin: 'ignore',
  });
  daemon.catch(() => undefined);
  await waitFor(() => agentPortAnswers(port), 15_000).catch(async (error: unknown) => {
    daemon.kill('SIGKILL');
    const ended = await daemon;
    throw new Error(
      `the stand-in daemon did not start (${String(error)}): ${String(ended.stderr)} ${String(ended.stdout)}`,
    );
  });

  // A connection held open: the daemon forks a handler for it, with the daemon's command line.
  const client = agent.host.spawn(
    [process.execPath, '-e', `require('node:net').connect(${port}, '127.0.0.1'); setInterval(() => {}, 1000);`],
    { stdin: 'ignore' },
  );
  client.catch(() => undefined);
  await waitFor(async () => (await agentProcesses()).filter((p) => p.command.includes(sessionDir)).length >= 2, 15_000);

  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  client.kill('SIGKILL');
  await waitFor(async () => !(await agentPortAnswers(port)), 5_000).catch(() => undefined);
  expect(await agentPortAnswers(port)).toBe(false);
  expect((await agentProcesses()).filter((process) => process.command.includes(sessionDir))).toEqual([]);
  expect(existsSync(sessionDir)).toBe(false);
});

test('item 8: the storage rsync killed mid-transfer: the agent exits non-zero, says why, and records the failure', async () => {
  const before = await snapshotState();
  const { ping } = await startSlowBackup();
  process.kill((await storageRsync())!, 'SIGKILL');
  const ended = await ping;
  // eslint-disable-next-line no-console -- the figure goes into the issue's closing note
  console.log(`item 8 (storage rsync killed): agent exit ${ended.exitCode}; stderr tail: ${lastLines(ended.stderr)}`);
  expect(ended.exitCode).toBe(1);
  expect(String(ended.stderr)).toMatch(
    /turku-agent-ping: Storage primary: source data failed: rsync was killed by SIGKILL \(rsync exit code -9\)/,
  );
  const record = (await lastBackups()).data!;
  expect(record.last_session).toMatchObject({ storage: 'primary', ok: false, outcome: 'failed' });
  expect(record.last_session.reason).toMatch(/rsync was killed by SIGKILL/);
  expect(await snapshotState()).toEqual(before);
  await finishNormally();
});

test("item 8: the agent's ssh killed mid-transfer: the agent exits non-zero, says why, and records the failure", async () => {
  const before = await snapshotState();
  const { ping } = await startSlowBackup();
  const ssh = (await agentProcesses()).find((candidate) => / turku-ping-remote$/.test(candidate.command));
  process.kill(ssh!.pid, 'SIGKILL');
  const ended = await ping;
  // eslint-disable-next-line no-console -- the figure goes into the issue's closing note
  console.log(`item 8 (agent ssh killed): agent exit ${ended.exitCode}; stderr tail: ${lastLines(ended.stderr)}`);
  expect(ended.exitCode).toBe(1);
  expect(String(ended.stderr)).toMatch(/turku-agent-ping: Storage primary: source data failed: .*ssh/);
  const record = (await lastBackups()).data!;
  expect(record.last_session).toMatchObject({ storage: 'primary', ok: false, outcome: 'failed' });
  expect(record.last_session.reason).toMatch(/ssh/);
  await waitFor(async () => (await storagePing()) === undefined);
  expect(await snapshotState()).toEqual(before);
  await finishNormally();
});

// ---- helpers ---------------------------------------------------------------------------------

const snapshotsDir = () => join(storage.machineDir(uuid), 'data.snapshots');
const snapshotState = () => snapshotsIn(snapshotsDir());
const storagePing = () => storagePingPid(storage.configDir);
const storageRsync = () => storageRsyncPid(storage.configDir);
const agentProcesses = () => namespaceProcesses(agent.host.name);

/** A bandwidth-limited backup with one changed file; returns once the storage's rsync pulls. */
// Wrapped: an execa subprocess is a thenable, and returning it from an async function would wait for it.
async function startSlowBackup(): Promise<{ ping: ReturnType<AgentUnit['spawnPing']> }> {
  await agent.setSources({ data: { path: data, retention: 'last 4 snapshots', bwlimit: BWLIMIT_KBPS } });
  expect((await agent.updateConfig()).exitCode).toBe(0);
  await writeFile(join(data, 'part-0.bin'), randomBytes(FILE_BYTES));
  await world.trigger(agent, 'data');
  const ping = agent.spawnPing();
  ping.catch(() => undefined);
  await waitFor(async () => (await storageRsync()) !== undefined);
  // Let some data arrive first, so that the fault lands mid-transfer.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return { ping };
}

async function finishNormally(): Promise<void> {
  // An absent key keeps the API's stored value, so the limit is lifted explicitly.
  await agent.setSources({ data: { path: data, retention: 'last 4 snapshots', bwlimit: null } });
  expect((await agent.updateConfig()).exitCode).toBe(0);
  await world.trigger(agent, 'data');
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  const after = await snapshotState();
  expect(after.trees[after.latest]).toEqual(await describeTree(data));
  expect((await lastBackups()).data!.last_session).toMatchObject({ ok: true, outcome: 'ok' });
}

interface SessionRecord {
  time: string;
  storage: string;
  ok: boolean;
  outcome?: string;
  reason?: string;
}

async function lastBackups(): Promise<Record<string, { last_session: SessionRecord; last_success: string | null }>> {
  const text = await readFile(join(agent.varDir, 'last-backups.json'), 'utf8');
  return (JSON.parse(text) as { sources: Record<string, { last_session: SessionRecord; last_success: string | null }> })
    .sources;
}

function lastLines(text: unknown): string {
  return String(text).trim().split('\n').slice(-3).join(' | ');
}

/** Whether something accepts connections on 127.0.0.1:port inside the agent's namespace. */
async function agentPortAnswers(port: number): Promise<boolean> {
  const script =
    `const s = require('node:net').connect(${port}, '127.0.0.1');` +
    `s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(1));`;
  const result = await agent.host.exec([process.execPath, '-e', script], { timeout: 10_000 });
  return result.exitCode === 0;
}
