import fc from 'fast-check';

import {
  evaluateRetention,
  KEPT_AS_NEWEST,
  KEPT_BY_SAFETY_NET,
  parseRetention,
  RetentionError,
  snapshotsToDelete,
  snapshotsToKeep,
  type Snapshot,
} from './retention.js';

/** Daily snapshots finishing at `time` (UTC) from `from` through `to`, named by date. */
function daily(from: string, to: string, time: string): Snapshot[] {
  const snapshots: Snapshot[] = [];
  for (let day = new Date(`${from}T${time}Z`); day <= new Date(`${to}T${time}Z`);) {
    snapshots.push({ name: day.toISOString().slice(0, 10), finishedAt: day });
    day = new Date(day.getTime() + 86_400_000);
  }
  return snapshots;
}

// The snapshot sets the retention vectors run on (docs/domain.md, "Retention").
const A = daily('2024-10-01', '2024-12-15', '03:12:00');
const A_NOW = new Date('2024-12-15T03:20:00Z');
const B = daily('2026-01-01', '2026-03-18', '02:00:00');
const B_NOW = new Date('2026-03-18T02:10:00Z');
const C = daily('2024-10-01', '2025-01-01', '03:12:00');
const C_NOW = new Date('2025-01-01T03:20:00Z');
const D = [
  ...daily('2024-12-01', '2024-12-14', '04:00:00'),
  { name: '2024-12-15', finishedAt: new Date('2024-12-15T02:00:00Z') },
];
const D_NOW = new Date('2024-12-15T02:10:00Z');

const kept = (snapshots: Snapshot[], policy: string, now: Date, options = {}): string[] =>
  snapshotsToKeep(snapshots, policy, now, options).map((s) => s.name.slice(5));

const range = (from: string, to: string): string[] => daily(from, to, '00:00:00').map((s) => s.name.slice(5));

describe('the worked example (docs/domain.md, "A worked example")', () => {
  test('76 daily snapshots, "last 5 days, earliest of 1 month, earliest of 2 months": 7 kept', () => {
    expect(A).toHaveLength(76);
    const decisions = evaluateRetention(A, 'last 5 days, earliest of 1 month, earliest of 2 months', A_NOW);
    const keptNames = decisions.filter((d) => d.keep).map((d) => d.snapshot.name);
    expect(keptNames).toEqual([
      '2024-11-01',
      '2024-12-01',
      '2024-12-11',
      '2024-12-12',
      '2024-12-13',
      '2024-12-14',
      '2024-12-15',
    ]);
    expect(decisions.filter((d) => !d.keep)).toHaveLength(69);
    const reason = (name: string) => decisions.find((d) => d.snapshot.name === name)?.keptBy;
    expect(reason('2024-11-01')).toEqual(['earliest of 2 months']);
    expect(reason('2024-12-01')).toEqual(['earliest of 1 month']);
    expect(reason('2024-12-11')).toEqual(['last 5 days']);
    expect(reason('2024-12-15')).toEqual(['last 5 days', KEPT_AS_NEWEST]);
  });
});

describe('the retention test vectors (docs/domain.md, "Retention")', () => {
  test.each([
    [
      1,
      A,
      'last 5 days, earliest of 1 month, earliest of 2 months',
      A_NOW,
      ['11-01', '12-01', ...range('2024-12-11', '2024-12-15')],
    ],
    [2, A, 'last 5 days, earliest of month', A_NOW, ['12-01', ...range('2024-12-11', '2024-12-15')]],
    [3, A, 'last 10 snapshots, earliest of 2 weeks', A_NOW, range('2024-12-06', '2024-12-15')],
    [4, A, 'LAST 5 DAYS, Earliest Of Month', A_NOW, ['12-01', ...range('2024-12-11', '2024-12-15')]],
    [5, A, 'earliest of month', A_NOW, ['12-01', '12-15']],
    [6, A, 'earliest of 2 fortnights', A_NOW, ['11-24', '12-15']],
    [7, A, 'last 3 snapshots', A_NOW, ['12-13', '12-14', '12-15']],
    [8, A, 'earliest of 3 days', A_NOW, ['12-13', '12-15']],
    [9, B, 'earliest of week', B_NOW, ['03-15', '03-18']],
    [10, B, 'earliest of 2 weeks', B_NOW, ['03-08', '03-18']],
    [11, B, 'earliest of 3 weeks', B_NOW, ['03-01', '03-18']],
    [12, B, 'earliest of fortnight', B_NOW, ['03-08', '03-18']],
    [
      13,
      C,
      'last 5 days, earliest of 1 month, earliest of 2 months',
      C_NOW,
      ['12-01', ...range('2024-12-28', '2025-01-01')],
    ],
    [14, D, 'last 5 days', D_NOW, range('2024-12-10', '2024-12-15')],
  ])('#%i: %s', (_number, snapshots, policy, now, expected) => {
    expect(kept(snapshots, policy, now)).toEqual(expected);
  });

  test('#9 with a Monday week start', () => {
    expect(kept(B, 'earliest of week', B_NOW, { weekStart: 'monday' })).toEqual(['03-16', '03-18']);
  });

  test('#13: Nov 1 is deleted once December has begun', () => {
    expect(
      snapshotsToDelete(C, 'last 5 days, earliest of 1 month, earliest of 2 months', C_NOW).map((s) => s.name),
    ).toContain('2024-11-01');
  });

  test('#15 and #16: rejected by the API, and not applied by the storage', () => {
    expect(() => parseRetention('last 5 days, earliest of 1 year')).toThrow(
      'retention: unrecognised clause "earliest of 1 year"',
    );
    expect(() => parseRetention('last 0 snapshots')).toThrow(
      'retention: count must be at least 1 in "last 0 snapshots"',
    );
    // The storage reads leniently but still refuses: evaluation throws, nothing is deleted.
    expect(() => evaluateRetention(A, 'last 5 days, earliest of 1 year', A_NOW, { lenient: true })).toThrow(
      RetentionError,
    );
    expect(() => evaluateRetention(A, 'last 0 snapshots', A_NOW, { lenient: true })).toThrow(RetentionError);
  });

  test('#17: an empty policy deletes nothing', () => {
    expect(snapshotsToDelete(A, '', A_NOW)).toEqual([]);
    expect(snapshotsToDelete(A, ' , ', A_NOW)).toEqual([]);
  });
});

describe('parseRetention', () => {
  test('every clause form, plurals and case', () => {
    expect(parseRetention('last 7 days, last 1 day, last 3 snapshots, LAST 1 SNAPSHOT')).toEqual([
      { text: 'last 7 days', kind: 'last-days', count: 7 },
      { text: 'last 1 day', kind: 'last-days', count: 1 },
      { text: 'last 3 snapshots', kind: 'last-snapshots', count: 3 },
      { text: 'LAST 1 SNAPSHOT', kind: 'last-snapshots', count: 1 },
    ]);
    const units = parseRetention('earliest of day, earliest of 2 weeks, earliest of fortnight, Earliest of 3 Months');
    expect(units.map((c) => [c.kind, c.count, 'unit' in c ? c.unit : undefined])).toEqual([
      ['earliest-of', 1, 'day'],
      ['earliest-of', 2, 'week'],
      ['earliest-of', 1, 'fortnight'],
      ['earliest-of', 3, 'month'],
    ]);
  });

  test('empty clauses are ignored (a trailing comma)', () => {
    expect(parseRetention('last 5 days,')).toHaveLength(1);
    expect(parseRetention('')).toEqual([]);
  });

  test.each([
    'last 5 weeks',
    'last five days',
    'last 5 days please',
    'earliest of year',
    'earliest 1 month',
    'latest of month',
    'earliest of 1 monthly',
    'last 5 daysx',
  ])('strict: "%s" is unrecognised', (clause) => {
    expect(() => parseRetention(`last 3 snapshots, ${clause}`)).toThrow(`retention: unrecognised clause "${clause}"`);
  });

  test('lenient (storage): trailing text after the unit word and any whitespace are tolerated', () => {
    expect(parseRetention('last 5 days please,\nearliest  of month (monthlies)', { lenient: true })).toMatchObject([
      { kind: 'last-days', count: 5 },
      { kind: 'earliest-of', count: 1, unit: 'month' },
    ]);
    // ...but a different word that merely starts like a unit is not a unit.
    expect(() => parseRetention('last 5 daysx', { lenient: true })).toThrow(RetentionError);
  });

  test('the error names the offending clause', () => {
    try {
      parseRetention('last 5 days, earliest of 1 year ');
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(RetentionError);
      expect((error as RetentionError).clause).toBe('earliest of 1 year');
    }
  });
});

describe('evaluation rules', () => {
  test('the newest snapshot is always kept, even when no clause keeps it', () => {
    // The original deleted the snapshot it had just made and left `latest` dangling.
    const decisions = evaluateRetention(A, 'earliest of 2 months', A_NOW);
    expect(decisions.filter((d) => d.keep).map((d) => [d.snapshot.name, d.keptBy])).toEqual([
      ['2024-11-01', ['earliest of 2 months']],
      ['2024-12-15', [KEPT_AS_NEWEST]],
    ]);
  });

  test('a policy that keeps nothing deletes nothing (the safety net)', () => {
    const old = daily('2024-01-01', '2024-01-10', '03:00:00');
    const decisions = evaluateRetention(old, 'last 2 days', A_NOW);
    expect(decisions.every((d) => d.keep)).toBe(true);
    expect(decisions[0]!.keptBy).toEqual([KEPT_BY_SAFETY_NET]);
  });

  test('calendar cutoffs are local midnights in the storage time zone', () => {
    // 22:30 UTC on Dec 14 is already Dec 15 in Helsinki (UTC+2).
    const snapshots = [
      { name: 'late-14th-utc', finishedAt: new Date('2024-12-14T22:30:00Z') },
      { name: 'early-15th-utc', finishedAt: new Date('2024-12-15T01:00:00Z') },
      { name: 'newest', finishedAt: new Date('2024-12-15T09:00:00Z') },
    ];
    const now = new Date('2024-12-15T10:00:00Z');
    const keep = (timeZone: string) =>
      snapshotsToKeep(snapshots, 'earliest of day', now, { timeZone }).map((s) => s.name);
    expect(keep('UTC')).toEqual(['early-15th-utc', 'newest']);
    expect(keep('Europe/Helsinki')).toEqual(['late-14th-utc', 'newest']);
  });

  test('ties: "last N snapshots" prefers greater names, "earliest of" smaller ones', () => {
    const at = new Date('2024-12-15T01:00:00Z');
    const same = ['b', 'a', 'c'].map((name) => ({ name, finishedAt: at }));
    const now = new Date('2024-12-15T02:00:00Z');
    expect(snapshotsToKeep(same, 'last 1 snapshot', now).map((s) => s.name)).toEqual(['c']);
    expect(
      snapshotsToKeep(same, 'earliest of day', now)
        .map((s) => s.name)
        .sort(),
    ).toEqual(['a', 'c']);
  });

  test('huge counts keep everything instead of overflowing', () => {
    expect(snapshotsToDelete(A, `earliest of ${'9'.repeat(30)} months, last ${'9'.repeat(30)} days`, A_NOW)).toEqual(
      [],
    );
  });

  test('decisions come back in the order given', () => {
    const shuffled = [A[40]!, A[75]!, A[3]!];
    expect(evaluateRetention(shuffled, 'last 1 snapshot', A_NOW).map((d) => [d.snapshot.name, d.keep])).toEqual([
      ['2024-11-10', false],
      ['2024-12-15', true],
      ['2024-10-04', false],
    ]);
  });
});

// ---- properties ----------------------------------------------------------------------------

const NOW = new Date('2025-06-15T12:00:00Z');
const clause = fc.oneof(
  fc.integer({ min: 1, max: 40 }).map((n) => `last ${n} days`),
  fc.integer({ min: 1, max: 40 }).map((n) => `last ${n} snapshots`),
  fc
    .tuple(
      fc.option(fc.integer({ min: 1, max: 12 })),
      fc.constantFrom('day', 'week', 'fortnight', 'month'),
      fc.boolean(),
    )
    .map(([n, unit, plural]) => `earliest of ${n === null ? '' : `${n} `}${unit}${plural ? 's' : ''}`),
);
const policy = fc.array(clause, { minLength: 0, maxLength: 4 }).map((clauses) => clauses.join(', '));
const snapshotSet = fc
  .uniqueArray(fc.integer({ min: 0, max: 400 * 24 * 60 }), { minLength: 0, maxLength: 60 })
  .map((minutesAgo) =>
    minutesAgo.map((ago, i) => ({ name: `s${i}`, finishedAt: new Date(NOW.getTime() - ago * 60_000) })),
  );
const calendar = fc.record({
  timeZone: fc.constantFrom('UTC', 'Europe/Helsinki', 'America/New_York', 'Asia/Kolkata'),
  weekStart: fc.constantFrom('sunday' as const, 'monday' as const),
});

describe('properties', () => {
  test('never deletes the newest snapshot', () => {
    fc.assert(
      fc.property(snapshotSet, policy, calendar, (snapshots, text, options) => {
        const deleted = new Set(snapshotsToDelete(snapshots, text, NOW, options));
        const newest = [...snapshots].sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime())[0];
        if (newest !== undefined) expect(deleted.has(newest)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  test('deletes only snapshots it was given, and decides each exactly once', () => {
    fc.assert(
      fc.property(snapshotSet, policy, calendar, (snapshots, text, options) => {
        const keep = snapshotsToKeep(snapshots, text, NOW, options);
        const remove = snapshotsToDelete(snapshots, text, NOW, options);
        expect(keep.length + remove.length).toBe(snapshots.length);
        expect(new Set([...keep, ...remove])).toEqual(new Set(snapshots));
      }),
      { numRuns: 300 },
    );
  });

  test('is idempotent: applying it to what it kept deletes nothing more', () => {
    fc.assert(
      fc.property(snapshotSet, policy, calendar, (snapshots, text, options) => {
        const keep = snapshotsToKeep(snapshots, text, NOW, options);
        expect(snapshotsToDelete(keep, text, NOW, options)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  test('never deletes everything', () => {
    fc.assert(
      fc.property(snapshotSet, policy, calendar, (snapshots, text, options) => {
        if (snapshots.length > 0) expect(snapshotsToKeep(snapshots, text, NOW, options).length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  test('each "earliest of" clause keeps at most one snapshot, "last N snapshots" at most N', () => {
    fc.assert(
      fc.property(snapshotSet, clause, calendar, (snapshots, text, options) => {
        const byClause = evaluateRetention(snapshots, text, NOW, options).filter((d) => d.keptBy.includes(text));
        const limit = text.startsWith('earliest')
          ? 1
          : text.endsWith('snapshots')
            ? Number(text.split(' ')[1])
            : Infinity;
        expect(byClause.length).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 300 },
    );
  });
});
