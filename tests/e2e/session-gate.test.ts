import { jest } from '@jest/globals';
import { mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { listSources } from '../../lib/api/admin/commands.js';
import { GATE_RESTORE_PLACES, GATE_SPARE_PLACES } from '../../lib/storage/session-gate.js';
import { addBlobAgents, createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { holdLockOutside, type OutsideLock } from '../support/outside-lock.js';
import { delay, descendantPids } from '../support/processes.js';

/**
 * The storage's session gate (docs/datapath.md, "A busy storage") through a real sshd: the forced
 * command that update-config writes starts turku-storage-ping (a Node.js process) only in one of
 * `slots + waiting places + 2` places, and answers busy itself, without Node, when none is free; a
 * restore has places of its own.
 */

jest.setTimeout(300_000);

const SLOTS = 1;
const WAITING = 1;
const PLACES = SLOTS + WAITING + GATE_SPARE_PLACES;
const AGENTS = 7;
const SOURCE_BYTES = 1024 * 1024;

let world: World;
let storage: StorageUnit;
let slotsDir: string;
const agents: AgentUnit[] = [];

beforeAll(async () => {
  world = await createWorld('gate');
  storage = await world.addStorage('primary', { max_concurrent_backups: SLOTS, max_waiting_backups: WAITING });
  slotsDir = join(storage.dir, 'turku-storage-backup-slots');
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  agents.push(...(await addBlobAgents(world, AGENTS, SOURCE_BYTES)));
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  await mkdir(slotsDir, { recursive: true });
});
afterAll(() => world?.destroy());

/**
 * turku-storage-ping processes under the storage's sshd: Node.js processes started by the
 * session's shell, not by another Node.js (the tunnel owner check's helper, directly or by sudo).
 */
async function storagePrograms(): Promise<number> {
  const pids = descendantPids(storage.sshd.pid);
  const executable = async (pid: number) => basename(await readlink(`/proc/${pid}/exe`).catch(() => ''));
  const parentOf = async (pid: number) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };
  let count = 0;
  for (const pid of pids) {
    if ((await executable(pid)) !== 'node') continue;
    if (!['node', 'sudo'].includes(await executable(await parentOf(pid)))) count++;
  }
  return count;
}

async function holdAll(names: readonly string[]): Promise<() => Promise<void>> {
  const holders: OutsideLock[] = [];
  for (const name of names) holders.push(await holdLockOutside(join(slotsDir, name)));
  return async () => {
    await Promise.all(holders.splice(0).map((holder) => holder.kill()));
  };
}

const GATE_LINE = `turku-storage: busy, all ${PLACES} session places are taken`;

test('a burst of agents starts at most slots + waiting places + 2 storage programs at once, and every backup completes', async () => {
  // Waiting places for every agent, but the gate as update-config sized it for one (an operator's
  // change that the next update-config run will follow): with the slot held from outside, as by a
  // long pull, every storage program that starts stays to wait, so without the gate all of them
  // would be alive at once.
  await storage.configure({ max_concurrent_backups: SLOTS, max_waiting_backups: AGENTS });
  const release = await holdAll(['slot-0.lock']);
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      most = Math.max(most, await storagePrograms());
      await delay(10);
    }
  })();
  try {
    for (const agent of agents) await world.trigger(agent, 'data');
    const pings = agents.map((agent) => agent.ping());
    for (const deadline = Date.now() + 60_000; most < PLACES && Date.now() < deadline;) await delay(50);
    await delay(2000);
    await release();
    const results = await Promise.all(pings);
    for (const ping of results) expect(ping).toMatchObject({ exitCode: 0 });
    // The gate refused the rest itself; they came back when told, as after a busy answer from Node.
    const refused = results.filter((ping) => ping.stderr.includes(GATE_LINE));
    expect(refused.length).toBeGreaterThanOrEqual(AGENTS - PLACES);
  } finally {
    sampling = false;
    await sampler;
    await release();
    await storage.configure({ max_concurrent_backups: SLOTS, max_waiting_backups: WAITING });
  }
  expect(most).toBe(PLACES);
  for (const agent of agents) {
    const [source] = await listSources(world.api.api.ctx, await agent.uuid());
    expect(source).toMatchObject({ name: 'data', success: true, failure_count: 0 });
  }
});

test('with every backup place taken, a backup is answered without starting Node, and a restore still runs', async () => {
  const [agent] = agents;
  const uuid = await agent!.uuid();
  // Backup places come after the restores' own (session-gate.ts).
  const backupPlaces = Array.from({ length: PLACES }, (_, k) => `gate-${GATE_RESTORE_PLACES + k}.lock`);
  const release = await holdAll(backupPlaces);
  try {
    await agent!.configure({ storage_busy_wait: 0 });
    await world.trigger(agent!, 'data');
    const logBefore = (await storage.localLog()).split('\n').filter((line) => line.includes(uuid)).length;
    const refused = await agent!.ping();
    expect(refused.stderr).toContain(GATE_LINE);
    expect(refused.stderr).toMatch(/Storage primary is still busy after \d+ s \(storage_busy_wait 0 s\)/);
    // turku-storage-ping never ran for it: the storage's log has no new line about the machine.
    const logAfter = (await storage.localLog()).split('\n').filter((line) => line.includes(uuid)).length;
    expect(logAfter).toBe(logBefore);

    const target = join(world.root, 'restored');
    const restore = await agent!.ping('--restore', '--restore-source', 'data', '--restore-target', target);
    expect(restore).toMatchObject({ exitCode: 0 });
    expect(await readdir(target)).toEqual(['blob']);
    expect(await readFile(join(target, 'blob'))).toEqual(await readFile(join(world.root, 'data', '0', 'blob')));
  } finally {
    await release();
    await agent!.configure({});
  }
  // With the places free again, the backup goes through.
  expect(await agent!.ping()).toMatchObject({ exitCode: 0 });
});
