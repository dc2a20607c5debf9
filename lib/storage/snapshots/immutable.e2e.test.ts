import { jest } from '@jest/globals';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { captureLog, describeTree, descriptor, makeJob, removeDir, tempDir, TestClock } from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { forgetReportedVolumes } from './immutable.js';
import { runSnapshotMode } from './index.js';
import { type SnapshotMode } from './types.js';

// docs/datapath.md, "Immutable snapshots": on a real ext4 file system (an image the test makes
// and loop-mounts), a finished snapshot survives `rm -rf` by root, the next backup still hard-links
// from it, retention removes it once expired, and `min_age` keeps a young one whatever the policy.
jest.setTimeout(120_000);

const DAY = 86_400_000;
let root: string;
let mountPoint: string | null = null;
let source: string;
let daemon: RsyncDaemon | null = null;

beforeAll(async () => {
  root = await tempDir('immutable');
  const image = join(root, 'ext4.img');
  // Sparse; borg wants room for a whole segment before it deletes an archive.
  await execa('truncate', ['-s', '2G', image]);
  await execa('mkfs.ext4', ['-q', '-F', image]);
  await mkdir(join(root, 'mnt'));
  await execa('mount', ['-o', 'loop', image, join(root, 'mnt')]);
  mountPoint = join(root, 'mnt');
  source = join(root, 'source');
  await mkdir(join(source, 'etc', 'conf.d'), { recursive: true });
  await writeFile(join(source, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(source, 'etc', 'conf.d', 'a.conf'), 'a = 1\n');
  await writeFile(join(source, 'big.bin'), Buffer.alloc(200_000, 7));
  daemon = await startRsyncDaemon({ data: { path: source } });
});

afterAll(async () => {
  await daemon?.stop();
  if (mountPoint !== null) {
    // The flags go with the image, but lift them anyway so a failed umount leaves a removable tree.
    await execa('chattr', ['-R', '-f', '-i', mountPoint], { reject: false });
    const umount = await execa('umount', [mountPoint], { reject: false });
    if (umount.exitCode !== 0) await execa('umount', ['-l', mountPoint], { reject: false });
  }
  await removeDir(root);
});

beforeEach(() => forgetReportedVolumes());

let machines = 0;
async function machine(volume: string, start = '2026-11-01T03:00:00Z', chattrCommand = ['chattr']) {
  const machineDir = join(volume, `machine-${++machines}`);
  await mkdir(machineDir, { recursive: true });
  const log = captureLog();
  const clock = new TestClock(start);
  const base = { machineDir, varDir: join(root, 'var'), url: daemon!.url('data'), password: daemon!.password, log };
  return {
    machineDir,
    snapshots: join(machineDir, 'data.snapshots'),
    log,
    /** Moves the clock to `days` after the start. */
    day: (days: number) => clock.set(new Date(Date.parse(start) + days * DAY).toISOString()),
    backup: (
      mode: SnapshotMode,
      overrides: { retention?: string; minAgeDays?: number; hardLinks?: boolean; immutable?: boolean } = {},
    ) =>
      runSnapshotMode(
        mode,
        makeJob(base, {
          now: clock.now,
          volume,
          descriptor: descriptor({
            retention: overrides.retention ?? null,
            preserve_hard_links: overrides.hardLinks ?? false,
          }),
          settings: {
            chattrCommand,
            immutableSnapshots: overrides.immutable ?? true,
            minAgeSeconds: (overrides.minAgeDays ?? 0) * 86_400,
          },
        }),
      ),
  };
}

async function flags(path: string): Promise<string> {
  return (await execa('lsattr', ['-d', path])).stdout.split(' ')[0]!;
}

async function snapshotDirs(snapshots: string): Promise<string[]> {
  return (await readdir(snapshots)).filter((name) => /^data_\d{8}-\d{6}_[0-9a-f]{4}$/.test(name)).sort();
}

test('a finished snapshot survives rm -rf by root; its directory entries cannot change, its files can still be linked', async () => {
  const m = await machine(mountPoint!);
  const outcome = await m.backup('link-dest');
  expect(outcome.success).toBe(true);
  const snapshot = join(m.snapshots, outcome.snapshot!);
  for (const dir of [snapshot, join(snapshot, 'etc'), join(snapshot, 'etc', 'conf.d')])
    expect(await flags(dir)).toContain('i');
  expect(await flags(join(snapshot, 'etc', 'hosts'))).not.toContain('i');
  const before = await describeTree(snapshot);

  const rmRf = await execa('rm', ['-rf', snapshot], { reject: false });
  expect(rmRf.exitCode).not.toBe(0);
  expect(rmRf.stderr).toContain('Operation not permitted');
  expect((await execa('mv', [snapshot, `${snapshot}-moved`], { reject: false })).exitCode).not.toBe(0);
  expect((await execa('touch', [join(snapshot, 'etc', 'new')], { reject: false })).exitCode).not.toBe(0);
  expect(await describeTree(snapshot)).toEqual(before);
  // The snapshots' directory stays writable: sidecars, manifests and the next snapshots go there.
  await writeFile(join(m.snapshots, 'probe'), 'x');
  await rm(join(m.snapshots, 'probe'));
  expect(m.log.at('info')).toContain(`Made ${snapshot} immutable`);
});

test.each([
  ['the clone', false],
  ['rsync --link-dest', true],
])('the next incremental still hard-links from an immutable snapshot (%s)', async (_how, hardLinks) => {
  const m = await machine(mountPoint!);
  const first = await m.backup('link-dest', { hardLinks });
  m.day(1);
  await writeFile(join(source, 'etc', 'changing'), `run ${Date.now()}\n`);
  try {
    const second = await m.backup('link-dest', { hardLinks });
    expect(second.success).toBe(true);
    expect(second.summary).toContain(`Base snapshot: ${first.snapshot}`);
    const [a, b] = [join(m.snapshots, first.snapshot!), join(m.snapshots, second.snapshot!)];
    for (const file of ['big.bin', 'etc/hosts', 'etc/conf.d/a.conf']) {
      const [x, y] = [await stat(join(a, file)), await stat(join(b, file))];
      expect([file, y.ino]).toEqual([file, x.ino]);
    }
    expect(await flags(b)).toContain('i');
    expect(await flags(join(b, 'etc'))).toContain('i');
  } finally {
    await rm(join(source, 'etc', 'changing'), { force: true });
  }
});

test('retention lifts the flag of the snapshot it expires, and only of that one', async () => {
  const m = await machine(mountPoint!);
  const first = await m.backup('link-dest');
  m.day(1);
  const second = await m.backup('link-dest');
  m.day(2);
  const third = await m.backup('link-dest', { retention: 'last 2 snapshots' });
  expect(third.summary).toContain(`Removed old snapshot: ${first.snapshot}`);
  expect(await snapshotDirs(m.snapshots)).toEqual([second.snapshot, third.snapshot]);
  expect((await readdir(m.snapshots)).filter((name) => name.startsWith('_delete-'))).toEqual([]);
  for (const kept of [second.snapshot!, third.snapshot!]) expect(await flags(join(m.snapshots, kept))).toContain('i');
});

test('with immutable_snapshots turned off since, retention still lifts the flag of an old snapshot it expires', async () => {
  const m = await machine(mountPoint!);
  const first = await m.backup('link-dest');
  m.day(1);
  const second = await m.backup('link-dest', { retention: 'last 1 snapshot', immutable: false });
  expect(second.summary).toContain(`Removed old snapshot: ${first.snapshot}`);
  expect(await flags(join(m.snapshots, second.snapshot!))).not.toContain('i');
});

test('min_age keeps a young snapshot the policy expires (link-dest), once it is old enough it goes', async () => {
  const m = await machine(mountPoint!);
  const first = await m.backup('link-dest');
  m.day(1);
  const second = await m.backup('link-dest', { retention: 'last 1 snapshot', minAgeDays: 7 });
  expect(second.success).toBe(true);
  expect(second.summary).not.toContain('Removed old snapshot');
  expect(await snapshotDirs(m.snapshots)).toEqual([first.snapshot, second.snapshot]);
  const warnings = m.log.at('warning').filter((line) => line.includes('younger than min_age'));
  expect(warnings).toEqual([
    expect.stringContaining(`Retention asked to delete 1 snapshot younger than min_age (1w), kept: ${first.snapshot}`),
  ]);

  m.day(9);
  const third = await m.backup('link-dest', { retention: 'last 1 snapshot', minAgeDays: 7 });
  // Both are now more than 7 days old.
  expect(third.summary).toContain(`Removed old snapshot: ${first.snapshot}`);
  expect(third.summary).toContain(`Removed old snapshot: ${second.snapshot}`);
  expect(await snapshotDirs(m.snapshots)).toEqual([third.snapshot]);
});

test('min_age keeps young borg archives the policy expires', async () => {
  const m = await machine(mountPoint!);
  const first = await m.backup('borg');
  expect(first.success).toBe(true);
  m.day(1);
  const second = await m.backup('borg', { retention: 'last 1 snapshot', minAgeDays: 7 });
  expect(second.success).toBe(true);
  expect(second.summary).not.toContain('Removed old snapshot');
  expect(m.log.at('warning')).toEqual([expect.stringContaining(`younger than min_age (1w), kept: ${first.snapshot}`)]);
  m.day(9);
  const third = await m.backup('borg', { retention: 'last 1 snapshot', minAgeDays: 7 });
  expect(third.summary).toContain(`Removed old snapshot: ${first.snapshot}`);
  expect(third.summary).toContain(`Removed old snapshot: ${second.snapshot}`);
});

test('without the right to set the flag: snapshots are made as before, one warning per volume, retention works', async () => {
  // As under an account without CAP_LINUX_IMMUTABLE (the charm's ping account without its chattr).
  const m = await machine(mountPoint!, '2026-11-01T03:00:00Z', [
    'setpriv',
    '--bounding-set',
    '-linux_immutable',
    'chattr',
  ]);
  const first = await m.backup('link-dest');
  m.day(1);
  const second = await m.backup('link-dest', { retention: 'last 1 snapshot' });
  expect([first.success, second.success]).toEqual([true, true]);
  expect(second.summary).toContain(`Removed old snapshot: ${first.snapshot}`);
  expect(await flags(join(m.snapshots, second.snapshot!))).not.toContain('i');
  const warnings = m.log.at('warning').filter((line) => line.includes('not made immutable'));
  expect(warnings).toEqual([
    expect.stringContaining(`Snapshots on ${mountPoint!} are not made immutable: chattr: Operation not permitted`),
  ]);
});
