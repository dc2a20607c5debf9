import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

import { execa } from 'execa';

import { listBackups } from '../../lib/api/admin/commands.js';
import { Store } from '../../lib/api/store.js';
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
 * Faults on the data path, with real processes: transfers killed half-way, a full volume, and
 * the API or the storage out of reach. A failed run must leave every earlier snapshot and
 * `latest` as they were, and the next run must complete.
 */

jest.setTimeout(180_000);

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let uuid: string;

beforeAll(async () => {
  world = await createWorld('faults');
  storage = await world.addStorage('primary');
  // A small volume of its own, so that filling it up harms nothing else.
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', storage.volume]);
  agent = await world.addAgent('db');
  data = join(world.root, 'data');
  await execa('mkdir', ['-p', data]);
  await writeFile(join(data, 'table.db'), randomBytes(2 * 2 ** 20));
  await writeFile(join(data, 'small.txt'), 'small\n');
  await agent.setSources({ data: { path: data, retention: 'last 10 snapshots' } });
  expect((await storage.updateConfig()).exitCode).toBe(0);
  expect((await agent.updateConfig()).exitCode).toBe(0);
  expect((await storage.updateConfig()).exitCode).toBe(0);
  uuid = await agent.uuid();
  await world.trigger(agent, 'data');
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
});
afterAll(async () => {
  await execa('umount', ['-l', storage.volume], { reject: false });
  await world?.destroy();
});

const snapshotsDir = () => join(storage.machineDir(uuid), 'data.snapshots');
const snapshotState = () => snapshotsIn(snapshotsDir());
const storagePing = () => storagePingPid(storage.configDir);
const storageRsync = () => storageRsyncPid(storage.configDir);
const agentProcesses = () => namespaceProcesses(agent.host.name);

/** Starts a slow backup (bandwidth-limited) and waits until the storage's rsync is pulling. */
// Wrapped: an execa subprocess is a thenable, and returning it from an async function would wait for it.
async function startSlowBackup(): Promise<{ ping: ReturnType<AgentUnit['spawnPing']> }> {
  await agent.setSources({ data: { path: data, retention: 'last 10 snapshots', bwlimit: '256' } });
  expect((await agent.updateConfig()).exitCode).toBe(0);
  await writeFile(join(data, 'table.db'), randomBytes(4 * 2 ** 20));
  await world.trigger(agent, 'data');
  const ping = agent.spawnPing();
  ping.catch(() => undefined);
  await waitFor(async () => (await storageRsync()) !== undefined);
  // Let some data arrive into the working copy first.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return { ping };
}

async function finishNormally(): Promise<void> {
  // An absent key keeps the API's stored value, so the limit is lifted explicitly.
  await agent.setSources({ data: { path: data, retention: 'last 10 snapshots', bwlimit: null } });
  expect((await agent.updateConfig()).exitCode).toBe(0);
  await world.trigger(agent, 'data');
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  const after = await snapshotState();
  expect(after.trees[after.latest]).toEqual(await describeTree(data));
}

test('rsync killed mid-transfer: earlier snapshots and latest are untouched; the next run completes', async () => {
  const before = await snapshotState();
  const { ping } = await startSlowBackup();
  process.kill((await storageRsync())!, 'SIGKILL');
  await ping;
  const [report] = await listBackups(world.api.api.ctx, 1);
  expect(report).toMatchObject({ source: 'data', success: false, snapshot: null });
  // A signal is reported as a negative code, as the original (Python) reports it; in words since issue 17.
  expect(report?.summary).toBe('rsync was killed by SIGKILL (rsync exit code -9)');
  expect(await snapshotState()).toEqual(before);
  await finishNormally();
});

test('ssh killed mid-transfer: earlier snapshots and latest are untouched; the agent cleans up; the next run completes', async () => {
  const before = await snapshotState();
  const { ping } = await startSlowBackup();
  const ssh = (await agentProcesses()).find((candidate) => / turku-ping-remote$/.test(candidate.command));
  process.kill(ssh!.pid, 'SIGKILL');
  const ended = await ping.catch((error: unknown) => error as { exitCode?: number });
  expect(ended.exitCode).not.toBeUndefined();
  // The agent stopped its rsync daemon: nothing is left running on the agent machine.
  expect(await agentProcesses()).toEqual([]);
  // The storage noticed the broken tunnel; whatever it managed to report, no snapshot changed.
  await waitFor(async () => (await storagePing()) === undefined);
  expect(await snapshotState()).toEqual(before);
  await finishNormally();
});

test('a full volume fails the backup cleanly, and the next run completes once there is room', async () => {
  const before = await snapshotState();
  await writeFile(join(data, 'huge.bin'), randomBytes(30 * 2 ** 20));
  await world.trigger(agent, 'data');
  // The storage tells the agent the source failed (its turku-result line): the agent exits 1.
  expect(await agent.ping()).toMatchObject({ exitCode: 1 });
  const [report] = await listBackups(world.api.api.ctx, 1);
  expect(report).toMatchObject({ source: 'data', success: false, snapshot: null });
  expect(report?.summary).toMatch(/^no space left on volume \S+ \(rsync exit code (11|12|23)\)/);
  expect(await snapshotState()).toEqual(before);
  await rm(join(data, 'huge.bin'));
  await finishNormally();
});

test('a tunnel port taken on the storage is retried on another port', async () => {
  // One of the machine's 4 allowed tunnel ports is taken on the storage's loopback (IPv4 and IPv6,
  // as ssh listens on "localhost"). The agent draws from its allowance, so some run meets it.
  const uuid = await agent.uuid();
  const machine = await world.api.api.ctx.db.transaction((tx) => new Store(tx).machineByUuid(uuid));
  const [taken, squatters] = await occupyOneOf(machine!.tunnel_ports!);
  try {
    let retried: string | undefined;
    // What each run's agent said, so that a miss shows which ports the runs met.
    const runs: string[] = [];
    for (let run = 0; run < 40 && retried === undefined; run++) {
      const [before] = await listBackups(world.api.api.ctx, 1);
      await world.trigger(agent, 'data');
      const ping = await agent.ping('--debug');
      expect(ping).toMatchObject({ exitCode: 0 });
      if (ping.stderr.includes(`could not listen on port ${taken}`)) retried = ping.stderr;
      runs.push(
        ping.stderr
          .split('\n')
          .filter((line) => /[Pp]ort/.test(line))
          .join('\n'),
      );
      // Every run backs up: one that did not would not have met any port.
      const [report] = await listBackups(world.api.api.ctx, 1);
      expect(report).toMatchObject({ source: 'data', success: true });
      expect(report!.date).not.toBe(before?.date);
    }
    if (retried === undefined) {
      throw new Error(`no run met port ${taken} of ${machine!.tunnel_ports!.join(', ')}:\n${runs.join('\n--\n')}`);
    }
    expect(retried).toContain('retrying with another port');
  } finally {
    for (const squatter of squatters) squatter.close();
  }
});

test('an unreachable API: the agent exits non-zero with one clear line', async () => {
  const closed = await closedPort(world.hostAddress);
  const url = `http://${world.hostAddress}:${closed}/v1`;
  await agent.configure({ api_url: url });
  try {
    const ping = await agent.ping();
    expect(ping.exitCode).toBe(1);
    expect(ping.stderr.trim().split('\n')).toEqual([
      `turku-agent-ping: Cannot reach the API at ${url}: connect ECONNREFUSED ${world.hostAddress}:${closed}`,
    ]);
    const update = await agent.updateConfig();
    expect(update.exitCode).toBe(1);
    expect(update.stderr).toContain(`Cannot reach the API at ${url}`);
  } finally {
    await agent.configure({});
  }
});

test('an unreachable storage: the agent exits non-zero naming the storage', async () => {
  await storage.sshd.stop();
  await world.trigger(agent, 'data');
  const ping = await agent.ping();
  expect(ping.exitCode).toBe(1);
  expect(ping.stderr).toContain(`${world.hostAddress}:${storage.sshd.port}`);
  expect(await agentProcesses()).toEqual([]);
});

/** Listens on the first of `ports` free on 127.0.0.1 and ::1 both. */
async function occupyOneOf(ports: readonly number[]): Promise<[number, Server[]]> {
  for (const port of ports) {
    const squatters = [createServer(), createServer()];
    const bound = await Promise.all(
      squatters.map(
        (server, i) =>
          new Promise<boolean>((resolve) => {
            server.once('error', () => resolve(false));
            server.listen(port, i === 0 ? '127.0.0.1' : '::1', () => resolve(true));
          }),
      ),
    );
    if (bound.every(Boolean)) return [port, squatters];
    for (const server of squatters) server.close();
  }
  throw new Error(`none of the ports ${ports.join(', ')} is free on the storage's loopback`);
}

async function closedPort(address: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
