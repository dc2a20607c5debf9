import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { listSources } from '../../lib/api/admin/commands.js';
import { addBlobAgents, createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { holdLockOutside } from '../support/outside-lock.js';
import { delay, descendantPids } from '../support/processes.js';

/**
 * More agents than the storage has backup slots, backing up at once (docs/datapath.md, "A busy
 * storage"): every backup completes, refused agents come back when told, and the storage never
 * pulls more than `max_concurrent_backups` at a time, even counted from its processes. A
 * turku-storage-ping killed with SIGKILL while it holds a slot does not keep it.
 */

jest.setTimeout(300_000);

const AGENTS = 4;
const SLOTS = 2;
/** Pulls slowed to about 1 s each (rsync's --bwlimit, KiB/s), so that sessions overlap. */
const SOURCE_BYTES = 3 * 1024 * 1024;
const BWLIMIT = 3000;

let world: World;
let storage: StorageUnit;
const agents: AgentUnit[] = [];

beforeAll(async () => {
  world = await createWorld('busy');
  // No waiting places at first: the refusals and come-backs are what the first test checks.
  storage = await world.addStorage('primary', {
    max_concurrent_backups: SLOTS,
    max_waiting_backups: 0,
    rsync_command: ['rsync', `--bwlimit=${BWLIMIT}`],
  });
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  agents.push(...(await addBlobAgents(world, AGENTS, SOURCE_BYTES)));
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
});
afterAll(() => world?.destroy());

/** The storage-pings under the storage's sshd that run an rsync client (a pull), once per pull. */
async function pullingPings(): Promise<number[]> {
  const pulling: number[] = [];
  for (const pid of descendantPids(storage.sshd.pid)) {
    const [comm, stat] = await Promise.all([
      readFile(`/proc/${pid}/comm`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''),
    ]);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const parent = await readFile(`/proc/${ppid}/comm`, 'utf8').catch(() => '');
    // rsync forks a second process of its own; the one whose parent is the storage-ping is the pull.
    if (comm.trim() === 'rsync' && parent.trim() !== 'rsync') pulling.push(ppid);
  }
  return pulling;
}

test('more agents than slots: all back up, never more than max_concurrent_backups pulls at once', async () => {
  for (const agent of agents) await world.trigger(agent, 'data');
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      most = Math.max(most, (await pullingPings()).length);
      await delay(25);
    }
  })();
  const pings = await Promise.all(agents.map((agent) => agent.ping()));
  sampling = false;
  await sampler;
  for (const ping of pings) expect(ping).toMatchObject({ exitCode: 0 });
  expect(most).toBeGreaterThanOrEqual(1);
  expect(most).toBeLessThanOrEqual(SLOTS);
  // Someone was told to come back, and did.
  const agentLogs = pings.map((ping) => ping.stderr).join('\n');
  expect(agentLogs).toMatch(/Storage primary busy \(2 backups running\); trying again in \d+\.\d s/);
  expect(await storage.localLog()).toContain('Storage busy: 2 backups running');
  for (const agent of agents) {
    const [source] = await listSources(world.api.api.ctx, await agent.uuid());
    expect(source).toMatchObject({ name: 'data', success: true, failure_count: 0 });
    const snapshots = await readdir(join(storage.machineDir(await agent.uuid()), 'data.snapshots'));
    expect(snapshots).toContain('latest');
  }
});

test('with waiting places, sessions that find every slot taken wait on the storage and go on when one frees', async () => {
  await storage.configure({ max_concurrent_backups: SLOTS, max_waiting_backups: SLOTS, rsync_command: ['rsync'] });
  // Both slots held from outside, as by two long pulls: the agents' sessions must wait for them.
  const slots = join(storage.dir, 'turku-storage-backup-slots');
  await mkdir(slots, { recursive: true });
  const waiting = agents.slice(0, SLOTS);
  const holders = await Promise.all(
    Array.from({ length: SLOTS }, (_, index) => holdLockOutside(join(slots, `slot-${index}.lock`))),
  );
  const release = () => Promise.all(holders.map((holder) => holder.kill()));
  try {
    for (const agent of waiting) await world.trigger(agent, 'data');
    const pings = waiting.map((agent) => agent.ping());
    const waitLine = /All 2 backup slots are taken \(max_concurrent_backups\); waiting up to \d+ s for one/;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await delay(50)) {
      if ((await storage.localLog()).split('\n').filter((line) => waitLine.test(line)).length >= SLOTS) break;
    }
    const freed = Date.now();
    await release();
    const results = await Promise.all(pings);
    // The slots freed were taken at once, not after a come-back.
    expect(Date.now() - freed).toBeLessThan(20_000);
    for (const ping of results) {
      expect(ping).toMatchObject({ exitCode: 0 });
      expect(ping.stderr).toMatch(waitLine);
      expect(ping.stderr).not.toContain('busy');
    }
  } finally {
    await release();
  }
  for (const agent of waiting) {
    const [source] = await listSources(world.api.api.ctx, await agent.uuid());
    expect(source).toMatchObject({ name: 'data', success: true, failure_count: 0 });
  }
});

test('a storage-ping killed with SIGKILL while pulling gives its slot back', async () => {
  await storage.configure({ max_concurrent_backups: 1, rsync_command: ['rsync', `--bwlimit=${BWLIMIT / 10}`] });
  const [victim, next] = [agents[0]!, agents[1]!];
  // New content, so that the session pulls it (slowly, under the limit): with the content of its
  // last snapshot it would run only the dry run, done in a few milliseconds.
  await writeFile(join(world.root, 'data', '0', 'blob'), randomBytes(SOURCE_BYTES));
  await world.trigger(victim, 'data');
  const killed = victim.ping();
  let ping: number | undefined;
  for (const deadline = Date.now() + 60_000; ping === undefined && Date.now() < deadline; await delay(50)) {
    ping = (await pullingPings())[0];
  }
  expect(ping).toBeDefined();
  process.kill(ping!, 'SIGKILL');
  expect((await killed).exitCode).toBe(1);
  // The only slot is free again at once: the next agent is not told to wait.
  await storage.configure({ max_concurrent_backups: 1, rsync_command: ['rsync'] });
  await world.trigger(next, 'data');
  const after = await next.ping();
  expect(after).toMatchObject({ exitCode: 0 });
  expect(after.stderr).not.toContain('busy');
});
