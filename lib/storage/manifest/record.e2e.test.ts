import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  truncate,
  utimes,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { manifestEntries } from '../../common/tree-manifest.js';
import {
  captureLog,
  descriptor,
  makeJob,
  removeDir,
  tempDir,
  TestClock,
  type JobOverrides,
} from '../snapshots/__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from '../snapshots/__tests__/rsync-daemon.js';
import { runSnapshotMode } from '../snapshots/index.js';
import { listCandidates } from '../snapshots/names.js';
import { deleteSnapshot, removeLeftovers } from '../snapshots/snapshot-dir.js';
import { verifyInDetail } from '../verify/verify-snapshot.js';
import { MAX_DELTA_DEPTH } from './delta.js';
import { deltaPath, manifestPath } from './files.js';
import { readStoredManifest, storedManifestData } from './stored.js';

// Real rsync daemons, mounts: generous for a loaded machine.
jest.setTimeout(120_000);

/**
 * The manifest a link-dest backup records (docs/datapath.md, "Manifests and verify"): an
 * incremental made on a clone is recorded from the base's manifest and the dry run's list, and
 * must be what a walk of the whole snapshot would record; a full disk while recording it costs
 * the manifest only, never the snapshot.
 */

let tree: string;
let daemon: RsyncDaemon;
let machineDir: string;

beforeEach(async () => {
  tree = await tempDir('manifest-source');
  machineDir = await tempDir('manifest-machine');
  daemon = await startRsyncDaemon({ data: { path: tree } });
});

afterEach(async () => {
  await daemon.stop();
  await removeDir(tree);
  await removeDir(machineDir);
});

function backups(dir: string, overrides: JobOverrides = {}) {
  const log = captureLog();
  const clock = new TestClock('2024-12-15T03:12:00Z');
  const base = { machineDir: dir, varDir: join(dir, 'var'), url: daemon.url('data'), password: daemon.password, log };
  return { log, backup: () => runSnapshotMode('link-dest', makeJob(base, { now: clock.now, ...overrides })) };
}

async function manifestOf(snapshots: string, name: string) {
  const manifest = await readStoredManifest(snapshots, name);
  if (manifest === null) throw new Error(`no manifest for ${name}`);
  return manifest;
}

const ODD_NAMES = ['new\nline', 'back\\#012slash', 'tab\there', 'caf\u00e9'];

async function makeTree(): Promise<void> {
  for (const dir of ['a/deep/er', 'b/quiet', 'becomes-file', 'gone-dir/inner'])
    await mkdir(join(tree, dir), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(tree, 'a', `f${i}`), randomBytes(100 + i * 50));
  await writeFile(join(tree, 'a/deep/er/kept'), 'unchanged');
  await writeFile(join(tree, 'b/quiet/rewritten'), 'version 1');
  await writeFile(join(tree, 'becomes-file/inside'), 'x');
  await writeFile(join(tree, 'becomes-dir'), 'a file for now');
  await writeFile(join(tree, 'gone-dir/inner/file'), 'deleted with its directory');
  await writeFile(join(tree, 'mode-only'), 'same bytes');
  await symlink('a/f1', join(tree, 'pointer'));
  for (const name of ODD_NAMES) await writeFile(join(tree, name), `old ${name}`);
  const old = new Date('2021-03-03T03:03:03Z');
  for (const file of ['mode-only', 'b/quiet/rewritten', ...ODD_NAMES]) await utimes(join(tree, file), old, old);
}

async function changeSome(): Promise<void> {
  await writeFile(join(tree, 'b/quiet/rewritten'), 'version 2');
  await chmod(join(tree, 'mode-only'), 0o600);
  await rm(join(tree, 'a', 'f7'));
  await rm(join(tree, 'gone-dir'), { recursive: true });
  await rm(join(tree, 'becomes-file'), { recursive: true });
  await writeFile(join(tree, 'becomes-file'), 'was a directory');
  await rm(join(tree, 'becomes-dir'));
  await mkdir(join(tree, 'becomes-dir/new'), { recursive: true });
  await writeFile(join(tree, 'becomes-dir/new/child'), 'new');
  await rm(join(tree, 'pointer'));
  await symlink('b/quiet/rewritten', join(tree, 'pointer'));
  await chmod(join(tree, 'a/deep'), 0o700);
  for (const name of ODD_NAMES) await writeFile(join(tree, name), `new ${name}`);
}

/** A full backup of the tree, then an incremental of some changes (kept as a delta on the first's manifest). */
async function baseAndDelta() {
  await makeTree();
  const snapshots = join(machineDir, 'data.snapshots');
  const { backup, log } = backups(machineDir);
  const first = (await backup()).snapshot!;
  await changeSome();
  const second = (await backup()).snapshot!;
  return { snapshots, log, first, second };
}

test("an incremental on a clone records, from the dry run's changes alone, what a walk of the snapshot would", async () => {
  await makeTree();
  const { backup, log } = backups(machineDir);
  const snapshots = join(machineDir, 'data.snapshots');
  const first = (await backup()).snapshot!;
  await changeSome();

  const second = await backup();

  expect(second.success).toBe(true);
  expect(log.at('error')).toEqual([]);
  expect(log.at('info')).toContainEqual(
    expect.stringMatching(
      new RegExp(
        `^Recorded the manifest of \\S+ as a delta on that of ${first}: \\d+ entries changed or removed, 9 files hashed`,
      ),
    ),
  );
  // Kept as a delta: the base's manifest neither read whole nor written again.
  expect(existsSync(deltaPath(snapshots, second.snapshot!))).toBe(true);
  expect(existsSync(manifestPath(snapshots, second.snapshot!))).toBe(false);
  const recorded = await manifestOf(snapshots, second.snapshot!);
  const walked = await manifestEntries(join(snapshots, second.snapshot!));
  expect(recorded.entries).toEqual(walked.entries);
  // Read: the rewritten file, the new ones, the new symlink and the odd names; the rest is the base's.
  expect(recorded.header).toMatchObject({ hashed: 5 + ODD_NAMES.length, reused: 40 - 1 + 1 });
  expect((await manifestOf(snapshots, first)).header).toMatchObject({ hashed: 40 + 7 + ODD_NAMES.length, reused: 0 });

  // Nothing changed at all: the base's entries, nothing read.
  const third = await backup();
  const again = await manifestOf(snapshots, third.snapshot!);
  expect(again.entries).toEqual(recorded.entries);
  expect(again.header).toMatchObject({ hashed: 0 });
});

test(`after ${MAX_DELTA_DEPTH} deltas in a row the manifest is written whole, from the base's read as its pull begins`, async () => {
  await makeTree();
  const snapshots = join(machineDir, 'data.snapshots');
  const { backup } = backups(machineDir);
  const names = [(await backup()).snapshot!];
  for (let i = 1; i <= MAX_DELTA_DEPTH; i++) {
    await writeFile(join(tree, 'b/quiet/rewritten'), `version ${i}`);
    names.push((await backup()).snapshot!);
  }
  expect(names.slice(1).map((name) => existsSync(deltaPath(snapshots, name)))).toEqual(
    Array<boolean>(MAX_DELTA_DEPTH).fill(true),
  );
  await changeSome();
  await writeFile(join(tree, 'large-new'), randomBytes(2_000_000)); // about 1 s at the limit below
  const base = deltaPath(snapshots, names.at(-1)!);
  // Gone while the pull runs: only a manifest read before can be patched from.
  const beforePull = () => {
    setTimeout(() => void rm(base), 200);
    return Promise.resolve();
  };
  const { backup: last, log } = backups(machineDir, { descriptor: descriptor({ bwlimit: '2000' }), beforePull });

  const whole = await last();

  expect(whole.success).toBe(true);
  expect(existsSync(base)).toBe(false);
  expect(log.at('info')).toContainEqual(expect.stringMatching(/\(the dry run's changes only\), in/));
  expect(existsSync(manifestPath(snapshots, whole.snapshot!))).toBe(true);
  const recorded = await manifestOf(snapshots, whole.snapshot!);
  expect(recorded.entries).toEqual((await manifestEntries(join(snapshots, whole.snapshot!))).entries);
});

test('a snapshot expired under deltas: the next one is made whole first, and every manifest still reads as a walk', async () => {
  await makeTree();
  const snapshots = join(machineDir, 'data.snapshots');
  const { backup, log } = backups(machineDir, { descriptor: descriptor({ retention: 'last 2 snapshots' }) });
  const first = (await backup()).snapshot!;
  await changeSome();
  const second = (await backup()).snapshot!;
  await writeFile(join(tree, 'b/quiet/rewritten'), 'version 3');
  await rm(join(tree, 'a/f3'));

  const third = (await backup()).snapshot!;

  expect(log.at('error')).toEqual([]);
  expect(log.at('info')).toContainEqual(`Made the manifest of ${second} whole, as its base ${first} goes`);
  const left = await readdir(snapshots);
  expect(left.filter((entry) => entry.includes('.manifest')).sort()).toEqual(
    [`${second}.manifest.gz`, `${third}.manifest-delta.gz`].sort(),
  );
  for (const name of [second, third]) {
    expect((await manifestOf(snapshots, name)).entries).toEqual((await manifestEntries(join(snapshots, name))).entries);
    const verified = await verifyInDetail(
      makeJob({ machineDir, varDir: machineDir, url: '', password: '', log }).settings,
      log,
      { machineDir, source: 'data', snapshot: name, mode: 'link-dest' },
    );
    expect(verified.outcome.problems).toEqual([]);
  }
  // Its header is the one it had as a delta, with the files it took from its own base counted.
  expect((await manifestOf(snapshots, second)).header).toMatchObject({ hashed: 5 + ODD_NAMES.length, reused: 40 });

  // Killed once the whole manifest was written, before the delta was removed: the whole one is
  // read, and the next run removes the delta.
  await copyFile(deltaPath(snapshots, third), deltaPath(snapshots, second));
  expect((await manifestOf(snapshots, second)).header).toMatchObject({ snapshot: second, reused: 40 });
  await removeLeftovers(snapshots, log);
  expect(existsSync(deltaPath(snapshots, second))).toBe(false);
  expect(existsSync(deltaPath(snapshots, third))).toBe(true);
});

/** The fifo at `path` opened for writing once a reader waits in its open (before that: ENXIO). */
async function writerOnceReaderWaits(path: string): Promise<FileHandle> {
  for (let tries = 0; ; tries++) {
    try {
      return await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO' || tries > 1000) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

test("a reader racing the deletion of a delta's base reads the manifest made whole meanwhile", async () => {
  const { snapshots, log, first, second } = await baseAndDelta();
  expect(existsSync(deltaPath(snapshots, second))).toBe(true);
  const baseManifest = await readFile(manifestPath(snapshots, first));

  // The base's manifest made a fifo, so that the reader, having read the delta, waits to read it.
  await rm(manifestPath(snapshots, first));
  await execa('mkfifo', [manifestPath(snapshots, first)]);
  const reading = storedManifestData(snapshots, second);
  const writer = await writerOnceReaderWaits(manifestPath(snapshots, first));
  // Meanwhile retention deletes the base (the waiting reader keeps the fifo it opened): the delta
  // is made whole from the base's manifest, then the base and its manifest go.
  await rename(manifestPath(snapshots, first), join(machineDir, 'fifo'));
  await writeFile(manifestPath(snapshots, first), baseManifest);
  const [victim] = await listCandidates(snapshots, { timeZone: 'UTC', log });
  expect(victim!.dir).toBe(first);
  expect(await deleteSnapshot(snapshots, victim!, log)).toBe(true);
  expect(existsSync(deltaPath(snapshots, second))).toBe(false);
  expect(existsSync(manifestPath(snapshots, first))).toBe(false);
  // The reader's base comes to nothing: it takes the whole manifest written meanwhile.
  await writer.close();

  expect(await reading).toEqual({ gz: await readFile(manifestPath(snapshots, second)) });
  expect((await manifestOf(snapshots, second)).entries).toEqual(
    (await manifestEntries(join(snapshots, second))).entries,
  );
  expect(log.at('error')).toEqual([]);
});

test("a delta whose base's manifest is damaged or gone: verify says so, naming the base", async () => {
  const { snapshots, log, first, second } = await baseAndDelta();
  const verify = async () =>
    (
      await verifyInDetail(makeJob({ machineDir, varDir: machineDir, url: '', password: '', log }).settings, log, {
        machineDir,
        source: 'data',
        snapshot: second,
        mode: 'link-dest',
      })
    ).outcome.problems;

  await writeFile(manifestPath(snapshots, first), 'not gzip');
  expect(await verify()).toEqual([
    expect.objectContaining({
      kind: 'unreadable',
      detail: expect.stringContaining(`the manifest of ${first} is damaged`),
    }),
  ]);
  await rm(manifestPath(snapshots, first));
  expect(await verify()).toEqual([
    expect.objectContaining({
      kind: 'unreadable',
      detail: expect.stringContaining(`the manifest of ${second} is a delta on that of ${first}, which has none`),
    }),
  ]);
});

test('a full backup hashes the files rsync has finished while it transfers the others; the manifest is a walk’s', async () => {
  for (let i = 0; i < 30; i++) await writeFile(join(tree, `f${String(i).padStart(2, '0')}`), randomBytes(100_000));
  await writeFile(join(tree, 'small'), 'under the early hashing’s 64 KiB');
  await symlink('f01', join(tree, 'link'));
  // Slow enough (about 1.5 s) for the output to be read while rsync runs.
  const { backup, log } = backups(machineDir, { descriptor: descriptor({ bwlimit: '2000' }) });
  const snapshots = join(machineDir, 'data.snapshots');

  const first = await backup();

  expect(first.success).toBe(true);
  const recorded = await manifestOf(snapshots, first.snapshot!);
  expect(recorded.entries).toEqual((await manifestEntries(join(snapshots, first.snapshot!))).entries);
  expect(recorded.header).toMatchObject({ hashed: 32, reused: 0 });
  const line = log.at('info').find((message) => message.startsWith('Recorded the manifest'));
  expect(line).toMatch(/: 32 entries, 32 files hashed \(3000037 bytes, (\d+) files while rsync ran\), 0 reused/);
  expect(Number(/, (\d+) files while rsync ran/.exec(line!)![1])).toBeGreaterThan(10);
});

test('a full backup of many small files records their directories while rsync runs; the manifest is a walk’s', async () => {
  // 3,000 files in 60 directories (the live recording starts past 2,000 named files), some odd names.
  for (let d = 0; d < 60; d++) {
    const dir = join(
      tree,
      `dir${String(d).padStart(2, '0')}`,
      d % 7 === 0 ? ODD_NAMES[d % ODD_NAMES.length]! : 'plain',
    );
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < 50; f++) await writeFile(join(dir, `f${f}`), randomBytes(100 + ((d * 50 + f) % 900)));
  }
  await symlink('f1', join(tree, 'dir03/plain/link'));
  // Slow enough (about 3 s) for directories to be recorded while rsync runs.
  const { backup, log } = backups(machineDir, { descriptor: descriptor({ bwlimit: '600' }) });
  const snapshots = join(machineDir, 'data.snapshots');

  const first = await backup();

  expect(first.success).toBe(true);
  const recorded = await manifestOf(snapshots, first.snapshot!);
  expect(recorded.entries).toEqual((await manifestEntries(join(snapshots, first.snapshot!))).entries);
  const line = log.at('info').find((message) => message.startsWith('Recorded the manifest'));
  expect(line).toMatch(
    /: 3121 entries, 3001 files hashed \(\d+ bytes, (\d+) directories recorded while rsync ran\), 0 reused/,
  );
  // However busy the machine (its threads run at the lowest priority), some were.
  expect(Number(/, (\d+) directories recorded while rsync ran/.exec(line!)![1])).toBeGreaterThan(0);
  // Verify finds nothing amiss.
  const verified = await verifyInDetail(
    makeJob({ machineDir, varDir: machineDir, url: '', password: '', log }).settings,
    log,
    { machineDir, source: 'data', snapshot: first.snapshot!, mode: 'link-dest' },
  );
  expect(verified.outcome.problems).toEqual([]);
});

test('a damaged base manifest: the incremental hashes everything', async () => {
  await makeTree();
  const { backup, log } = backups(machineDir);
  const snapshots = join(machineDir, 'data.snapshots');
  const first = (await backup()).snapshot!;
  await writeFile(manifestPath(snapshots, first), 'not gzip');
  await changeSome();

  const second = await backup();

  expect(second.success).toBe(true);
  const recorded = await manifestOf(snapshots, second.snapshot!);
  expect(recorded.header).toMatchObject({ reused: 0, hashed: recorded.entries.filter((e) => e.type !== 'd').length });
  expect(recorded.entries).toEqual((await manifestEntries(join(snapshots, second.snapshot!))).entries);
  expect(log.at('info').filter((line) => line.includes("the dry run's changes only"))).toEqual([]);
});

describe('a full disk while the manifest is written', () => {
  let mount: string | null = null;

  afterEach(async () => {
    if (mount !== null) {
      await execa('umount', [mount]).catch(() => undefined);
      await removeDir(mount);
      mount = null;
    }
  });

  // A small tmpfs (root mounts it, as the end-to-end tests need root anyway), filled up, then
  // freed a page at a time until a backup succeeds: its sidecar (one page) fits, its manifest
  // (several pages) does not.
  test('the backup succeeds with its snapshot intact, no manifest file (not even a partial one), and the log says why', async () => {
    for (let i = 0; i < 300; i++) await writeFile(join(tree, `a-file-with-a-rather-long-name-${i}`), randomBytes(64));
    mount = await tempDir('manifest-tmpfs');
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
    const { backup, log } = backups(mount);
    const snapshots = join(mount, 'data.snapshots');
    const first = await backup();
    expect(first.success).toBe(true);
    expect((await manifestOf(snapshots, first.snapshot!)).entries).toHaveLength(300);
    // Without it, the next manifests are written whole (several pages); a delta would fit in the page left.
    await rm(manifestPath(snapshots, first.snapshot!));

    const filler = join(mount, 'filler');
    const handle = await open(filler, 'w');
    let size = 0;
    try {
      for (;;) {
        await handle.write(Buffer.alloc(4096, 1));
        size += 4096;
      }
    } catch (error) {
      expect(error).toMatchObject({ code: 'ENOSPC' });
    } finally {
      await handle.close();
    }

    let outcome = await backup();
    for (let pages = 1; !outcome.success && pages <= 16; pages++) {
      await truncate(filler, size - pages * 4096);
      outcome = await backup();
    }

    expect(outcome.success).toBe(true);
    const name = outcome.snapshot!;
    expect(log.at('error')).toContainEqual(
      expect.stringMatching(
        new RegExp(`^Cannot record the manifest of ${name}: .*ENOSPC.*; the snapshot is kept without one$`),
      ),
    );
    const left = await readdir(snapshots);
    expect(left).not.toContain(`${name}.manifest.gz`);
    expect(left.filter((entry) => entry.includes('.tmp'))).toEqual([]);
    // The snapshot is the source, every attribute rsync -a keeps included.
    const differences = await execa('rsync', [
      '-a',
      '--dry-run',
      '--itemize-changes',
      '--delete',
      `${tree}/`,
      `${join(snapshots, name)}/`,
    ]);
    expect(String(differences.stdout)).toBe('');
    const verified = await verifyInDetail(
      makeJob({ machineDir: mount, varDir: mount, url: '', password: '', log }).settings,
      log,
      {
        machineDir: mount,
        source: 'data',
        snapshot: name,
        mode: 'link-dest',
      },
    );
    expect(verified.outcome.problems.map((problem) => problem.kind)).toEqual(['no-manifest']);

    // With room again, the next backup records one, reading everything (its base has none).
    await rm(filler);
    const next = await backup();
    expect(next.success).toBe(true);
    expect((await manifestOf(snapshots, next.snapshot!)).header).toMatchObject({ hashed: 300, reused: 0 });
    const clean = await verifyInDetail(
      makeJob({ machineDir: mount, varDir: mount, url: '', password: '', log }).settings,
      log,
      {
        machineDir: mount,
        source: 'data',
        snapshot: next.snapshot!,
        mode: 'link-dest',
      },
    );
    expect(clean.outcome.problems).toEqual([]);
  });
});
