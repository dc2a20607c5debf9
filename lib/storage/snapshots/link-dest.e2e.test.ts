import { jest } from '@jest/globals';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import {
  captureLog,
  describeTree,
  descriptor,
  inodes,
  makeJob,
  removeDir,
  tempDir,
  TestClock,
  type CapturedLog,
  type Entry,
  type JobOverrides,
} from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { runSnapshotMode } from './index.js';
import { type SnapshotOutcome } from './types.js';

// Real rsync daemons and borg processes: generous for a loaded CI machine.
jest.setTimeout(30_000);

let root: string;
let source: string;
let daemon: RsyncDaemon;

beforeAll(async () => {
  root = await tempDir('link-dest');
  source = join(root, 'source');
  await makeSourceTree(source);
  daemon = await startRsyncDaemon({ data: { path: source } });
});

afterAll(async () => {
  await daemon.stop();
  await removeDir(root);
});

/** Modes, symlinks, a hard-linked pair, an empty file, old mtimes: what --archive must keep. */
async function makeSourceTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'etc', 'private'), { recursive: true });
  await mkdir(join(dir, 'cache'));
  await writeFile(join(dir, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(dir, 'etc', 'private', 'key'), 'secret\n', { mode: 0o600 });
  await chmod(join(dir, 'etc', 'private'), 0o750);
  await writeFile(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(dir, 'run.sh'), 0o755);
  await writeFile(join(dir, 'empty'), '');
  await writeFile(join(dir, 'big.bin'), Buffer.alloc(300_000, 7));
  await writeFile(join(dir, 'linked-a'), 'same inode\n');
  await link(join(dir, 'linked-a'), join(dir, 'linked-b'));
  await symlink('etc/hosts', join(dir, 'hosts-link'));
  await symlink('/nonexistent/target', join(dir, 'dangling'));
  await writeFile(join(dir, 'debug.log'), 'noise\n');
  await writeFile(join(dir, 'cache', 'blob'), 'cached\n');
  const old = new Date('2020-05-05T05:05:05Z');
  for (const file of ['etc/hosts', 'run.sh', 'big.bin', 'empty']) await utimes(join(dir, file), old, old);
}

interface Fixture {
  machineDir: string;
  snapshots: string;
  log: CapturedLog;
  clock: TestClock;
  backup: (overrides?: JobOverrides) => Promise<SnapshotOutcome>;
}

async function fixture(start = '2024-12-15T03:12:00Z'): Promise<Fixture> {
  const machineDir = await tempDir('machine');
  const log = captureLog();
  const clock = new TestClock(start);
  const base = { machineDir, varDir: join(root, 'var'), url: daemon.url('data'), password: daemon.password, log };
  return {
    machineDir,
    snapshots: join(machineDir, 'data.snapshots'),
    log,
    clock,
    backup: (overrides = {}) => runSnapshotMode('link-dest', makeJob(base, { now: clock.now, ...overrides })),
  };
}

const fixtures: Fixture[] = [];
async function setUp(start?: string): Promise<Fixture> {
  const created = await fixture(start);
  fixtures.push(created);
  return created;
}
afterEach(async () => {
  for (const used of fixtures.splice(0)) await removeDir(used.machineDir);
});

function withoutHardLinks(tree: Record<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(Object.entries(tree).map(([path, entry]) => [path, { ...entry, linkGroup: null }]));
}

async function state(dir: string): Promise<unknown> {
  const entries = (await readdir(dir)).sort();
  const result: Record<string, unknown> = {};
  for (const entry of entries) {
    const path = join(dir, entry);
    const info = await lstat(path);
    result[entry] = info.isSymbolicLink()
      ? `-> ${await readlink(path)}`
      : info.isDirectory()
        ? { ino: info.ino, files: await inodes(path) }
        : await readFile(path, 'utf8');
  }
  return result;
}

const NAME = /^data_\d{8}-\d{6}_[0-9a-f]{4}$/;

/** A hand-made snapshot: a copy of the source with a sidecar finishing at `finish`. */
async function oldSnapshot(snapshots: string, name: string, finish: string | null): Promise<void> {
  await mkdir(snapshots, { recursive: true });
  await execa('cp', ['-a', `${source}/.`, join(snapshots, name)]);
  if (finish !== null) {
    await writeFile(join(snapshots, `${name}.json`), JSON.stringify({ base: null, name, sync_finish: finish }));
  }
}

describe('link-dest mode', () => {
  test('first backup: the working copy becomes a named snapshot with sidecar and latest', async () => {
    const { backup, snapshots, machineDir, log } = await setUp();
    const outcome = await backup();

    expect(outcome).toEqual({
      success: true,
      snapshot: 'data_20241215-031201_' + outcome.snapshot?.slice(-4),
      summary: '',
    });
    expect(outcome.snapshot).toMatch(NAME);
    const name = outcome.snapshot!;
    expect((await readdir(machineDir)).sort()).toEqual(['data.snapshots']);
    expect((await readdir(snapshots)).sort()).toEqual([name, `${name}.json`, `${name}.manifest.gz`, 'latest']);
    expect(await readlink(join(snapshots, 'latest'))).toBe(name);
    expect(await readFile(join(snapshots, `${name}.json`), 'utf8')).toBe(
      `{\n    "base": null,\n    "name": "${name}",\n    "sync_begin": "2024-12-15T03:12:00.000000+00:00",\n` +
        `    "sync_finish": "2024-12-15T03:12:01.000000+00:00"\n}\n`,
    );
    // Byte-identical: content, modes, owners, mtimes, symlinks (hard links only when asked).
    expect(await describeTree(join(snapshots, name))).toEqual(withoutHardLinks(await describeTree(source)));
    const running = log.at('debug').find((line) => line.startsWith('Running: '));
    // The first backup's pull prints each name after its size, for the manifest's early hashing.
    expect(running).toContain("--delete-excluded --verbose '--out-format=%l %n%L' rsync://");
    expect(running).not.toContain('--link-dest');
    expect(log.at('debug')).toContain('Return code: 0');
  });

  test('incremental backup: unchanged files are hard links to the base', async () => {
    const { backup, snapshots, machineDir, log } = await setUp();
    const first = (await backup()).snapshot!;
    await writeFile(join(source, 'changing'), 'version 2\n');
    try {
      const outcome = await backup();
      expect(outcome.success).toBe(true);
      expect(outcome.summary).toBe(`Base snapshot: ${first}\n`);
      const second = outcome.snapshot!;
      expect(second).not.toBe(first);
      // The base is cloned with hard links after a dry run against it; the pull only adds.
      const runs = log
        .at('debug')
        .filter((line) => line.startsWith('Running: '))
        .slice(1);
      expect(runs[0]).toBe(
        `Running: cp --archive --link --no-target-directory -- ${join(snapshots, first)} ${join(machineDir, 'data')}`,
      );
      expect(runs[1]).toContain(` --dry-run '--out-format=%i %n' rsync://`);
      expect(runs[1]).toMatch(new RegExp(`/data/ ${join(snapshots, first)}/$`));
      expect(runs[2]).toMatch(
        / --numeric-ids --sockopts=TCP_NODELAY --files-from=\S+ --from0 --verbose --ignore-existing --modify-window=-1 rsync:\/\//,
      );
      expect(runs[2]).not.toContain('--delete');
      expect(runs.join('\n')).not.toContain('--link-dest');
      const before = await inodes(join(snapshots, first));
      const after = await inodes(join(snapshots, second));
      for (const file of ['etc/hosts', 'etc/private/key', 'run.sh', 'big.bin', 'linked-a', 'empty']) {
        expect(after[file]).toBe(before[file]);
      }
      expect(after.changing).toBeDefined();
      expect(before.changing).toBeUndefined();
      expect(await readlink(join(snapshots, 'latest'))).toBe(second);
      const sidecar = JSON.parse(await readFile(join(snapshots, `${second}.json`), 'utf8')) as Record<string, unknown>;
      expect(sidecar.base).toBe(first);
      expect(await describeTree(join(snapshots, second))).toEqual(withoutHardLinks(await describeTree(source)));
    } finally {
      await removeDir(join(source, 'changing'));
    }
  });

  test.each([
    ['the storage setting', { settings: { preserveHardLinks: true } }],
    ['the source flag', { descriptor: descriptor({ preserve_hard_links: true }) }],
  ])('hard links are preserved when %s asks', async (_, overrides: JobOverrides) => {
    const { backup, snapshots, log } = await setUp();
    const outcome = await backup(overrides);
    expect(log.at('debug')[0]).toContain(' --hard-links ');
    expect(await describeTree(join(snapshots, outcome.snapshot!))).toEqual(await describeTree(source));
  });

  test('filters and excludes apply; merge rules do not', async () => {
    const { backup, snapshots } = await setUp();
    const outcome = await backup({
      descriptor: descriptor({ filter: ['- *.log', 'merge /etc/passwd'], exclude: ['/cache', 'private/'] }),
    });
    const tree = await describeTree(join(snapshots, outcome.snapshot!));
    expect(Object.keys(tree)).not.toEqual(expect.arrayContaining(['debug.log']));
    expect(Object.keys(tree).filter((path) => /log$|cache|private/.test(path))).toEqual([]);
    expect(tree['etc/hosts']).toBeDefined();
  });

  test('a failed rsync leaves every snapshot and latest untouched; leftovers go before the pull', async () => {
    const { backup, snapshots, machineDir, log } = await setUp();
    await backup();
    const second = (await backup()).snapshot!;
    const before = await state(snapshots);
    await mkdir(join(snapshots, '_delete-data_20200101-000000_dead'));

    const failed = await backup({ remote: { url: daemon.url('data'), password: 'wrong' } });

    expect(failed).toEqual({
      success: false,
      snapshot: null,
      summary: 'agent refused credentials (rsync exit code 5)',
    });
    // [FIX] Leftovers no longer wait for a successful run: a run that fails for space would never come.
    expect(await state(snapshots)).toEqual(before);
    expect(await readdir(join(machineDir, 'data'))).toEqual([]);

    // A partial working copy of a run with a base is set aside, and removed before the pull.
    await writeFile(join(machineDir, 'data', 'stale'), 'from an interrupted run');
    const next = await backup();
    expect(next.summary).toBe(`Base snapshot: ${second}\n`);
    expect(await describeTree(join(snapshots, next.snapshot!))).toEqual(withoutHardLinks(await describeTree(source)));
    expect(log.at('info')).toContainEqual(
      expect.stringMatching(
        /^Setting the partial working copy of a failed run aside as .*\/_delete-working-[0-9a-f]{8}$/,
      ),
    );
    expect((await readdir(snapshots)).filter((entry) => entry.startsWith('_delete-'))).toEqual([]);
  });

  test('a first backup reuses the partial working copy of a failed run', async () => {
    const { backup, machineDir, log } = await setUp();
    await mkdir(join(machineDir, 'data', 'etc'), { recursive: true });
    await writeFile(join(machineDir, 'data', 'etc', 'hosts'), 'partly copied');
    const outcome = await backup();
    expect(outcome.success).toBe(true);
    expect(log.at('info').filter((line) => line.startsWith('Setting the partial'))).toEqual([]);
  });

  test.each([
    ['the clone', {}],
    ['rsync’s --link-dest (hard links kept)', { settings: { preserveHardLinks: true } }],
  ])(
    '[FIX] through %s, a mode change on a file a partial working copy links to the base does not reach the base',
    async (_, overrides: JobOverrides) => {
      const { backup, snapshots, machineDir } = await setUp();
      const first = (await backup(overrides)).snapshot!;
      const baseTree = await describeTree(join(snapshots, first));
      // What an interrupted --link-dest run leaves: the working copy links to the base's inode.
      await mkdir(join(machineDir, 'data', 'etc'), { recursive: true });
      await link(join(snapshots, first, 'etc', 'hosts'), join(machineDir, 'data', 'etc', 'hosts'));
      await chmod(join(source, 'etc', 'hosts'), 0o600);
      try {
        const second = (await backup(overrides)).snapshot!;
        expect(await describeTree(join(snapshots, first))).toEqual(baseTree);
        expect((await describeTree(join(snapshots, second)))['etc/hosts']).toMatchObject({ mode: 0o600 });
      } finally {
        await chmod(join(source, 'etc', 'hosts'), 0o644);
      }
    },
  );

  test('retention expires old snapshots: rename, sidecar, tree', async () => {
    const { backup, snapshots, log, clock } = await setUp();
    const days = ['10', '11', '12', '13', '14'];
    for (const day of days)
      await oldSnapshot(snapshots, `data_202412${day}-031200_abcd`, `2024-12-${day}T03:12:00+00:00`);
    clock.set('2024-12-15T03:12:00Z');

    const outcome = await backup({ descriptor: descriptor({ retention: 'last 3 snapshots' }) });

    expect(outcome.summary).toBe(
      'Base snapshot: data_20241214-031200_abcd\n' +
        'Removed old snapshot: data_20241210-031200_abcd\n' +
        'Removed old snapshot: data_20241211-031200_abcd\n' +
        'Removed old snapshot: data_20241212-031200_abcd\n',
    );
    expect((await readdir(snapshots)).sort()).toEqual(
      [
        'data_20241213-031200_abcd',
        'data_20241213-031200_abcd.json',
        'data_20241214-031200_abcd',
        'data_20241214-031200_abcd.json',
        outcome.snapshot!,
        `${outcome.snapshot!}.json`,
        `${outcome.snapshot!}.manifest.gz`,
        'latest',
      ].sort(),
    );
    expect(log.at('info')).toContain('Removed old snapshot data_20241210-031200_abcd');
    const renames = log.at('debug').filter((line) => line.startsWith('Running: rm -rf -- '));
    expect(renames).toHaveLength(3);
    expect(renames[0]).toContain('/_delete-data_20241210-031200_abcd');
  });

  test('calendar retention in the storage zone keeps the newest snapshot', async () => {
    const { backup, snapshots, clock } = await setUp();
    await oldSnapshot(snapshots, 'data_20241130-120000_abcd', '2024-11-30T12:00:00+00:00');
    await oldSnapshot(snapshots, 'data_20241201-010000_abcd', '2024-12-01T01:00:00+00:00');
    await oldSnapshot(snapshots, 'data_20241205-010000_abcd', '2024-12-05T01:00:00+00:00');
    clock.set('2024-12-15T03:12:00Z');
    // Dec 1 01:00 UTC is still Nov 30 in New York: the month's first snapshot there is Dec 5.
    const outcome = await backup({
      descriptor: descriptor({ retention: 'Earliest Of Month' }),
      settings: { timezone: 'America/New_York' },
    });
    expect(outcome.summary).toBe(
      'Base snapshot: data_20241205-010000_abcd\n' +
        'Removed old snapshot: data_20241130-120000_abcd\n' +
        'Removed old snapshot: data_20241201-010000_abcd\n',
    );
    expect(outcome.snapshot).toMatch(/^data_20241214-221201_/);
  });

  test('an unrecognised clause: retention not applied, and the summary says so', async () => {
    const { backup, snapshots, log } = await setUp();
    for (const day of ['01', '02', '03'])
      await oldSnapshot(snapshots, `data_202412${day}-000000_abcd`, `2024-12-${day}T00:00:00+00:00`);
    const outcome = await backup({ descriptor: descriptor({ retention: 'last 5 days, earliest of 1 year' }) });
    expect(outcome.success).toBe(true);
    expect(outcome.summary).toBe(
      'Base snapshot: data_20241203-000000_abcd\nRetention not applied: unrecognised clause "earliest of 1 year"\n',
    );
    expect((await readdir(snapshots)).filter((entry) => !/\.(json|manifest\.gz)$/.test(entry))).toHaveLength(5);
    expect(log.at('warning')).toEqual([expect.stringContaining('earliest of 1 year')]);

    const zero = await backup({ descriptor: descriptor({ retention: 'last 0 snapshots' }) });
    expect(zero.summary).toContain('Retention not applied: unrecognised clause "last 0 snapshots"\n');
  });

  test('legacy-named snapshots serve as base and are expired; protected ones stay', async () => {
    const { backup, snapshots, clock, log } = await setUp();
    await oldSnapshot(snapshots, '1424392089.43', null);
    await oldSnapshot(snapshots, '2015-02-20T03:21:18.152575', null);
    await mkdir(join(snapshots, '2015-02-21T00:00:00-save'));
    await mkdir(join(snapshots, 'working'));
    await symlink('2015-02-20T03:21:18.152575', join(snapshots, 'latest'));
    clock.set('2024-12-15T03:12:00Z');
    const before = await inodes(join(snapshots, '2015-02-20T03:21:18.152575'));

    const outcome = await backup({ descriptor: descriptor({ retention: 'last 1 snapshot' }) });

    const name = outcome.snapshot!;
    const after = await inodes(join(snapshots, name));
    expect(after['big.bin']).toBe(before['big.bin']);
    expect(outcome.summary).toBe(
      'Base snapshot: 2015-02-20T03:21:18.152575\n' +
        'Removed old snapshot: 1424392089.43\n' +
        'Removed old snapshot: 2015-02-20T03:21:18.152575\n',
    );
    expect((await readdir(snapshots)).sort()).toEqual(
      ['2015-02-21T00:00:00-save', 'latest', name, `${name}.json`, `${name}.manifest.gz`, 'working'].sort(),
    );
    expect(await readlink(join(snapshots, 'latest'))).toBe(name);
    expect(log.at('info')).toContain(`Not snapshots, left alone in ${snapshots}: 2015-02-21T00:00:00-save, working`);
  });

  test('a latest that is not a symlink is left alone', async () => {
    const { backup, snapshots, log } = await setUp();
    await mkdir(join(snapshots, 'latest'), { recursive: true });
    await writeFile(join(snapshots, 'latest', 'operator-notes'), 'mine');
    const outcome = await backup();
    expect(outcome.success).toBe(true);
    expect(await readdir(join(snapshots, 'latest'))).toEqual(['operator-notes']);
    expect(log.at('warning')).toEqual([`${join(snapshots, 'latest')} is not a symlink; leaving it alone`]);
  });

  test('a bad time zone fails before anything is copied', async () => {
    const { backup, machineDir } = await setUp();
    const outcome = await backup({ settings: { timezone: 'Mars/Olympus' } });
    expect(outcome).toEqual({
      success: false,
      snapshot: null,
      summary: 'Snapshot failed: unknown time zone "Mars/Olympus"',
    });
    expect(await readdir(machineDir)).toEqual([]);
  });
});

describe('link-dest on a full disk', () => {
  let mount: string | null = null;

  afterEach(async () => {
    if (mount !== null) {
      await execa('umount', [mount]).catch(() => undefined);
      await removeDir(mount);
      mount = null;
    }
  });

  // A tmpfs with few inodes, filled up, then freed one by one to hit ENOSPC at chosen steps.
  // Needs root to mount, as the end-to-end tests need it for network namespaces.
  test('ENOSPC in rsync or in the sidecar: a failure that changes no snapshot; the data stays the working copy', async () => {
    mount = await tempDir('tmpfs');
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=8m,nr_inodes=64', 'tmpfs', mount]);
    const small = await tempDir('small-source');
    try {
      await writeFile(join(small, 'a'), 'a');
      await writeFile(join(small, 'b'), 'b');
      const smallDaemon = await startRsyncDaemon({ small: { path: small } });
      try {
        const log = captureLog();
        const clock = new TestClock('2024-12-15T03:12:00Z');
        const job = makeJob(
          {
            machineDir: mount,
            varDir: join(root, 'var'),
            url: smallDaemon.url('small'),
            password: smallDaemon.password,
            log,
          },
          { now: clock.now },
        );
        const first = await runSnapshotMode('link-dest', job);
        expect(first.success).toBe(true);
        const snapshots = join(mount, 'data.snapshots');
        const before = await state(snapshots);

        const fillers: string[] = [];
        for (;;) {
          const filler = join(mount, `fill-${fillers.length}`);
          try {
            await writeFile(filler, '');
          } catch (error) {
            expect(error).toMatchObject({ code: 'ENOSPC' });
            break;
          }
          fillers.push(filler);
        }
        // One inode free: the working copy's directory takes it, and rsync cannot link a thing.
        await removeDir(fillers.pop()!);
        const rsyncFull = await runSnapshotMode('link-dest', job);
        expect(rsyncFull).toEqual({
          success: false,
          snapshot: null,
          summary: `no space left on volume ${mount} (rsync exit code 23)`,
        });
        expect(await state(snapshots)).toEqual(before);

        // Two more (tmpfs counts every hard link): rsync links both files, the sidecar finds none.
        await removeDir(fillers.pop()!);
        await removeDir(fillers.pop()!);
        const full = await runSnapshotMode('link-dest', job);
        expect(full.success).toBe(false);
        expect(full.snapshot).toBeNull();
        expect(full.summary).toMatch(/^Cannot write sidecar of data_20241215-\d{6}_[0-9a-f]{4}: .*ENOSPC/);
        expect(await state(snapshots)).toEqual(before);
        expect((await readdir(join(mount, 'data'))).sort()).toEqual(['a', 'b']);
        expect(log.at('error')).toEqual([expect.stringMatching(/^Cannot write the sidecar of .*ENOSPC/)]);

        for (const filler of fillers) await removeDir(filler);
        const next = await runSnapshotMode('link-dest', job);
        expect(next.success).toBe(true);
        expect(next.summary).toBe(`Base snapshot: ${first.snapshot}\n`);
      } finally {
        await smallDaemon.stop();
      }
    } finally {
      await removeDir(small);
    }
  });
});

describe('link-dest with a base: the hard-link clone', () => {
  let tree: string;
  let treeDaemon: RsyncDaemon;
  const ODD_NAMES = ['new\nline', 'back\\#012slash', 'tab\there', 'a -> b', 'caf\u00e9'];
  const LATIN1_NAME = Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9]); // not UTF-8

  beforeEach(async () => {
    tree = await tempDir('clone-source');
    await mkdir(join(tree, 'dir', 'sub'), { recursive: true });
    await mkdir(join(tree, 'becomes-file'));
    await writeFile(join(tree, 'becomes-file', 'inside'), 'x');
    await writeFile(join(tree, 'becomes-dir'), 'a file for now');
    await writeFile(join(tree, 'mode-only'), 'same bytes, same time');
    await writeFile(join(tree, 'rewritten'), 'version 1');
    await writeFile(join(tree, 'gone'), 'deleted later');
    await writeFile(join(tree, 'dir', 'sub', 'kept'), 'unchanged');
    await mkdir(join(tree, 'quiet-a', 'deeper'), { recursive: true });
    await mkdir(join(tree, 'quiet-b', 'deeper'), { recursive: true });
    await writeFile(join(tree, 'quiet-a', 'deeper', 'rewritten-in-place'), 'version 1');
    await writeFile(join(tree, 'quiet-b', 'deeper', 'deleted-quietly'), 'gone later');
    await symlink('dir/sub/kept', join(tree, 'pointer'));
    for (const name of ODD_NAMES) await writeFile(join(tree, name), `old ${name}`);
    await writeFile(Buffer.from(`${tree}/${LATIN1_NAME.toString('latin1')}`, 'latin1'), 'old');
    const old = new Date('2021-03-03T03:03:03Z');
    for (const file of ['mode-only', 'rewritten', 'dir/sub/kept', 'quiet-a/deeper/rewritten-in-place', ...ODD_NAMES]) {
      await utimes(join(tree, file), old, old);
    }
    treeDaemon = await startRsyncDaemon({ data: { path: tree } });
  });

  afterEach(async () => {
    await treeDaemon.stop();
    await removeDir(tree);
  });

  /** What `rsync -a` would change to make `copy` the source: empty when every attribute matches. */
  async function rsyncDifferences(source: string, copy: string): Promise<string> {
    const dryRun = await execa('rsync', [
      '--archive',
      '--dry-run',
      '--itemize-changes',
      '--delete',
      `${source}/`,
      `${copy}/`,
    ]);
    return String(dryRun.stdout);
  }

  async function treeFixture(): Promise<Fixture> {
    const machineDir = await tempDir('machine');
    const log = captureLog();
    const clock = new TestClock('2024-12-15T03:12:00Z');
    const base = {
      machineDir,
      varDir: join(root, 'var'),
      url: treeDaemon.url('data'),
      password: treeDaemon.password,
      log,
    };
    const created: Fixture = {
      machineDir,
      snapshots: join(machineDir, 'data.snapshots'),
      log,
      clock,
      backup: (overrides = {}) => runSnapshotMode('link-dest', makeJob(base, { now: clock.now, ...overrides })),
    };
    fixtures.push(created);
    return created;
  }

  /** Every kind of change the dry run must itemize, and one entry that stays. */
  async function changeEverything(): Promise<void> {
    // In directories whose times stay as they were: the clone's copies must get those times back.
    const quiet = ['quiet-a', 'quiet-a/deeper', 'quiet-b', 'quiet-b/deeper'].map((dir) => join(tree, dir));
    const times = await Promise.all(quiet.map((dir) => lstat(dir)));
    await writeFile(join(tree, 'quiet-a', 'deeper', 'rewritten-in-place'), 'version 2');
    await removeDir(join(tree, 'quiet-b', 'deeper', 'deleted-quietly'));
    for (const [i, dir] of quiet.entries()) await utimes(dir, times[i]!.atime, times[i]!.mtime);
    await chmod(join(tree, 'mode-only'), 0o600);
    await writeFile(join(tree, 'rewritten'), 'version 2');
    await removeDir(join(tree, 'gone'));
    await removeDir(join(tree, 'becomes-file'));
    await writeFile(join(tree, 'becomes-file'), 'was a directory');
    await removeDir(join(tree, 'becomes-dir'));
    await mkdir(join(tree, 'becomes-dir'));
    await writeFile(join(tree, 'becomes-dir', 'child'), 'new');
    await removeDir(join(tree, 'pointer'));
    await symlink('rewritten', join(tree, 'pointer'));
    await mkdir(join(tree, 'dir', 'new-dir'));
    await writeFile(join(tree, 'dir', 'new-dir', 'file'), 'new');
    await chmod(join(tree, 'dir'), 0o700);
    for (const name of ODD_NAMES) await writeFile(join(tree, name), `new ${name}`);
    await writeFile(Buffer.from(`${tree}/${LATIN1_NAME.toString('latin1')}`, 'latin1'), 'new and longer');
  }

  test('every kind of change lands in the new snapshot and none in the base', async () => {
    const { backup, snapshots, log } = await treeFixture();
    const first = (await backup()).snapshot!;
    const baseTree = await describeTree(join(snapshots, first));
    const baseInodes = await inodes(join(snapshots, first));
    await changeEverything();

    const outcome = await backup();

    expect(outcome.success).toBe(true);
    expect(log.at('info')).toContainEqual(
      expect.stringMatching(/^Cloned the base with hard links; \d+ changed and 3 deleted entries$/),
    );
    const second = join(snapshots, outcome.snapshot!);
    expect(await describeTree(second)).toEqual(withoutHardLinks(await describeTree(tree)));
    expect(await describeTree(join(snapshots, first))).toEqual(baseTree);
    // Every attribute rsync -a keeps, directory times included, is the source's.
    expect(await rsyncDifferences(tree, second)).toBe('');
    const latin1 = Buffer.from(`${second}/${LATIN1_NAME.toString('latin1')}`, 'latin1');
    expect(await readFile(latin1, 'utf8')).toBe('new and longer');
    // Unchanged entries are the base's inodes; changed ones are not.
    const after = await inodes(second);
    expect(after['dir/sub/kept']).toBe(baseInodes['dir/sub/kept']);
    for (const changed of ['mode-only', 'rewritten', ...ODD_NAMES])
      expect(after[changed]).not.toBe(baseInodes[changed]);
  });

  test('nothing changed: the clone is the snapshot, with no pull after the dry run', async () => {
    const { backup, snapshots, log } = await treeFixture();
    const first = (await backup()).snapshot!;
    const outcome = await backup();
    expect(outcome).toMatchObject({ success: true, summary: `Base snapshot: ${first}\n` });
    expect(log.at('info')).toContain('Cloned the base with hard links; 0 changed and 0 deleted entries');
    const runs = log.at('debug').filter((line) => line.startsWith('Running: '));
    expect(runs.filter((line) => line.startsWith('Running: rsync '))).toHaveLength(2); // first backup, dry run
    expect(await rsyncDifferences(tree, join(snapshots, outcome.snapshot!))).toBe('');
  });

  test('hard-link groups keep rsync’s own --link-dest', async () => {
    const { backup, snapshots, log } = await treeFixture();
    const first = (await backup({ settings: { preserveHardLinks: true } })).snapshot!;
    await changeEverything();
    const outcome = await backup({ settings: { preserveHardLinks: true } });
    const runs = log.at('debug').filter((line) => line.startsWith('Running: '));
    expect(runs.at(-1)).toContain(`--link-dest=${join(snapshots, first)} --hard-links `);
    expect(runs.join('\n')).not.toContain('--dry-run');
    expect(await describeTree(join(snapshots, outcome.snapshot!))).toEqual(await describeTree(tree));
  });

  test('output the parser does not know: no clone, rsync’s --link-dest instead', async () => {
    const { backup, snapshots, machineDir, log } = await treeFixture();
    const chatty = {
      settings: { rsyncCommand: ['sh', '-c', 'echo "Welcome to the agent"; exec rsync "$@"', 'rsync'] },
    };
    const first = (await backup(chatty)).snapshot!;
    await changeEverything();
    const outcome = await backup(chatty);
    expect(log.at('warning')).toContain(
      'Cannot clone the base (the dry run printed a line that is not an itemized change); pulling with --link-dest',
    );
    // The clone made during the dry run is removed before rsync links into an empty working copy.
    expect(log.at('debug').filter((line) => line.startsWith('Running: rm -rf -- '))).toEqual([
      `Running: rm -rf -- ${join(machineDir, 'data')}`,
    ]);
    expect(
      log
        .at('debug')
        .filter((line) => line.startsWith('Running: '))
        .at(-1),
    ).toContain(`--link-dest=${join(snapshots, first)} rsync://`);
    expect(await describeTree(join(snapshots, outcome.snapshot!))).toEqual(withoutHardLinks(await describeTree(tree)));
    expect(await readdir(join(machineDir))).toEqual(['data.snapshots']);
  });

  test('a failed dry run is the run’s failure and leaves the base alone', async () => {
    const { backup, snapshots, machineDir } = await treeFixture();
    const first = (await backup()).snapshot!;
    const before = await state(snapshots);
    const failed = await backup({ remote: { url: treeDaemon.url('data'), password: 'wrong' } });
    expect(failed).toEqual({
      success: false,
      snapshot: null,
      summary: 'agent refused credentials (rsync exit code 5)',
    });
    expect(await state(snapshots)).toEqual(before);
    expect(await readdir(join(machineDir, 'data'))).toEqual([]);
    expect(first).toMatch(NAME);
  });
});
