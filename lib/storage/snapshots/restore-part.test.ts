import { jest } from '@jest/globals';
import { link, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { formatSidecarTime, writeSidecar } from './names.js';
import { captureLog, describeTree, removeDir, settings, tempDir } from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { pushRestore, resolveRestoreTree, RestoreError, type RestoreRequest } from './restore.js';
import { checkRestorePart, RestorePartError } from './restore-part.js';
import { measureTree, parseProgress2, ProgressRelay, type ProgressSample } from './restore-progress.js';

/**
 * The storage's side of docs/datapath.md, "Restore as of a moment", "Restoring part of a source"
 * and "Restore progress": the choice by time among link-dest snapshots, the path that must not
 * leave the snapshot, and the push of a part with its progress.
 */

jest.setTimeout(30_000);

let machineDir: string;
let snapshots: string;
let target: string;
let daemon: RsyncDaemon;
const NAMES = ['data_20261201-100000_aaaa', 'data_20261202-100000_bbbb', 'data_20261203-100000_cccc'];

beforeAll(async () => {
  machineDir = await tempDir('restore-asof');
  snapshots = join(machineDir, 'data.snapshots');
  target = join(machineDir, 'target');
  await mkdir(target);
  for (const [day, name] of NAMES.entries()) {
    const dir = join(snapshots, name);
    await mkdir(join(dir, 'etc', 'ssh'), { recursive: true });
    await writeFile(join(dir, 'which'), `${name}\n`);
    await writeFile(join(dir, 'etc', 'ssh', 'sshd_config'), 'Port 22\n');
    await writeFile(join(dir, 'etc', 'hosts'), Buffer.alloc(100_000, day));
    await link(join(dir, 'etc', 'hosts'), join(dir, 'etc', 'hosts.again'));
    // A snapshot holds what the machine had: here a link to the storage's own root.
    await symlink('/', join(dir, 'x'));
    const finish = new Date(`2026-12-0${day + 1}T10:00:00.600Z`);
    await writeSidecar(snapshots, {
      base: null,
      name,
      sync_begin: formatSidecarTime(finish),
      sync_finish: formatSidecarTime(finish),
    });
  }
  daemon = await startRsyncDaemon({ 'turku-restore': { path: target, writable: true } });
});

afterAll(async () => {
  await daemon.stop();
  await removeDir(machineDir);
});

function request(overrides: Partial<RestoreRequest> = {}): RestoreRequest {
  return {
    machineDir,
    source: 'data',
    mode: 'link-dest',
    snapshot: 'latest',
    settings: settings(join(machineDir, 'var')),
    log: captureLog(),
    ...overrides,
  };
}

describe('as of a moment (link-dest)', () => {
  test.each([
    ['2026-12-02T10:00:00Z', NAMES[1]], // equal to its time, to the second
    ['2026-12-02T09:59:59Z', NAMES[0]], // one second before
    ['2030-01-01T00:00:00Z', NAMES[2]], // after the last
  ])('as of %s: %s', async (asOf, name) => {
    const tree = await resolveRestoreTree(request({ asOf: new Date(asOf) }));
    expect(tree).toMatchObject({ dir: join(snapshots, name!), snapshot: name });
    expect(tree.finishedAt?.toISOString()).toBe(`${name!.slice(5, 9)}-12-${name!.slice(11, 13)}T10:00:00.600Z`);
  });

  test('before the first: an error naming the first', async () => {
    await expect(resolveRestoreTree(request({ asOf: new Date('2026-12-01T09:59:59Z') }))).rejects.toThrow(
      new RestoreError(
        'No snapshot of source "data" was taken at or before 2026-12-01T09:59:59.000Z; ' +
          `the first is ${NAMES[0]}, taken 2026-12-01T10:00:00.600Z`,
      ),
    );
  });

  test('none mode has no times to choose by', async () => {
    const other = await tempDir('restore-none-asof');
    try {
      await mkdir(join(other, 'data'));
      await expect(resolveRestoreTree(request({ machineDir: other, mode: 'none', asOf: new Date() }))).rejects.toThrow(
        'Source "data" keeps no snapshots (snapshot mode none): nothing to choose by time',
      );
    } finally {
      await removeDir(other);
    }
  });
});

describe('part of a snapshot', () => {
  const snapshot = () => join(snapshots, NAMES[2]!);

  test.each(['etc', 'etc/ssh', 'etc/ssh/sshd_config', 'x', 'which'])('%s is a part', async (path) => {
    await expect(checkRestorePart(snapshot(), path, 's')).resolves.toBeUndefined();
  });

  test.each([
    [
      'x/etc/shadow',
      '"x" is a symbolic link in snapshot s; a restore path does not follow links (restore the link itself, or the path it points to)',
    ],
    [
      'x/etc',
      '"x" is a symbolic link in snapshot s; a restore path does not follow links (restore the link itself, or the path it points to)',
    ],
    ['which/x', '"which" is not a directory in snapshot s'],
    ['etc/nope', '"etc/nope" is not in snapshot s'],
    ['../data.snapshots', 'Invalid restore path "../data.snapshots": it contains ..'],
    ['/etc', 'Invalid restore path "/etc": it is absolute; give it relative to the source, e.g. etc/ssh'],
    ['etc//ssh', 'Invalid restore path "etc//ssh": it has an empty component (//, or a trailing /)'],
  ])('%s is refused', async (path, message) => {
    await expect(checkRestorePart(snapshot(), path, 's')).rejects.toThrow(new RestorePartError(message));
  });

  test('resolving refuses a path through a symbolic link, naming the snapshot', async () => {
    await expect(resolveRestoreTree(request({ path: 'x/etc/passwd' }))).rejects.toThrow(
      `"x" is a symbolic link in snapshot ${NAMES[2]}`,
    );
  });

  test('a part is pushed under its relative path, byte-identical, with progress and totals', async () => {
    await rm(target, { recursive: true, force: true });
    await mkdir(target);
    const tree = await resolveRestoreTree(request({ asOf: new Date('2026-12-02T12:00:00Z'), path: 'etc' }));
    expect(tree).toMatchObject({ snapshot: NAMES[1], path: 'etc' });
    const samples: ProgressSample[] = [];
    const log = captureLog();
    const pushed = await pushRestore({
      rsyncCommand: ['rsync'],
      dir: tree.dir,
      ...(tree.path === undefined ? {} : { path: tree.path }),
      url: daemon.url('turku-restore'),
      password: daemon.password,
      hardLinks: true,
      log,
      onProgress: (sample) => samples.push(sample),
    });
    expect(pushed).toMatchObject({ success: true, code: 0 });
    expect(Object.keys(await describeTree(target)).sort()).toEqual(
      ['', 'etc', 'etc/hosts', 'etc/hosts.again', 'etc/ssh', 'etc/ssh/sshd_config'].sort(),
    );
    const restored = await describeTree(join(target, 'etc'));
    expect(restored).toEqual(await describeTree(join(tree.dir, 'etc')));
    // The hard-linked file counts once.
    expect(pushed.sent).toMatchObject({ bytes: 100_008, files: 2, totalBytes: 100_008, totalFiles: 2 });
    expect(samples.at(-1)).toEqual(pushed.sent);
    // Progress lines are not logged; the command is.
    expect(log.at('debug')[0]).toBe(
      `Running: rsync --archive --numeric-ids --sockopts=TCP_NODELAY --hard-links --relative --info=progress2 --no-human-readable ` +
        `${tree.dir}/./etc ${daemon.url('turku-restore')}`,
    );
    expect(log.at('debug').some((line) => parseProgress2(line) !== undefined)).toBe(false);
  });
});

describe('progress', () => {
  test.each([
    ['      32768   0%    0.00kB/s    0:00:00  ', { bytes: 32768, files: undefined }],
    ['   30000000  33%   38.41MB/s    0:00:00 (xfr#1, to-chk=2/4)', { bytes: 30_000_000, files: 1 }],
    ['1234 100% 1.00MB/s 0:01:02 (xfr#7, ir-chk=1000/2000)', { bytes: 1234, files: 7 }],
  ])('reads %j', (line, expected) => {
    expect(parseProgress2(line)).toEqual(expected);
  });

  test.each(['sending incremental file list', 'etc/hosts', '', '12 files'])('%j is not a progress line', (line) => {
    expect(parseProgress2(line)).toBeUndefined();
  });

  test('the relay sends at most one sample per interval, and the last one at the end', () => {
    let now = 1000;
    const sent: ProgressSample[] = [];
    const relay = new ProgressRelay(
      (sample) => sent.push(sample),
      1000,
      () => now,
    );
    expect(relay.takeLine('  100   1%  1kB/s  0:00:10')).toBe(true);
    now += 500;
    relay.takeLine('  200   2%  1kB/s  0:00:10 (xfr#1, to-chk=5/7)');
    relay.setTotals({ bytes: 1000, files: 7 });
    now += 600;
    relay.takeLine('  300   3%  1kB/s  0:00:10');
    expect(relay.takeLine('etc/hosts')).toBe(false);
    now += 100;
    relay.finish();
    expect(sent).toEqual([
      { bytes: 100, files: 0, totalBytes: null, totalFiles: null, seconds: 0 },
      { bytes: 300, files: 1, totalBytes: 1000, totalFiles: 7, seconds: 1.1 },
      { bytes: 300, files: 1, totalBytes: 1000, totalFiles: 7, seconds: 1.2 },
    ]);
  });

  test('measuring never follows a symbolic link and counts a hard-linked file once', async () => {
    expect(await measureTree(join(snapshots, NAMES[0]!))).toEqual({ bytes: 100_000 + 8 + 26 + 0, files: 3 });
    expect(await measureTree(join(snapshots, NAMES[0]!, 'x'))).toEqual({ bytes: 0, files: 0 });
  });
});
