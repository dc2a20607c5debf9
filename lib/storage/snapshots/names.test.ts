import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { captureLog, removeDir, tempDir } from './__tests__/fixtures.js';
import {
  formatSidecarTime,
  listCandidates,
  parseLegacyName,
  parseSidecarTime,
  randomSuffix,
  snapshotName,
  writeSidecar,
} from './names.js';

describe('snapshot names (docs/datapath.md, "Snapshots on disk")', () => {
  test('<source>_<YYYYmmdd-HHMMSS>_<xxxx>, the time in the storage zone', () => {
    const finish = new Date('2024-12-15T03:12:15.982Z');
    expect(snapshotName('etc', finish, 'UTC', '1a2b')).toBe('etc_20241215-031215_1a2b');
    expect(snapshotName('etc', finish, 'America/New_York', '1a2b')).toBe('etc_20241214-221215_1a2b');
    expect(snapshotName('etc', finish, 'Asia/Kolkata')).toMatch(/^etc_20241215-084215_[0-9a-f]{4}$/);
  });

  test('the suffix is 4 lowercase hex digits', () => {
    for (let i = 0; i < 20; i++) expect(randomSuffix()).toMatch(/^[0-9a-f]{4}$/);
  });
});

describe('sidecar timestamps', () => {
  test('written in UTC with microseconds and a numeric offset, never Z', () => {
    expect(formatSidecarTime(new Date('2024-12-15T03:12:01.503Z'))).toBe('2024-12-15T03:12:01.503000+00:00');
  });

  test.each([
    ['2024-12-15T03:12:01.503311+00:00', '2024-12-15T03:12:01.503Z'],
    ['2024-12-15T03:12:01+00:00', '2024-12-15T03:12:01.000Z'],
    ['2024-12-15T03:12:01.5+01:00', '2024-12-15T02:12:01.500Z'],
    ['2024-12-15T03:12:01.12345-0530', '2024-12-15T08:42:01.123Z'],
    ['2024-12-15T03:12:01Z', '2024-12-15T03:12:01.000Z'],
    ['2024-12-15 03:12:01.000001+00:00', '2024-12-15T03:12:01.000Z'],
  ])('reads %s', (text, iso) => {
    expect(parseSidecarTime(text, 'UTC')?.toISOString()).toBe(iso);
  });

  test('naive times are local to the storage zone', () => {
    expect(parseSidecarTime('2024-07-01T12:00:00', 'Europe/Helsinki')?.toISOString()).toBe('2024-07-01T09:00:00.000Z');
  });

  test.each(['', 'yesterday', '2024-12-15T03:12:01.1234567+00:00', '2024-13-01T00:00:00+00:00', '2024-12-15'])(
    'rejects %j',
    (text) => {
      expect(parseSidecarTime(text, 'UTC')).toBeNull();
    },
  );

  test('round trip', () => {
    const date = new Date('2031-02-03T04:05:06.789Z');
    expect(parseSidecarTime(formatSidecarTime(date), 'Asia/Tokyo')).toEqual(date);
  });
});

describe('legacy names', () => {
  test('naive ISO in the storage zone, with or without fraction', () => {
    expect(parseLegacyName('2015-02-20T03:21:18.152575', 'UTC')?.toISOString()).toBe('2015-02-20T03:21:18.152Z');
    expect(parseLegacyName('2015-02-20T03:21:18', 'Europe/Helsinki')?.toISOString()).toBe('2015-02-20T01:21:18.000Z');
  });

  test('decimal epoch', () => {
    expect(parseLegacyName('1424392089.43', 'UTC')?.toISOString()).toBe('2015-02-20T00:28:09.430Z');
    expect(parseLegacyName('1424392089', 'UTC')?.getTime()).toBe(1424392089000);
  });

  test.each([
    'working',
    'latest',
    '2015-02-20T03:21:18-save',
    'save1424392089',
    'etc_20241215-031215_1a2b',
    '1e9',
    '-1',
  ])('%j is not one', (name) => {
    expect(parseLegacyName(name, 'UTC')).toBeNull();
  });
});

describe('listing candidates', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir('names');
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  async function snapshot(name: string, sidecar?: Record<string, unknown> | string): Promise<void> {
    await mkdir(join(dir, name));
    if (sidecar !== undefined) {
      await writeFile(join(dir, `${name}.json`), typeof sidecar === 'string' ? sidecar : JSON.stringify(sidecar));
    }
  }

  test('a missing directory has none', async () => {
    expect(await listCandidates(join(dir, 'nope'), { timeZone: 'UTC', log: captureLog() })).toEqual([]);
  });

  test('sidecars, legacy names, symlinks; orphans logged; latest and _delete-* ignored', async () => {
    await snapshot('etc_20241215-031215_1a2b', {
      base: 'etc_20241214-031207_9c0e',
      name: 'etc_20241215-031215_1a2b',
      sync_begin: '2024-12-15T03:12:01.503311+00:00',
      sync_finish: '2024-12-15T03:12:15.982004+00:00',
    });
    await snapshot('etc_20241214-031207_9c0e', { sync_finish: '2024-12-14T03:12:07+00:00' });
    await snapshot('2015-02-20T03:21:18.152575');
    await snapshot('1424392089.43');
    await snapshot('2015-02-21T00:00:00', 'not json'); // a broken sidecar falls back to the name
    await snapshot('renamed', { name: 'etc_x', sync_finish: '2020-01-01T00:00:00+00:00' });
    await snapshot('2015-02-22T00:00:00-save');
    await snapshot('working');
    await snapshot('no-finish', { name: 'no-finish' });
    await snapshot('_delete-etc_20240101-000000_dead');
    await writeFile(join(dir, 'stray.txt'), '');
    await writeFile(join(dir, 'gone_20240101-000000_beef.json'), '{}');
    await mkdir(`${dir}-elsewhere`);
    await symlink(`${dir}-elsewhere`, join(dir, '2016-01-01T00:00:00'));
    await symlink('etc_20241215-031215_1a2b', join(dir, 'latest'));
    await symlink('nowhere', join(dir, 'dangling'));
    const log = captureLog();

    const candidates = await listCandidates(dir, { timeZone: 'UTC', log });

    expect(candidates.map((c) => [c.dir, c.name, c.finishedAt.toISOString(), c.base])).toEqual([
      ['1424392089.43', '1424392089.43', '2015-02-20T00:28:09.430Z', null],
      ['2015-02-20T03:21:18.152575', '2015-02-20T03:21:18.152575', '2015-02-20T03:21:18.152Z', null],
      ['2015-02-21T00:00:00', '2015-02-21T00:00:00', '2015-02-21T00:00:00.000Z', null],
      ['2016-01-01T00:00:00', '2016-01-01T00:00:00', '2016-01-01T00:00:00.000Z', null],
      ['renamed', 'etc_x', '2020-01-01T00:00:00.000Z', null],
      ['etc_20241214-031207_9c0e', 'etc_20241214-031207_9c0e', '2024-12-14T03:12:07.000Z', null],
      ['etc_20241215-031215_1a2b', 'etc_20241215-031215_1a2b', '2024-12-15T03:12:15.982Z', 'etc_20241214-031207_9c0e'],
    ]);
    expect(log.at('info')).toEqual([
      `Not snapshots, left alone in ${dir}: 2015-02-22T00:00:00-save, dangling, gone_20240101-000000_beef.json, no-finish, stray.txt, working`,
    ]);
    expect(log.at('warning')).toEqual([expect.stringMatching(/^Cannot read sidecar 2015-02-21T00:00:00\.json: /)]);
    await removeDir(`${dir}-elsewhere`);
  });

  test('legacy names follow the storage zone', async () => {
    await snapshot('2024-07-01T12:00:00');
    const [candidate] = await listCandidates(dir, { timeZone: 'Europe/Helsinki', log: captureLog() });
    expect(candidate?.finishedAt.toISOString()).toBe('2024-07-01T09:00:00.000Z');
  });

  test('the sidecar writer: sorted keys, 4-space indent, atomic', async () => {
    await writeSidecar(dir, {
      sync_finish: '2024-12-15T03:12:15.982004+00:00',
      name: 'etc_20241215-031215_1a2b',
      base: null,
      sync_begin: '2024-12-15T03:12:01.503311+00:00',
    });
    expect(await readFile(join(dir, 'etc_20241215-031215_1a2b.json'), 'utf8')).toBe(
      '{\n    "base": null,\n    "name": "etc_20241215-031215_1a2b",\n' +
        '    "sync_begin": "2024-12-15T03:12:01.503311+00:00",\n    "sync_finish": "2024-12-15T03:12:15.982004+00:00"\n}\n',
    );
  });
});
