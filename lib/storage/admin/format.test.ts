import { describe, expect, it } from '@jest/globals';

import { formatExpired, formatListing, formatVerified } from './format.js';

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const OTHER = '0c1a6a4e-2b5e-4d1e-9d53-9d1bd1c0a0b1';

describe('formatListing', () => {
  it('shows one row per snapshot, a machine without any as one row of dashes, and totals', () => {
    const lines = formatListing([
      {
        machine: UUID,
        names: ['prod-sql-sql_2'],
        sources: {
          etc: [
            { name: 'etc_a', mode: 'link-dest', finished: '2026-12-01T00:00:00.000Z' },
            { name: 'etc_b', mode: 'link-dest', finished: '2026-12-02T00:00:00.000Z' },
          ],
          home: [{ name: 'home_a', mode: 'borg', finished: '2026-12-03T00:00:00.000Z' }],
        },
      },
      { machine: OTHER, names: [], sources: {} },
    ]);
    expect(lines).toEqual([
      'MACHINE                               NAMES           SOURCE  SNAPSHOT  MODE       FINISHED',
      `${UUID}  prod-sql-sql_2  etc     etc_a     link-dest  2026-12-01T00:00:00.000Z`,
      `${UUID}  prod-sql-sql_2  etc     etc_b     link-dest  2026-12-02T00:00:00.000Z`,
      `${UUID}  prod-sql-sql_2  home    home_a    borg       2026-12-03T00:00:00.000Z`,
      `${OTHER}  -               -       -         -          -`,
      '',
      '2 machines, 3 snapshots',
    ]);
  });

  it('says (none) for a storage without machines', () => {
    expect(formatListing([])).toEqual(['(none)', '', '0 machines, 0 snapshots']);
  });
});

describe('formatVerified', () => {
  const clean = {
    machine: UUID,
    source: 'etc',
    snapshot: 'etc_b',
    name: 'etc_b',
    mode: 'link-dest' as const,
    finished: '2026-12-02T00:00:00.000Z',
    path: '/srv/backups/etc.snapshots/etc_b',
    checkedFiles: 12,
    checkedBytes: 3456,
    complete: true,
    problems: [],
    manifest: { recorded: 'backup' as const, created: '2026-12-02T00:00:01.000Z' },
  };

  it('lists what was checked, link-dest', () => {
    expect(formatVerified(clean)).toEqual([
      'OK',
      `machine   ${UUID}`,
      'source    etc',
      'snapshot  etc_b',
      'mode      link-dest',
      'finished  2026-12-02T00:00:00.000Z',
      'path      /srv/backups/etc.snapshots/etc_b',
      'checked   12 files, 3456 bytes against the manifest',
    ]);
  });

  it('says when the manifest was recorded after the fact', () => {
    const late = { ...clean, manifest: { recorded: 'after-the-fact' as const, created: '2026-12-04T00:00:00.000Z' } };
    expect(formatVerified(late).at(-1)).toBe(
      'checked   12 files, 3456 bytes against the manifest recorded after the fact (2026-12-04T00:00:00.000Z)',
    );
  });

  it('lists what was checked, borg', () => {
    const { path: _path, manifest: _manifest, ...rest } = clean;
    const borg = { ...rest, name: 'home_a', snapshot: 'home_a', mode: 'borg' as const, checkedFiles: 0 };
    expect(formatVerified(borg).at(-1)).toBe('checked   borg check --verify-data');
  });

  it('heads with the count of problems by kind, then lists each', () => {
    const problems = [
      { path: 'a', kind: 'content' as const, detail: 'content differs' },
      { path: 'b', kind: 'missing' as const, detail: 'f, 3 bytes' },
      { path: 'c', kind: 'content' as const, detail: 'content differs' },
    ];
    const lines = formatVerified({ ...clean, problems });
    expect(lines[0]).toBe('3 problems in snapshot etc_b: 2 content, 1 missing');
    expect(lines.slice(-4)).toEqual([
      'KIND     PATH  DETAIL',
      'content  a     content differs',
      'missing  b     f, 3 bytes',
      'content  c     content differs',
    ]);
  });
});

describe('formatExpired', () => {
  it('shows what was removed, and the machines skipped', () => {
    expect(
      formatExpired({ dry_run: false, count: 2, removed: { [UUID]: { etc: ['etc_a', 'etc_b'] } }, busy: [OTHER] }),
    ).toEqual([
      'MACHINE                               SOURCE  SNAPSHOT  ACTION',
      `${UUID}  etc     etc_a     removed`,
      `${UUID}  etc     etc_b     removed`,
      '',
      'removed 2 snapshots',
      `skipped ${OTHER}: a backup is in progress`,
    ]);
  });

  it('says a dry run changed nothing', () => {
    expect(
      formatExpired({ dry_run: true, count: 1, removed: { [UUID]: { etc: ['etc_a'] } }, busy: [] }).slice(-1),
    ).toEqual(['would remove 1 snapshot (dry run: nothing changed)']);
    expect(formatExpired({ dry_run: true, count: 0, removed: {}, busy: [] })).toEqual([
      'would remove 0 snapshots (dry run: nothing changed)',
    ]);
  });
});
