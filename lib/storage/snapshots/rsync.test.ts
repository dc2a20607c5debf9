import { jest } from '@jest/globals';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { captureLog, removeDir, tempDir } from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { SAFE_PATH } from './process.js';
import { filterFileText, rsyncArgv, rsyncEnv, rsyncFailure, rsyncUrl, runRsync } from './rsync.js';

// Real rsync daemons and borg processes: generous for a loaded CI machine.
jest.setTimeout(30_000);

describe('rsync argv (docs/datapath.md, "Pulling with rsync")', () => {
  const base = { rsyncCommand: ['rsync'], url: 'rsync://u@127.0.0.1:5000/etc/', destination: '/m/etc' };

  test('the fixed options, then source and destination with trailing slashes; no --compress unless asked', () => {
    expect(rsyncArgv({ ...base, url: 'rsync://u@127.0.0.1:5000/etc' })).toEqual([
      'rsync',
      '--archive',
      '--numeric-ids',
      '--sockopts=TCP_NODELAY',
      '--delete',
      '--delete-excluded',
      '--verbose',
      'rsync://u@127.0.0.1:5000/etc/',
      '/m/etc/',
    ]);
  });

  test('every optional flag in the documented order', () => {
    expect(
      rsyncArgv({
        ...base,
        rsyncCommand: ['nice', 'rsync'],
        compress: true,
        linkDest: '/m/etc.snapshots/etc_20241214-031207_9c0e',
        inplace: true,
        hardLinks: true,
        filterFile: '/tmp/x/filter',
        bwlimit: '1.5m',
      }),
    ).toEqual([
      'nice',
      'rsync',
      '--archive',
      '--compress',
      '--numeric-ids',
      '--sockopts=TCP_NODELAY',
      '--delete',
      '--delete-excluded',
      '--verbose',
      '--link-dest=/m/etc.snapshots/etc_20241214-031207_9c0e',
      '--inplace',
      '--hard-links',
      '--filter=merge /tmp/x/filter',
      '--bwlimit=1.5m',
      'rsync://u@127.0.0.1:5000/etc/',
      '/m/etc/',
    ]);
  });

  test("a full backup's pull prints each name after its size, for the manifest's early hashing", () => {
    expect(rsyncArgv({ ...base, sizedNames: true })).toEqual([
      'rsync',
      '--archive',
      '--numeric-ids',
      '--sockopts=TCP_NODELAY',
      '--delete',
      '--delete-excluded',
      '--verbose',
      '--out-format=%l %n%L',
      'rsync://u@127.0.0.1:5000/etc/',
      '/m/etc/',
    ]);
  });

  test('the link-clone passes: files from a list, and the tree alone; never a deletion', () => {
    expect(rsyncArgv({ ...base, filesFrom: '/tmp/f/files', ignoreExisting: true, exactTimes: true })).toEqual([
      'rsync',
      '--archive',
      '--numeric-ids',
      '--sockopts=TCP_NODELAY',
      '--files-from=/tmp/f/files',
      '--from0',
      '--verbose',
      '--ignore-existing',
      '--modify-window=-1',
      'rsync://u@127.0.0.1:5000/etc/',
      '/m/etc/',
    ]);
    expect(rsyncArgv({ ...base, treeOnly: true, filterFile: '/tmp/x/filter' })).toEqual([
      'rsync',
      '--archive',
      '--numeric-ids',
      '--sockopts=TCP_NODELAY',
      '--no-recursive',
      '--dirs',
      '--exclude=*',
      '--verbose',
      '--modify-window=-1',
      '--filter=merge /tmp/x/filter',
      'rsync://u@127.0.0.1:5000/etc/',
      '/m/etc/',
    ]);
  });

  test('empty or absent optional values add nothing', () => {
    expect(
      rsyncArgv({ ...base, linkDest: null, bwlimit: '', filterFile: null, hardLinks: false, compress: false }),
    ).toHaveLength(9);
  });

  test('url, env and failure text', () => {
    expect(rsyncUrl('ae2e', '127.0.0.1', 64951, 'etc')).toBe('rsync://ae2e@127.0.0.1:64951/etc/');
    expect(rsyncUrl('ae2e', '::1', 64951, 'etc')).toBe('rsync://ae2e@[::1]:64951/etc/');
    expect(rsyncEnv('pw')).toEqual({ RSYNC_PASSWORD: 'pw', PATH: SAFE_PATH });
    expect(rsyncFailure({ code: 5, diagnostics: ['@ERROR: auth failed on module etc'] }, '/srv')).toBe(
      'agent refused credentials (rsync exit code 5)',
    );
  });
});

describe('filter file text', () => {
  test('filters verbatim, then "- <pattern>" per exclude', () => {
    expect(filterFileText(['+ /etc/', '- *.tmp', '# comment'], ['/var/cache', '*.log'])).toBe(
      '+ /etc/\n- *.tmp\n# comment\n- /var/cache\n- *.log\n',
    );
  });

  test('no lines, no file', () => {
    expect(filterFileText([], [])).toBeNull();
    expect(filterFileText(['merge /etc/x'], [''])).toBeNull();
  });

  test('merge rules and line breaks are dropped; a long-form dir-merge stays', () => {
    expect(
      filterFileText(
        [
          'merge /etc/shadow',
          'merge,- /etc/x',
          'dir-merge .rsync-filter',
          ': .rsync-filter',
          ':n- .rsync-filter',
          '. /etc/x',
          '.- /etc/x',
          '  merge /etc/x',
          '- a\n+ /root/',
          '- b\r',
          '- c\0',
          '- kept',
        ],
        ['x\n+ /root/', 'merge-me'],
      ),
    ).toBe('dir-merge .rsync-filter\n- kept\n- merge-me\n');
  });
});

describe('runRsync against a real daemon', () => {
  let root: string;
  let daemon: RsyncDaemon;
  let source: string;

  beforeAll(async () => {
    root = await tempDir('rsync');
    source = join(root, 'source');
    await mkdir(join(source, 'cache'), { recursive: true });
    await writeFile(join(source, 'keep.txt'), 'keep');
    await writeFile(join(source, 'drop.tmp'), 'drop');
    await writeFile(join(source, 'cache', 'big'), 'big');
    daemon = await startRsyncDaemon({ src: { path: source } });
  });

  afterAll(async () => {
    await daemon.stop();
    await removeDir(root);
  });

  test('applies filters through a 0600 merge file, exact environment, and removes the file', async () => {
    const destination = join(root, 'dest1');
    await mkdir(destination);
    const log = captureLog();
    // A wrapper in front of rsync reports what rsync would see: its environment and the merge file's mode.
    const probe =
      'for a; do case "$a" in --filter=merge\\ *) echo "MODE $(stat -c %a "${a#--filter=merge }")";; esac; done; ' +
      'echo "ENV $(env | cut -d= -f1 | grep -v -e ^PWD$ -e ^SHLVL$ -e ^_$ | sort | tr "\\n" " ")"; exec rsync "$@"';
    const result = await runRsync({
      rsyncCommand: ['sh', '-c', probe, 'sh'],
      url: daemon.url('src'),
      password: daemon.password,
      destination,
      filter: ['- *.tmp', 'merge /etc/passwd'],
      exclude: ['/cache'],
      log,
    });
    expect(result).toEqual({ success: true, code: 0, stdout: '', diagnostics: [] });
    expect((await readdir(destination)).sort()).toEqual(['keep.txt']);
    const debug = log.at('debug');
    expect(debug).toContain('MODE 600');
    expect(debug).toContain('ENV PATH RSYNC_PASSWORD ');
    const running = debug.find((line) => line.startsWith('Running: '));
    expect(running).toMatch(/'--filter=merge \/\S+\/filter'/);
    expect(debug.at(-1)).toBe('Return code: 0');
    const filterFile = /'--filter=merge (\S+)'/.exec(running!)![1]!;
    await expect(access(filterFile)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(access(join(filterFile, '..'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a wrong password fails with rsync’s code and still removes the filter file', async () => {
    const destination = join(root, 'dest2');
    await mkdir(destination);
    const log = captureLog();
    const result = await runRsync({
      rsyncCommand: ['rsync'],
      url: daemon.url('src'),
      password: 'wrong',
      destination,
      exclude: ['/cache'],
      log,
    });
    expect(result).toMatchObject({ success: false, code: 5, stdout: '' });
    expect(rsyncFailure(result, '/v')).toBe('agent refused credentials (rsync exit code 5)');
    expect(log.at('debug').at(-1)).toBe('Return code: 5');
    const filterFile = /'--filter=merge (\S+)'/.exec(log.at('debug')[0]!)![1]!;
    await expect(access(filterFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('exit status 24 (files vanished) counts as success', async () => {
    const log = captureLog();
    const result = await runRsync({
      rsyncCommand: ['sh', '-c', 'exit 24', 'sh'],
      url: daemon.url('src'),
      password: daemon.password,
      destination: join(root, 'unused'),
      log,
    });
    expect(result).toMatchObject({ success: true, code: 24, stdout: '' });
  });

  test('a missing rsync binary is a failure, not an exception', async () => {
    const log = captureLog();
    const result = await runRsync({
      rsyncCommand: ['/nonexistent/rsync'],
      url: daemon.url('src'),
      password: daemon.password,
      destination: join(root, 'unused'),
      log,
    });
    expect(result).toEqual({ success: false, code: 127, stdout: '', diagnostics: [] });
    expect(log.at('error')[0]).toMatch(/Cannot run \/nonexistent\/rsync/);
  });
});
