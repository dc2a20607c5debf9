import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { manifestEntries } from '../../lib/common/tree-manifest.js';
import { readManifest } from '../../lib/storage/manifest/files.js';
import { createWorld, DIST, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { pgrep, storagePingPid, storageRsyncPid, waitFor } from '../support/fault-probes.js';
import { describeTree } from '../support/trees.js';
import { niceOf, policyOf, SCHED_IDLE } from '../support/thread-nices.js';

/**
 * A first backup's storage program killed with SIGKILL while its live recording runs
 * (docs/datapath.md, "Manifests and verify"): the workers that record the directories rsync is
 * done with are threads of turku-storage-ping, and die with it. The killed run leaves its
 * working copy and nothing else; the next run takes that partial copy (a first backup reuses
 * it), rsync names only what is missing, and the live recording lists directories that hold
 * files of both runs. The snapshot must be the source's, and its manifest a walk's.
 */

jest.setTimeout(300_000);

const DIRS = 80;
const FILES_PER_DIR = 100;

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let uuid: string;

beforeAll(async () => {
  world = await createWorld('live-kill');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('files');
  data = join(world.root, 'data');
  // 8,000 small files: the live recording starts once rsync has named 2,000.
  for (let d = 0; d < DIRS; d++) {
    const dir = join(data, `dir${String(d).padStart(2, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) await writeFile(join(dir, `f${f}`), randomBytes(200 + ((d + f) % 500)));
  }
  await agent.setSources({ data: { path: data, bwlimit: '400' } });
  await world.register(storage, agent);
  uuid = await agent.uuid();
});
afterAll(() => world?.destroy());

/**
 * Threads of the process at nice 19 under SCHED_IDLE: the live recording's workers (no file is
 * large enough for the early hashes'), as the storage program under sshd sets them.
 */
async function idleThreads(pid: number): Promise<number> {
  let count = 0;
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8').catch(() => null);
    if (stat !== null && niceOf(stat) === 19 && policyOf(stat) === SCHED_IDLE) count++;
  }
  return count;
}

async function filesUnder(dir: string): Promise<number> {
  const found = await execa('find', [dir, '-type', 'f'], { reject: false });
  return String(found.stdout).split('\n').filter(Boolean).length;
}

test("the storage killed while it records a first backup live: the next run takes the partial copy, and its manifest is a walk's", async () => {
  const working = join(storage.machineDir(uuid), 'data');
  const snapshots = join(storage.machineDir(uuid), 'data.snapshots');
  await world.trigger(agent, 'data');
  const ping = agent.spawnPing();
  ping.catch(() => undefined);
  let pid: number | undefined;
  await waitFor(async () => {
    pid = await storagePingPid(storage.configDir);
    return pid !== undefined && (await idleThreads(pid)) > 0;
  }, 120_000);
  // Let the workers record some directories first.
  await new Promise((resolve) => setTimeout(resolve, 500));
  // The program and its rsync at once, as a crash or the OOM killer's kill of the session would:
  // an rsync left alone would finish the transfer for nobody.
  const rsync = await storageRsyncPid(storage.configDir);
  expect(rsync).toBeDefined();
  process.kill(pid!, 'SIGKILL');
  process.kill(rsync!, 'SIGKILL');
  await ping.catch(() => undefined);
  await waitFor(async () => (await pgrep('-f', `^rsync .*${uuid}/data/?$`)).length === 0);

  // What the killed run leaves: its partial working copy, no snapshot, no manifest.
  const partial = await filesUnder(working);
  expect(partial).toBeGreaterThan(2000);
  // More than 2,000 are left for the next run, so that its own live recording starts.
  expect(partial).toBeLessThan(DIRS * FILES_PER_DIR - 2000);
  expect((await readdir(snapshots).catch(() => [] as string[])).filter((name) => name !== 'latest')).toEqual([]);

  // The next run is slow enough for its live recording to take directories while rsync runs.
  await agent.setSources({ data: { path: data, bwlimit: '600' } });
  await world.backUp(agent, 'data');
  const [name] = (await readdir(snapshots)).filter((entry) => /^data_\d{8}-\d{6}_[0-9a-f]{4}$/.test(entry));
  expect(name).toBeDefined();
  const snapshot = join(snapshots, name!);
  expect(await describeTree(snapshot)).toEqual(await describeTree(data));
  const manifest = await readManifest(join(snapshots, `${name!}.manifest.gz`));
  expect(manifest?.entries).toEqual((await manifestEntries(snapshot)).entries);
  const verify = await execa(
    process.execPath,
    [join(DIST, 'storage', 'admin-main.js'), 'verify', uuid, 'data', '--config-dir', storage.configDir],
    { reject: false, stdin: 'ignore' },
  );
  expect({ exitCode: verify.exitCode, stdout: verify.stdout }).toMatchObject({
    exitCode: 0,
    stdout: expect.stringMatching(/^OK\n/),
  });
  const recorded = /Recorded the manifest of data_\S+: [^\n]*/.exec(await storage.localLog())?.[0];
  expect(Number(/, (\d+) directories recorded while rsync ran/.exec(recorded ?? '')?.[1])).toBeGreaterThan(0);
  // eslint-disable-next-line no-console -- the figure belongs in the test output
  console.log(
    `live recording killed with ${partial} of ${DIRS * FILES_PER_DIR} files pulled; the next run: ${recorded}`,
  );
});
