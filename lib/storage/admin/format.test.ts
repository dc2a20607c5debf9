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
  it('lists what was checked, link-dest', () => {
    expect(
      formatVerified({
        machine: UUID,
        source: 'etc',
        name: 'etc_b',
        mode: 'link-dest',
        finished: '2026-12-02T00:00:00.000Z',
        entries: 12,
        path: '/srv/backups/etc.snapshots/etc_b',
      }),
    ).toEqual([
      'OK',
      `machine   ${UUID}`,
      'source    etc',
      'snapshot  etc_b',
      'mode      link-dest',
      'finished  2026-12-02T00:00:00.000Z',
      'entries   12',
      'path      /srv/backups/etc.snapshots/etc_b',
      'check     directory and sidecar readable',
    ]);
  });

  it('lists what was checked, borg', () => {
    expect(
      formatVerified({
        machine: UUID,
        source: 'home',
        name: 'home_a',
        mode: 'borg',
        finished: '2026-12-03T00:00:00.000Z',
        check: 'borg check passed',
      }).at(-1),
    ).toBe('check     borg check passed');
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
