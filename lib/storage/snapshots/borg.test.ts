import { jest } from '@jest/globals';
import { access, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import {
  captureLog,
  describeTree,
  descriptor,
  makeJob,
  removeDir,
  settings,
  tempDir,
  TestClock,
} from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { borgEnv, borgTimestamp, parseArchiveList } from './borg-cli.js';
import { resolveRestoreTree, RestoreError, runSnapshotMode } from './index.js';
import { SAFE_PATH } from './process.js';

// Real rsync daemons and borg processes: generous for a loaded CI machine.
jest.setTimeout(30_000);

let root: string;
let source: string;
let varDir: string;
let daemon: RsyncDaemon;

beforeAll(async () => {
  root = await tempDir('borg');
  source = join(root, 'source');
  varDir = join(root, 'var');
  await mkdir(join(source, 'etc'), { recursive: true });
  await writeFile(join(source, 'etc', 'hosts'), '127.0.0.1 localhost\n', { mode: 0o640 });
  await writeFile(join(source, 'data.bin'), Buffer.alloc(200_000, 3));
  await symlink('etc/hosts', join(source, 'hosts-link'));
  daemon = await startRsyncDaemon({ data: { path: source } });
});

afterAll(async () => {
  await daemon.stop();
  await removeDir(root);
});

async function archives(repo: string): Promise<string[]> {
  const { stdout } = await execa('borg', ['list', '--json', repo], {
    env: borgEnv({ varDir, borgPassphrase: null }),
    extendEnv: false,
  });
  return parseArchiveList(stdout).map((archive) => archive.name);
}

describe('borg command line', () => {
  test('environment and timestamp', () => {
    expect(borgEnv({ varDir: '/var/lib/turku-storage', borgPassphrase: 'pp' })).toEqual({
      PATH: SAFE_PATH,
      LANG: 'C.UTF-8',
      TZ: 'UTC',
      BORG_BASE_DIR: '/var/lib/turku-storage/borg',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_PASSPHRASE: 'pp',
    });
    expect(borgEnv({ varDir: '/v', borgPassphrase: null })).not.toHaveProperty('BORG_PASSPHRASE');
    expect(borgTimestamp(new Date('2024-12-15T03:12:15.982Z'))).toBe('2024-12-15T03:12:15');
  });

  test('archive list: naive UTC times', () => {
    const list = parseArchiveList(
      JSON.stringify({ archives: [{ name: 'a', time: '2024-12-15T03:12:15.000000' }, { name: 'b' }] }),
    );
    expect(list).toEqual([{ name: 'a', finishedAt: new Date('2024-12-15T03:12:15Z') }]);
  });
});

describe('borg mode', () => {
  test('archives per run, Turku retention with delete + compact, and restore by extract', async () => {
    const machineDir = await tempDir('borg-machine');
    try {
      const log = captureLog();
      const clock = new TestClock('2024-12-13T03:12:00Z');
      const job = makeJob(
        { machineDir, varDir, url: daemon.url('data'), password: daemon.password, log },
        {
          now: clock.now,
          descriptor: descriptor({ retention: 'last 2 snapshots', exclude: ['*.tmp'] }),
          settings: { timezone: 'Europe/Helsinki' },
        },
      );
      const repo = join(machineDir, 'data.borg');

      const first = await runSnapshotMode('borg', job);
      expect(first.success).toBe(true);
      expect(first.snapshot).toMatch(/^data_20241213-051201_[0-9a-f]{4}$/); // Helsinki time
      expect(first.summary).toMatch(/^Archive stats: original \d+ bytes, deduplicated \d+ bytes\n$/);
      const running = log.at('debug').filter((line) => line.startsWith('Running: '));
      expect(running[0]).toContain(' --inplace ');
      expect(running[1]).toBe(`Running: borg init --lock-wait 10 --encryption=none ${repo}`);
      expect(running[2]).toContain(
        `borg create --lock-wait 10 --json --numeric-ids --compression lz4 --timestamp 2024-12-13T03:12:01 --comment ` +
          `'turku base=none sync_begin=2024-12-13T03:12:00.000000+00:00 sync_finish=2024-12-13T03:12:01.000000+00:00'`,
      );

      clock.set('2024-12-14T03:12:00Z');
      await writeFile(join(source, 'day2'), 'second day\n');
      const second = await runSnapshotMode('borg', job);
      expect(second.success).toBe(true);
      expect(second.summary).toMatch(/^Archive stats: [^\n]+\n$/);

      clock.set('2024-12-15T03:12:00Z');
      await writeFile(join(source, 'day3'), 'third day\n');
      const third = await runSnapshotMode('borg', job);
      expect(third.success).toBe(true);
      expect(third.summary).toMatch(
        new RegExp(`^Archive stats: [^\\n]+\\nRemoved old snapshot: ${first.snapshot}\\n$`),
      );
      expect((await archives(repo)).sort()).toEqual([second.snapshot, third.snapshot].sort());
      const commands = log.at('debug').filter((line) => line.startsWith('Running: borg '));
      expect(commands.map((line) => line.split(' ')[2])).toEqual([
        'init',
        'create',
        'list',
        'create',
        'list',
        'create',
        'list',
        'delete',
        'compact',
      ]);
      // The working copy stays as rsync's basis; there is no latest and no snapshots dir.
      expect((await readdir(machineDir)).sort()).toEqual(['data', 'data.borg']);
      await access(join(varDir, 'borg'));

      // Restore: latest is the newest archive, byte-identical to the source; a name picks an older one.
      const settingsForRestore = settings(varDir);
      const latest = await resolveRestoreTree({
        machineDir,
        source: 'data',
        mode: 'borg',
        snapshot: 'latest',
        settings: settingsForRestore,
        log,
      });
      expect(latest.snapshot).toBe(third.snapshot);
      expect(latest.dir.startsWith(join(machineDir, '.restore-'))).toBe(true);
      expect(await describeTree(latest.dir)).toEqual(await describeTree(source));
      const older = await resolveRestoreTree({
        machineDir,
        source: 'data',
        mode: 'borg',
        snapshot: second.snapshot!,
        settings: settingsForRestore,
        log,
      });
      expect(await readFile(join(older.dir, 'day2'), 'utf8')).toBe('second day\n');
      await expect(access(join(older.dir, 'day3'))).rejects.toMatchObject({ code: 'ENOENT' });
      await latest.cleanup();
      await older.cleanup();
      expect((await readdir(machineDir)).sort()).toEqual(['data', 'data.borg']);

      await expect(
        resolveRestoreTree({
          machineDir,
          source: 'data',
          mode: 'borg',
          snapshot: 'nope',
          settings: settingsForRestore,
          log,
        }),
      ).rejects.toThrow(new RestoreError('Snapshot "nope" not found for source "data"'));
      await expect(
        resolveRestoreTree({
          machineDir,
          source: 'other',
          mode: 'borg',
          snapshot: 'latest',
          settings: settingsForRestore,
          log,
        }),
      ).rejects.toThrow('No snapshots of source "other"');

      // An unrecognised clause: the archive is made, nothing is deleted.
      clock.set('2024-12-16T03:12:00Z');
      const typo = await runSnapshotMode('borg', {
        ...job,
        descriptor: descriptor({ retention: 'last 1 snapshot, earliest of 1 year' }),
      });
      expect(typo.success).toBe(true);
      expect(typo.summary).toMatch(/\nRetention not applied: unrecognised clause "earliest of 1 year"\n$/);
      expect(await archives(repo)).toHaveLength(3);
    } finally {
      await removeDir(join(source, 'day2'));
      await removeDir(join(source, 'day3'));
      await removeDir(machineDir);
    }
  });

  test('a borg failure is reported with its subcommand', async () => {
    const machineDir = await tempDir('borg-machine');
    try {
      const job = makeJob(
        { machineDir, varDir, url: daemon.url('data'), password: daemon.password, log: captureLog() },
        { settings: { borgEncryption: 'bogus' } },
      );
      expect(await runSnapshotMode('borg', job)).toEqual({
        success: false,
        snapshot: null,
        summary: expect.stringMatching(/^borg init failed: .*invalid choice: 'bogus'.* \(borg init exit code 2\)$/),
      });
    } finally {
      await removeDir(machineDir);
    }
  });

  test('an rsync failure stops before borg', async () => {
    const machineDir = await tempDir('borg-machine');
    try {
      const log = captureLog();
      const job = makeJob({ machineDir, varDir, url: daemon.url('data'), password: 'wrong', log });
      expect(await runSnapshotMode('borg', job)).toEqual({
        success: false,
        snapshot: null,
        summary: 'agent refused credentials (rsync exit code 5)',
      });
      expect(log.at('debug').filter((line) => line.startsWith('Running: borg'))).toEqual([]);
    } finally {
      await removeDir(machineDir);
    }
  });

  test('[item 10] a killed borg leaves a stale lock and a checkpoint; the next run recovers and removes the checkpoint', async () => {
    const machineDir = await tempDir('borg-machine');
    try {
      const log = captureLog();
      const clock = new TestClock('2024-12-13T03:12:00Z');
      const job = makeJob(
        { machineDir, varDir, url: daemon.url('data'), password: daemon.password, log },
        { now: clock.now, descriptor: descriptor({ retention: 'last 5 snapshots' }) },
      );
      const first = await runSnapshotMode('borg', job);
      expect(first.success).toBe(true);
      const repo = join(machineDir, 'data.borg');
      const env = borgEnv({ varDir, borgPassphrase: null });
      // What an interrupted `borg create` keeps: a checkpoint archive, which a plain list hides.
      await execa('borg', ['create', `${repo}::${first.snapshot}.checkpoint`, '.'], {
        env,
        extendEnv: false,
        cwd: join(machineDir, 'data'),
      });
      // And a lock held by a borg killed with SIGKILL (borg removes a dead local holder's lock itself).
      // stdio ignored: the orphaned `sleep` must not hold a pipe the test waits on.
      const holder = execa('borg', ['with-lock', repo, 'sleep', '15'], {
        env,
        extendEnv: false,
        reject: false,
        stdio: 'ignore',
      });
      for (let i = 0; i < 100 && !(await readdir(repo)).includes('lock.exclusive'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await readdir(repo)).toContain('lock.exclusive');
      holder.kill('SIGKILL');
      await holder;
      expect(await readdir(repo)).toContain('lock.exclusive');

      clock.set('2024-12-14T03:12:00Z');
      const next = await runSnapshotMode('borg', job);
      expect(next).toMatchObject({ success: true });
      const { stdout } = await execa('borg', ['list', '--json', '--consider-checkpoints', repo], {
        env,
        extendEnv: false,
      });
      expect(
        parseArchiveList(stdout)
          .map((archive) => archive.name)
          .sort(),
      ).toEqual([first.snapshot, next.snapshot].sort());
      expect(log.at('info')).toContain(`Removed the checkpoint ${first.snapshot}.checkpoint of an interrupted run`);
    } finally {
      await removeDir(machineDir);
    }
  });

  test('[item 11] a lock held by a live process is said in words', async () => {
    const machineDir = await tempDir('borg-machine');
    try {
      const log = captureLog();
      const job = makeJob(
        { machineDir, varDir, url: daemon.url('data'), password: daemon.password, log },
        { settings: { borgLockWait: 1 } },
      );
      expect((await runSnapshotMode('borg', job)).success).toBe(true);
      const repo = join(machineDir, 'data.borg');
      const env = borgEnv({ varDir, borgPassphrase: null });
      const holder = execa('borg', ['with-lock', repo, 'sleep', '60'], {
        env,
        extendEnv: false,
        reject: false,
        stdio: 'ignore',
      });
      try {
        for (let i = 0; i < 100 && !(await readdir(repo)).includes('lock.exclusive'); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(await runSnapshotMode('borg', { ...job, volume: '/srv/turku' })).toEqual({
          success: false,
          snapshot: null,
          summary: 'the borg repository is locked by another process (borg create exit code 2)',
        });
      } finally {
        holder.kill('SIGTERM');
        await holder;
      }
    } finally {
      await removeDir(machineDir);
    }
  });
});
