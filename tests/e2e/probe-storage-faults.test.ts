import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { listBackups } from '../../lib/api/admin/commands.js';
import { createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { describeTree } from '../support/trees.js';
import { pgrep, snapshotState as snapshotsIn, storagePingPid, waitFor } from '../support/fault-probes.js';

/**
 * Issue 17, items 9–11: faults on the storage's side of a backup, with real processes (sshd,
 * rsync, agents in network namespaces, a small tmpfs volume).
 *   9  the storage's turku-storage-ping killed half-way: the API is told at the next run, and no
 *      scratch file is left in /tmp or in the storage's state directory;
 *  10  a full volume during an incremental: no `_delete-working-*` piles up, the API's log says
 *      why, and the run after the data fits succeeds by itself;
 *  11  rsync's failures in words in the API's backup log.
 * Every earlier snapshot stays byte-identical across every fault.
 */

jest.setTimeout(300_000);

const VOLUME_MIB = 32;

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let uuid: string;
/** In a file name and an exclude pattern, so that this test's scratch files can be told from others'. */
const marker = `probe${randomBytes(6).toString('hex')}`;
const retention = 'last 20 snapshots';

beforeAll(async () => {
  world = await createWorld('storage-faults');
  storage = await world.addStorage('primary');
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${VOLUME_MIB}m`, 'tmpfs', storage.volume]);
  agent = await world.addAgent('db');
  data = join(world.root, 'data');
  await mkdir(data, { recursive: true });
  await writeFile(join(data, `a-${marker}.txt`), 'first in the transfer\n');
  await writeFile(join(data, 'table.db'), randomBytes(2 * 2 ** 20));
  await setSources({}, false);
  await world.register(storage, agent);
  uuid = await agent.uuid();
  await world.backUp(agent, 'data');
});
afterAll(async () => {
  figure(`items 9-11: earlier snapshots compared byte for byte after the faults: ${snapshotsVerified} comparisons`);
  await execa('umount', ['-l', storage.volume], { reject: false });
  await world?.destroy();
});

async function setSources(extra: Record<string, unknown>, update = true): Promise<void> {
  // An exclude makes the storage write a filter file: one more scratch file to account for.
  await agent.setSources({ data: { path: data, retention, exclude: [`*.${marker}`], bwlimit: null, ...extra } });
  if (update) expect((await agent.updateConfig()).exitCode).toBe(0);
}

const snapshotsDir = () => join(storage.machineDir(uuid), 'data.snapshots');
const snapshotState = () => snapshotsIn(snapshotsDir());
const storagePing = () => storagePingPid(storage.configDir);

/** How many snapshot comparisons, byte for byte, the faults were checked with (a figure). */
let snapshotsVerified = 0;

/** Every earlier snapshot as it was (new ones may have been added). */
async function expectKept(before: Awaited<ReturnType<typeof snapshotState>>): Promise<void> {
  const after = await snapshotState();
  for (const name of before.names) expect(after.trees[name]).toEqual(before.trees[name]);
  snapshotsVerified += before.names.length;
}

/** A figure for the issue's closing note, in the test output. */
function figure(line: string): void {
  // eslint-disable-next-line no-console -- the figures belong in the test output
  console.log(line);
}

/** The API's backup log entries written after `since` (an ISO date from an earlier entry), newest first. */
async function reportsAfter(since: string | undefined): Promise<Awaited<ReturnType<typeof listBackups>>> {
  return (await listBackups(world.api.api.ctx, 1000)).filter((row) => since === undefined || row.date > since);
}

async function lastReportDate(): Promise<string | undefined> {
  return (await listBackups(world.api.api.ctx, 1))[0]?.date;
}

async function volumeUsePct(): Promise<number> {
  const fs = await statfs(storage.volume);
  return Math.round((1 - fs.bavail / fs.blocks) * 1000) / 10;
}

/** The storage's rsync pulling this machine's source, parent alive or not. */
async function storageRsyncs(): Promise<number[]> {
  return pgrep('-f', `^rsync .*${uuid}/data/?$`);
}

/** Scratch files of this test's sessions in /tmp: rsync output naming the marker file, filter files with its pattern. */
async function markedFilesInTmp(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/tmp')) {
    if (!/^turku-(output|rsync|files-from)-/.test(entry)) continue;
    const dir = join('/tmp', entry);
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      const text = await readFile(join(dir, file), 'latin1').catch(() => '');
      if (text.includes(marker)) found.push(join(dir, file));
    }
  }
  return found;
}

async function listFiles(dir: string): Promise<string[]> {
  const found = await execa('find', [dir, '-mindepth', '1'], { reject: false });
  return String(found.stdout)
    .split('\n')
    .filter((line) => line !== '');
}

/** Starts a slow (bandwidth-limited) backup and waits until the storage's rsync has pulled a while. */
// Wrapped: an execa subprocess is a thenable, and returning it from an async function would wait for it.
async function startSlowBackup(): Promise<{ ping: ReturnType<AgentUnit['spawnPing']> }> {
  await setSources({ bwlimit: '256' });
  await writeFile(join(data, 'table.db'), randomBytes(4 * 2 ** 20));
  await world.trigger(agent, 'data');
  const ping = agent.spawnPing();
  ping.catch(() => undefined);
  await waitFor(async () => (await storageRsyncs()).length > 0);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return { ping };
}

/** Kills turku-storage-ping with SIGKILL mid-pull; returns when its orphaned rsync is gone too. */
async function killStoragePingMidPull(): Promise<{ scratchDuringPull: string[] }> {
  const { ping } = await startSlowBackup();
  const scratchDuringPull = await listFiles(join(storage.varDir, 'scratch'));
  const pid = await storagePing();
  expect(pid).toBeDefined();
  process.kill(pid!, 'SIGKILL');
  await ping.catch(() => undefined);
  await waitFor(async () => (await storagePing()) === undefined && (await storageRsyncs()).length === 0);
  return { scratchDuringPull };
}

async function runNormally(): Promise<void> {
  await setSources({});
  await world.backUp(agent, 'data');
}

const ABANDONED =
  /^the storage's session ended unexpectedly \(killed or crashed\) at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, during the pull begun at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

test('item 9: turku-storage-ping killed mid-pull: the next session reports the source as failed, with a reason, and no scratch file stays', async () => {
  const before = await snapshotState();
  const since = await lastReportDate();
  const { scratchDuringPull } = await killStoragePingMidPull();
  // While it ran, its scratch files were in the storage's own state directory, not in /tmp.
  expect(
    scratchDuringPull.some((path) => path.startsWith(join(storage.varDir, 'scratch', uuid, 'turku-output-'))),
  ).toBe(true);
  expect(await markedFilesInTmp()).toEqual([]);
  // Nothing was reported by the killed session.
  expect(await reportsAfter(since)).toEqual([]);
  await expectKept(before);

  await runNormally();
  const reports = await reportsAfter(since);
  expect(reports).toHaveLength(2);
  const abandoned = reports.find((row) => !row.success);
  expect(abandoned).toMatchObject({ source: 'data', success: false, snapshot: null });
  expect(abandoned?.summary).toMatch(ABANDONED);
  expect(reports.find((row) => row.success)).toMatchObject({ source: 'data', success: true });
  figure(`item 9 (session): API log of the abandoned pull: "${abandoned?.summary}"`);
  expect(await markedFilesInTmp()).toEqual([]);
  expect(await listFiles(join(storage.varDir, 'scratch'))).toEqual([]);
  expect(await listFiles(join(storage.varDir, 'sessions'))).toEqual([]);
  await expectKept(before);
  const after = await snapshotState();
  expect(after.trees[after.latest]).toEqual(await describeTree(data));
});

test('item 9: turku-storage-update-config reports an abandoned session without waiting for the agent', async () => {
  const before = await snapshotState();
  const since = await lastReportDate();
  await killStoragePingMidPull();
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  const reports = await reportsAfter(since);
  expect(reports.length).toBe(1);
  expect(reports[0]).toMatchObject({ source: 'data', success: false });
  expect(reports[0]?.summary).toMatch(ABANDONED);
  expect(await listFiles(join(storage.varDir, 'scratch'))).toEqual([]);
  expect(await listFiles(join(storage.varDir, 'sessions'))).toEqual([]);
  expect(await markedFilesInTmp()).toEqual([]);
  await expectKept(before);
  await runNormally();
  expect((await listBackups(world.api.api.ctx, 1))[0]).toMatchObject({ success: true });
});

test('item 11: rsync code 5 (credentials refused) in words', async () => {
  const before = await snapshotState();
  // The storage's rsync is handed a wrong password: the agent's daemon refuses it.
  await storage.configure({ rsync_command: ['env', 'RSYNC_PASSWORD=wrong', 'rsync'] });
  try {
    await world.trigger(agent, 'data');
    await agent.ping().catch(() => undefined);
    const [report] = await listBackups(world.api.api.ctx, 1);
    expect(report).toMatchObject({ source: 'data', success: false });
    expect(report?.summary).toBe('agent refused credentials (rsync exit code 5)');
    figure(`item 11: code 5 -> "${report?.summary}"`);
  } finally {
    await storage.configure({});
  }
  await expectKept(before);
});

test('item 11: rsync code 23 (a file the agent cannot read) in words, with the first failing path', async () => {
  const before = await snapshotState();
  // The agent's daemon reads as nobody: a root-only file cannot be read.
  await chmod(world.root, 0o755);
  await chmod(data, 0o755);
  await writeFile(join(data, 'secret.key'), 'root only\n', { mode: 0o600 });
  await chmod(join(data, 'secret.key'), 0o600);
  await agent.configure({ rsyncd_user: 'nobody', rsyncd_group: 'nogroup' });
  try {
    await world.trigger(agent, 'data');
    await agent.ping().catch(() => undefined);
    const [report] = await listBackups(world.api.api.ctx, 1);
    expect(report).toMatchObject({ source: 'data', success: false });
    expect(report?.summary).toBe(
      'some files could not be read on the agent, the first: "/secret.key" (Permission denied) (rsync exit code 23)',
    );
    figure(`item 11: code 23 -> "${report?.summary}"`);
  } finally {
    await agent.configure({});
    await unlink(join(data, 'secret.key'));
  }
  await expectKept(before);
});

test('item 11: rsync code 24 (files vanished) is a success whose summary says so', async () => {
  const before = await snapshotState();
  // A slow transfer of a big file first; a later file is deleted while the big one is on its way.
  await writeFile(join(data, 'z-vanishing.log'), 'gone soon\n');
  const { ping } = await startSlowBackup();
  try {
    await unlink(join(data, 'z-vanishing.log'));
    await ping.catch(() => undefined);
    const [report] = await listBackups(world.api.api.ctx, 1);
    expect(report).toMatchObject({ source: 'data', success: true });
    expect(report?.summary).toContain(
      'Note: some files vanished during the transfer, the first: "/z-vanishing.log" (rsync exit code 24)\n',
    );
    figure(`item 11: code 24 -> "${report?.summary?.trim().replaceAll('\n', ' / ')}"`);
  } finally {
    // Without the slow bandwidth limit even when this test fails: the volume probes that follow
    // pull 40 MiB, which at 256 KiB/s outlasts each agent run's 60 s bound.
    await setSources({});
  }
  await expectKept(before);
  await runNormally();
});

test.each(['none', 'borg'])(
  'item 10: %s mode: a full volume fails cleanly, and the run after the data fits succeeds by itself',
  async (mode) => {
    const dir = join(world.root, `data-${mode}`);
    await mkdir(join(dir, 'new'), { recursive: true });
    await writeFile(join(dir, 'base.txt'), 'the first backup\n');
    await agent.setSources({ [mode]: { path: dir, snapshot_mode: mode, retention } }, `extra-${mode}`);
    expect((await agent.updateConfig()).exitCode).toBe(0);
    const run = async (): Promise<{ success: boolean | undefined; summary: string | null | undefined }> => {
      await world.trigger(agent, mode);
      const since = await lastReportDate();
      await agent.ping();
      const [report, ...more] = await reportsAfter(since);
      expect(more).toEqual([]);
      expect(report?.source).toBe(mode);
      return { success: report?.success, summary: report?.summary };
    };
    const repo = join(storage.machineDir(uuid), `${mode}.borg`);
    const archives = async () =>
      mode !== 'borg'
        ? []
        : String(
            (
              await execa('borg', ['list', '--short', repo], {
                env: {
                  BORG_BASE_DIR: join(storage.varDir, 'borg'),
                  BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
                  BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
                },
                stdin: 'ignore',
              })
            ).stdout,
          )
            .split('\n')
            .filter(Boolean);
    expect(await run()).toMatchObject({ success: true });
    const kept = await archives();

    for (let i = 0; i < 10; i++) await writeFile(join(dir, 'new', `part-${i}.bin`), randomBytes(4 * 2 ** 20));
    const figures: string[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const failed = await run();
      figures.push(`run ${attempt}: volume ${await volumeUsePct()}% used`);
      expect(failed).toMatchObject({
        success: false,
        summary: expect.stringContaining(`no space left on volume ${storage.volume} (`),
      });
    }
    for (let i = 1; i < 10; i++) await rm(join(dir, 'new', `part-${i}.bin`));
    const recovered = await run();
    figures.push(
      `after the data fits: ${recovered.success === true ? 'success' : 'failure'}, volume ${await volumeUsePct()}% used`,
    );
    figure(`item 10, ${mode} mode (${VOLUME_MIB} MiB tmpfs): ${figures.join('; ')}`);
    expect(recovered).toMatchObject({ success: true });
    for (const name of kept) expect(await archives()).toContain(name);
    if (mode === 'none')
      expect(await describeTree(join(storage.machineDir(uuid), 'none'))).toEqual(await describeTree(dir));
    // Out of the way of the link-dest probes that follow.
    await agent.setSources({}, `extra-${mode}`);
    expect((await agent.updateConfig()).exitCode).toBe(0);
    await rm(mode === 'borg' ? repo : join(storage.machineDir(uuid), mode), { recursive: true, force: true });
    await rm(join(storage.machineDir(uuid), mode), { recursive: true, force: true });
  },
);

test('item 10: a full volume during an incremental: 4 failed runs pile nothing up, and the run after the data fits succeeds by itself', async () => {
  const before = await snapshotState();
  // More than the whole volume, in files rsync completes one by one: what it finished stays in
  // the working copy of the failed run (a single big file would be removed by rsync itself).
  await mkdir(join(data, 'new'));
  for (let i = 0; i < 10; i++) await writeFile(join(data, 'new', `part-${i}.bin`), randomBytes(4 * 2 ** 20));
  const figures: string[] = [];
  const runs: { summary: string | null | undefined; success: boolean | undefined; aside: string[] }[] = [];
  for (let run = 1; run <= 4; run++) {
    await world.trigger(agent, 'data');
    const since = await lastReportDate();
    await agent.ping();
    const [report] = await reportsAfter(since);
    const aside = (await readdir(snapshotsDir())).filter((name) => name.startsWith('_delete-'));
    figures.push(`run ${run}: volume ${await volumeUsePct()}% used, ${aside.length} _delete-* left`);
    runs.push({ summary: report?.summary, success: report?.success, aside });
  }
  figure(`item 10: API log on run 4: "${runs[3]?.summary?.trim().replaceAll('\n', ' / ')}"`);
  await expectKept(before);

  // The data fits again (8 of the 40 MiB stay new): the next run succeeds without anyone
  // deleting anything on the storage.
  for (let i = 2; i < 10; i++) await rm(join(data, 'new', `part-${i}.bin`));
  let runsToRecover = 0;
  for (; runsToRecover < 3;) {
    runsToRecover++;
    await setSources({});
    await world.trigger(agent, 'data');
    await agent.ping();
    if ((await listBackups(world.api.api.ctx, 1))[0]?.success === true) break;
  }
  figures.push(`after the data fits: volume ${await volumeUsePct()}% used, ${runsToRecover} run(s) to recover`);
  figure(`item 10 (${VOLUME_MIB} MiB tmpfs): ${figures.join('; ')}`);
  for (const run of runs) {
    expect(run).toMatchObject({
      success: false,
      summary: expect.stringContaining(`no space left on volume ${storage.volume} (rsync exit code`),
    });
    // Set-aside copies are removed before each pull: none ever piles up.
    expect(run.aside).toEqual([]);
  }
  expect(runsToRecover).toBe(1);
  await expectKept(before);
  const after = await snapshotState();
  expect(after.trees[after.latest]).toEqual(await describeTree(data));
});

test('item 10: a volume over its high-water mark is reported to the API before any pull, named in the result, and the pull still goes ahead', async () => {
  const before = await snapshotState();
  // Fill the volume to about 90%, leaving room for a small incremental.
  const fs = await statfs(storage.volume);
  const fill = Math.floor(fs.bavail * fs.bsize - 0.1 * fs.blocks * fs.bsize);
  await writeFile(join(storage.volume, 'filler'), Buffer.alloc(Math.max(fill, 0), 1));
  try {
    const used = await volumeUsePct();
    // Before any pull: the storage's periodic space report says it in words, and the API logs it.
    expect((await storage.updateConfig()).exitCode).toBe(0);
    expect(world.api.log.lines.filter((line) => line.includes(`storage primary: volume `)).at(-1)).toMatch(
      /is (8[1-9]|9\d)\.\d% full \(high-water mark 80%\): it takes no new machines/,
    );
    await writeFile(join(data, 'small-change.txt'), 'a small change\n');
    await runNormally();
    const [report] = await listBackups(world.api.api.ctx, 1);
    expect(report).toMatchObject({ source: 'data', success: true });
    expect(report?.summary).toMatch(
      new RegExp(
        `\\nWarning: volume ${storage.volume} is (8[1-9]|9\\d)% full \\(high-water mark 80%\\); pulling anyway\\n$`,
      ),
    );
    figure(`item 10: at ${used}% used -> "${report?.summary?.trim().replaceAll('\n', ' / ')}"`);
  } finally {
    await rm(join(storage.volume, 'filler'));
  }
  await expectKept(before);
});
