import { jest } from '@jest/globals';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { captureLog, describeTree, makeJob, removeDir, settings, tempDir, TestClock } from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { pushRestore, resolveRestoreTree, RestoreError, runSnapshotMode, type RestoreRequest } from './index.js';
import { restorePushArgv } from './restore.js';

// Real rsync daemons: generous for a loaded CI machine.
jest.setTimeout(30_000);

let root: string;
let source: string;
let restoreTarget: string;
let daemon: RsyncDaemon;

beforeAll(async () => {
  root = await tempDir('restore');
  source = join(root, 'source');
  restoreTarget = join(root, 'restore-target');
  await mkdir(join(source, 'etc'), { recursive: true });
  await mkdir(restoreTarget);
  await writeFile(join(source, 'etc', 'hosts'), '127.0.0.1 localhost\n', { mode: 0o640 });
  await symlink('etc/hosts', join(source, 'hosts-link'));
  daemon = await startRsyncDaemon({ data: { path: source }, 'turku-restore': { path: restoreTarget, writable: true } });
});

afterAll(async () => {
  await daemon.stop();
  await removeDir(root);
});

function request(machineDir: string, overrides: Partial<RestoreRequest> = {}): RestoreRequest {
  return {
    machineDir,
    source: 'data',
    mode: 'link-dest',
    snapshot: 'latest',
    settings: settings(join(root, 'var')),
    log: captureLog(),
    ...overrides,
  };
}

describe('resolving what to restore', () => {
  let machineDir: string;
  let snapshots: string;
  let first: string;
  let second: string;

  beforeAll(async () => {
    machineDir = await tempDir('restore-machine');
    snapshots = join(machineDir, 'data.snapshots');
    const clock = new TestClock('2024-12-14T03:00:00Z');
    const job = makeJob({
      machineDir,
      varDir: join(root, 'var'),
      url: daemon.url('data'),
      password: daemon.password,
      log: captureLog(),
    });
    first = (await runSnapshotMode('link-dest', { ...job, now: clock.now })).snapshot!;
    clock.set('2024-12-15T03:00:00Z');
    second = (await runSnapshotMode('link-dest', { ...job, now: clock.now })).snapshot!;
    await mkdir(join(snapshots, 'data_20240101-000000_abcd-save')); // protected by renaming
    await mkdir(join(snapshots, '_delete-data_20240101-000000_dead'));
  });

  afterAll(async () => {
    await removeDir(machineDir);
  });

  test('link-dest: latest is the snapshot that finished last', async () => {
    const tree = await resolveRestoreTree(request(machineDir));
    expect(tree).toMatchObject({ dir: join(snapshots, second), snapshot: second });
    await tree.cleanup();
    expect(await readdir(snapshots)).toContain(second);
  });

  test('link-dest: a name, including a protected snapshot', async () => {
    expect(await resolveRestoreTree(request(machineDir, { snapshot: first }))).toMatchObject({
      dir: join(snapshots, first),
      snapshot: first,
    });
    expect(await resolveRestoreTree(request(machineDir, { snapshot: 'data_20240101-000000_abcd-save' }))).toMatchObject(
      {
        dir: join(snapshots, 'data_20240101-000000_abcd-save'),
      },
    );
  });

  test.each(['nope', '..', '../data.snapshots', '_delete-data_20240101-000000_dead', `${'x'}/../latest`, ''])(
    'link-dest: %j is not found',
    async (snapshot) => {
      await expect(resolveRestoreTree(request(machineDir, { snapshot }))).rejects.toThrow(
        new RestoreError(`Snapshot "${snapshot}" not found for source "data"`),
      );
    },
  );

  test('link-dest: a source without snapshots', async () => {
    await expect(resolveRestoreTree(request(machineDir, { source: 'home' }))).rejects.toThrow(
      'No snapshots of source "home"',
    );
  });

  test('link-dest: without candidates, latest follows the symlink', async () => {
    const other = await tempDir('restore-symlink');
    try {
      await mkdir(join(other, 'data.snapshots', 'hand-made'), { recursive: true });
      await symlink('hand-made', join(other, 'data.snapshots', 'latest'));
      const tree = await resolveRestoreTree(request(other));
      expect(tree.dir).toBe(join(other, 'data.snapshots', 'hand-made'));
    } finally {
      await removeDir(other);
    }
  });

  test('none: the mirror, only as latest', async () => {
    const mirrorMachine = await tempDir('restore-none');
    try {
      await expect(resolveRestoreTree(request(mirrorMachine, { mode: 'none' }))).rejects.toThrow(
        'No snapshots of source "data"',
      );
      await mkdir(join(mirrorMachine, 'data'));
      expect(await resolveRestoreTree(request(mirrorMachine, { mode: 'none' }))).toMatchObject({
        dir: join(mirrorMachine, 'data'),
        snapshot: null,
      });
      await expect(resolveRestoreTree(request(mirrorMachine, { mode: 'none', snapshot: 'x' }))).rejects.toThrow(
        'Snapshot "x" not found for source "data"',
      );
    } finally {
      await removeDir(mirrorMachine);
    }
  });

  test('push: the snapshot lands byte-identical in the agent’s restore module', async () => {
    const tree = await resolveRestoreTree(request(machineDir));
    const log = captureLog();
    const result = await pushRestore({
      rsyncCommand: ['rsync'],
      dir: tree.dir,
      url: daemon.url('turku-restore'),
      password: daemon.password,
      log,
    });
    expect(result).toEqual({ success: true, code: 0 });
    const pushed = await describeTree(restoreTarget);
    const expected = await describeTree(source);
    expect(pushed).toEqual(expected);
    expect(log.at('debug')[0]).toBe(
      `Running: rsync --archive --numeric-ids --sockopts=TCP_NODELAY ${tree.dir}/ ${daemon.url('turku-restore')}`,
    );

    const refused = await pushRestore({
      rsyncCommand: ['rsync'],
      dir: tree.dir,
      url: daemon.url('turku-restore'),
      password: 'wrong',
      log,
    });
    expect(refused).toEqual({ success: false, code: 5 });
  });
});

test('push argv', () => {
  expect(
    restorePushArgv({
      rsyncCommand: ['rsync'],
      dir: '/m/etc',
      url: 'rsync://u@127.0.0.1:1/turku-restore',
      hardLinks: true,
      compress: true,
    }),
  ).toEqual([
    'rsync',
    '--archive',
    '--compress',
    '--numeric-ids',
    '--sockopts=TCP_NODELAY',
    '--hard-links',
    '/m/etc/',
    'rsync://u@127.0.0.1:1/turku-restore/',
  ]);
  expect(
    restorePushArgv({ rsyncCommand: ['rsync'], dir: '/m/etc', url: 'rsync://u@127.0.0.1:1/turku-restore' }),
  ).toEqual([
    'rsync',
    '--archive',
    '--numeric-ids',
    '--sockopts=TCP_NODELAY',
    '/m/etc/',
    'rsync://u@127.0.0.1:1/turku-restore/',
  ]);
});
