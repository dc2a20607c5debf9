import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';

import { FrequencyError } from './frequency.js';
import { crc32Of, hashedInt } from './hash.js';
import { nextBackup, ScheduleError } from './schedule.js';

const ID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const BASE = '2024-12-15T07:00:00Z'; // a Sunday

const next = (frequency: string, base = BASE, options = {}): string =>
  nextBackup(frequency, ID, new Date(base), options).toISOString().replace('.000Z', 'Z');

describe('the schedule test vectors (docs/domain.md, "Schedules")', () => {
  test('hash values of the vector source id', () => {
    expect(hashedInt(0, 59, ID)).toBe(15);
    expect(hashedInt(0, 59, `${ID}:second`)).toBe(51);
    expect(hashedInt(0, 6, ID)).toBe(6);
    expect(hashedInt(0, 86399, ID)).toBe(11535);
    expect(hashedInt(7200, 50400, ID)).toBe(8089);
    expect(hashedInt(79200, 93600, ID)).toBe(87611);
    expect(hashedInt(0, 30, ID)).toBe(30);
  });

  test.each([
    ['hourly', '2024-12-15T08:15:51Z'],
    ['daily', '2024-12-16T03:12:15Z'],
    ['daily, 0200-1400', '2024-12-16T02:14:49Z'],
    ['daily, 2200-0200', '2024-12-17T00:20:11Z'],
    ['daily, 0315', '2024-12-16T03:15:00Z'],
    ['weekly', '2024-12-28T03:12:15Z'],
    ['WEEKLY', '2024-12-28T03:12:15Z'],
    ['wednesday', '2024-12-18T03:12:15Z'],
    ['sunday, 0630', '2024-12-22T06:30:00Z'],
    ['sunday', '2024-12-22T03:12:15Z'],
    ['monthly', '2025-01-31T03:12:15Z'],
    ['cron 42 8 * * *', '2024-12-15T08:42:15Z'],
    ['cron H H(8-16) * * *', '2024-12-15T15:15:15Z'],
    ['cron H H * * H', '2024-12-21T07:15:15Z'],
    ['cron @midnight', '2024-12-16T01:15:15Z'],
  ])('%s from Sun 2024-12-15 07:00 UTC is %s', (frequency, expected) => {
    expect(next(frequency)).toBe(expected);
  });

  test('weekly with a Monday week start', () => {
    expect(next('weekly', BASE, { weekStart: 'monday' })).toBe('2024-12-22T03:12:15Z');
  });

  test('a weekday slot later today is still taken', () => {
    expect(next('sunday, 0630', '2024-12-14T07:00:00Z')).toBe('2024-12-15T06:30:00Z');
  });

  test("a window crossing midnight keeps the run that started on the weekday's evening", () => {
    expect(next('sunday, 2300-0100', '2024-12-16T00:10:00Z')).toBe('2024-12-16T00:28:47Z');
  });

  test.each(['daily, 2am', 'fortnightly'])('%s is rejected', (frequency) => {
    expect(() => next(frequency)).toThrow(FrequencyError);
  });
});

describe('the original bugs stay fixed', () => {
  test('a weekday schedule is never in the past, even on that day after the slot', () => {
    // The original returned Sun 12-15 06:30 here, due again at every ping all day.
    expect(next('sunday, 0630', '2024-12-15T06:30:00Z')).toBe('2024-12-22T06:30:00Z');
    expect(next('sunday, 0630', '2024-12-15T06:29:59Z')).toBe('2024-12-15T06:30:00Z');
  });

  test('monthly can land on the 1st and never on the month after next', () => {
    // crc mod 31 = 30 for the vector id: the last day of a 31-day month, not the 1st after it.
    expect(next('monthly', '2024-12-31T23:00:00Z')).toBe('2025-01-31T03:12:15Z');
    const firstDayId = findId((id) => hashedInt(0, 29, id) === 0);
    expect(nextBackup('monthly', firstDayId, new Date('2025-03-10T00:00:00Z')).getUTCDate()).toBe(1);
  });

  test('hourly minute and second come from independent hashes', () => {
    expect(next('hourly')).toBe('2024-12-15T08:15:51Z'); // the original: 08:15:15
  });

  test('keywords are case-insensitive', () => {
    expect(next('Daily, 0315')).toBe(next('daily, 0315'));
    expect(next('SUNDAY')).toBe(next('sunday'));
    expect(next('CRON @Midnight')).toBe(next('cron @midnight'));
  });
});

describe('time zones and daylight saving', () => {
  const helsinki = { timeZone: 'Europe/Helsinki' };

  test('slots are local wall-clock times', () => {
    expect(next('daily, 0315', BASE, helsinki)).toBe('2024-12-16T01:15:00Z');
    // India is UTC+05:30: the hour boundary is local.
    expect(next('hourly', BASE, { timeZone: 'Asia/Kolkata' })).toBe('2024-12-15T07:45:51Z');
  });

  test('a time in the spring-forward gap moves forward', () => {
    // 03:30 does not exist in Helsinki on 2024-03-31: it becomes 04:30 EEST.
    expect(next('daily, 0330', '2024-03-30T10:00:00Z', helsinki)).toBe('2024-03-31T01:30:00Z');
    expect(next('cron 30 3 * * *', '2024-03-30T10:00:00Z', helsinki)).toBe('2024-03-31T01:30:15Z');
  });

  test('an ambiguous fall-back time takes the earlier instant', () => {
    expect(next('daily, 0330', '2024-10-26T10:00:00Z', helsinki)).toBe('2024-10-27T00:30:00Z');
    expect(next('cron 30 3 * * *', '2024-10-26T10:00:00Z', helsinki)).toBe('2024-10-27T00:30:15Z');
  });

  test('across a DST gap the earliest real instant wins, not the first in clock order', () => {
    // Lord Howe springs forward 30 minutes, 02:00 -> 02:30, on 2024-10-06: 02:10 becomes
    // 02:40, which is later than the 02:30 candidate.
    const lordHowe = { timeZone: 'Australia/Lord_Howe' };
    expect(next('cron 10,30 2 * * *', '2024-10-05T12:00:00Z', lordHowe)).toBe('2024-10-05T15:30:15Z');
  });

  test('an unknown zone is an error, not UTC', () => {
    expect(() => next('daily', BASE, { timeZone: 'Mars/Olympus' })).toThrow('unknown time zone "Mars/Olympus"');
  });
});

describe('cron', () => {
  test('day-of-month and day-of-week both restricted: either matches', () => {
    expect(next('cron 0 12 13 * 5', '2025-01-10T13:00:00Z')).toBe('2025-01-13T12:00:15Z');
    expect(next('cron 0 12 13 * 5', '2025-01-13T13:00:00Z')).toBe('2025-01-17T12:00:15Z');
  });

  test('only day-of-week restricted: that weekday only; 7 is Sunday', () => {
    expect(next('cron 0 12 * * 5')).toBe('2024-12-20T12:00:15Z');
    expect(next('cron 0 6 * * 7')).toBe('2024-12-22T06:00:15Z');
    expect(next('cron 0 6 * * sun')).toBe('2024-12-22T06:00:15Z');
  });

  test('names, ranges, lists and steps', () => {
    expect(next('cron 0 0 1 jan,JUL *')).toBe('2025-01-01T00:00:15Z');
    expect(next('cron 0 9 * * mon-fri', '2024-12-14T10:00:00Z')).toBe('2024-12-16T09:00:15Z');
    expect(next('cron */20 * * * *', '2024-12-15T07:20:00Z')).toBe('2024-12-15T07:40:15Z');
    expect(next('cron 10-30/10 * * * *', '2024-12-15T07:20:00Z')).toBe('2024-12-15T07:30:15Z');
    expect(next('cron 5/20 * * * *', '2024-12-15T07:30:00Z')).toBe('2024-12-15T07:45:15Z');
    // "a/n" in day-of-week runs to Saturday: 5/2 is Friday only, not Friday and Sunday (7).
    expect(next('cron 0 6 * * 5/2', '2024-12-20T07:00:00Z')).toBe('2024-12-27T06:00:15Z');
  });

  test('the match is strictly after the base minute', () => {
    expect(next('cron 42 8 * * *', '2024-12-15T08:42:00Z')).toBe('2024-12-16T08:42:15Z');
    expect(next('cron 42 8 * * *', '2024-12-15T08:41:59Z')).toBe('2024-12-15T08:42:15Z');
  });

  test('hashed steps and ranges', () => {
    // minute: crc mod 10 = 5, then every 10 up to 29
    expect(next('cron H(0-29)/10 7 * * *')).toBe('2024-12-15T07:05:15Z');
    expect(next('cron H(0-29)/10 7 * * *', '2024-12-15T07:25:00Z')).toBe('2024-12-16T07:05:15Z');
  });

  test('a leap day runs only in leap years', () => {
    expect(next('cron 0 0 29 2 *')).toBe('2028-02-29T00:00:15Z');
  });

  test('R fields are drawn on each evaluation', () => {
    const half = { random: () => 0.5 }; // floor(0.5 * 2^32) mod 60 = 8
    expect(next('cron R 0 * * *', BASE, half)).toBe('2024-12-16T00:08:15Z');
    expect(next('cron R 0 * * *', BASE, { random: () => 0 })).toBe('2024-12-16T00:00:15Z');
  });

  test('a hashed day that no month has is an error for that source', () => {
    // Day-of-month H is ((crc >>> 2) mod 31) + 1: 30 or 31 never happens in February.
    const lastDayId = findId((id) => ((crc32Of(id) >>> 2) % 31) + 1 >= 30);
    expect(() => nextBackup('cron 0 0 H 2 *', lastDayId, new Date(BASE))).toThrow(ScheduleError);
  });
});

describe('source ids', () => {
  test('the canonical form seeds the hash, whatever form the id is given in', () => {
    const upper = nextBackup('daily', ID.toUpperCase(), new Date(BASE));
    const bare = nextBackup('daily', ID.replaceAll('-', ''), new Date(BASE));
    expect(upper).toEqual(nextBackup('daily', ID, new Date(BASE)));
    expect(bare).toEqual(upper);
  });
});

// ---- properties ----------------------------------------------------------------------------

const ZONES = ['UTC', 'Europe/Helsinki', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const NO_DST_ZONES = ['UTC', 'Asia/Kolkata', 'Asia/Tokyo'];
const WEEKDAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const hhmm = fc.record({
  h: fc.integer({ min: 0, max: 23 }),
  m: fc.integer({ min: 0, max: 59 }),
});
const pad = (value: number): string => String(value).padStart(2, '0');
const hhmmText = ({ h, m }: { h: number; m: number }): string => `${pad(h)}${pad(m)}`;
const timeSpec = fc.oneof(
  fc.constant(''),
  hhmm.map((t) => `, ${hhmmText(t)}`),
  fc.tuple(hhmm, hhmm).map(([a, b]) => `, ${hhmmText(a)}-${hhmmText(b)}`),
);
const period = fc.constantFrom('hourly', 'daily', 'weekly', 'monthly', ...WEEKDAY_NAMES);
const simpleFrequency = fc.tuple(period, timeSpec).map(([p, t]) => `${p}${t}`);
const cronField = (lo: number, hi: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constant('*'),
    fc.constant('H'),
    fc.integer({ min: lo, max: hi }).map(String),
    fc.integer({ min: 1, max: Math.min(15, hi - lo + 1) }).map((n) => `*/${n}`),
    fc.integer({ min: 1, max: Math.min(15, hi - lo + 1) }).map((n) => `H/${n}`),
  );
const cronFrequency = fc
  .tuple(
    cronField(0, 59),
    cronField(0, 23),
    fc.constantFrom('*', 'H(1-28)', '1', '15', '*/7'),
    fc.constant('*'),
    cronField(0, 6),
  )
  .map((fields) => `cron ${fields.join(' ')}`);
const anyFrequency = fc.oneof(simpleFrequency, cronFrequency);
const instant = fc.date({
  min: new Date('1990-01-01T00:00:00Z'),
  max: new Date('2090-01-01T00:00:00Z'),
  noInvalidDate: true,
});

describe('properties', () => {
  test('the next backup is always strictly after `after`', () => {
    fc.assert(
      fc.property(anyFrequency, fc.uuid(), instant, fc.constantFrom(...ZONES), (frequency, id, after, timeZone) => {
        const result = nextBackup(frequency, id, after, { timeZone });
        expect(result.getTime()).toBeGreaterThan(after.getTime());
      }),
      { numRuns: 400 },
    );
  });

  test('the next backup is never further than one period (plus a window) away', () => {
    const DAY = 86_400_000;
    const bound: Record<string, number> = {
      hourly: 2 * 3_600_000,
      daily: 3 * DAY,
      weekly: 15 * DAY,
      monthly: 63 * DAY,
    };
    fc.assert(
      fc.property(simpleFrequency, fc.uuid(), instant, fc.constantFrom(...ZONES), (frequency, id, after, timeZone) => {
        const periodName = frequency.split(',')[0]!;
        const limit = bound[periodName] ?? 9 * DAY;
        const result = nextBackup(frequency, id, after, { timeZone });
        expect(result.getTime() - after.getTime()).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 400 },
    );
  });

  test('a windowed run falls inside its window, on the right day', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('daily', 'weekly', 'monthly', ...WEEKDAY_NAMES),
        hhmm,
        hhmm,
        fc.uuid(),
        instant,
        fc.constantFrom(...NO_DST_ZONES),
        (periodName, start, end, id, after, timeZone) => {
          const result = nextBackup(`${periodName}, ${hhmmText(start)}-${hhmmText(end)}`, id, after, { timeZone });
          const local = Temporal.Instant.fromEpochMilliseconds(result.getTime()).toZonedDateTimeISO(timeZone);
          const startS = start.h * 3600 + start.m * 60;
          let endS = end.h * 3600 + end.m * 60;
          if (endS < startS) endS += 86_400;
          let secondOfDay = local.hour * 3600 + local.minute * 60 + local.second;
          let windowDay = local.toPlainDate();
          if (secondOfDay < startS) {
            // The run spilled past midnight: it belongs to the previous day's window.
            secondOfDay += 86_400;
            windowDay = windowDay.subtract({ days: 1 });
          }
          expect(secondOfDay).toBeGreaterThanOrEqual(startS);
          expect(secondOfDay).toBeLessThanOrEqual(endS);
          const weekday = WEEKDAY_NAMES.indexOf(periodName);
          if (weekday >= 0) expect(windowDay.dayOfWeek).toBe(weekday + 1);
          if (periodName === 'monthly') {
            const afterMonth = Temporal.Instant.fromEpochMilliseconds(after.getTime()).toZonedDateTimeISO(timeZone);
            expect(windowDay.with({ day: 1 }).toString()).toBe(
              afterMonth.toPlainDate().with({ day: 1 }).add({ months: 1 }).toString(),
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a source keeps its slot: the same time of day (or hour) every run', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('hourly', 'daily', 'daily, 0100-0500', 'weekly', 'friday, 2200-0200'),
        fc.uuid(),
        instant,
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(...NO_DST_ZONES),
        (frequency, id, after, runs, timeZone) => {
          const slots = new Set<string>();
          let at = after;
          for (let i = 0; i < runs; i += 1) {
            at = nextBackup(frequency, id, at, { timeZone });
            const local = Temporal.Instant.fromEpochMilliseconds(at.getTime()).toZonedDateTimeISO(timeZone);
            const clock = frequency === 'hourly' ? `${local.minute}:${local.second}` : local.toPlainTime().toString();
            slots.add(frequency === 'weekly' ? `${local.dayOfWeek} ${clock}` : clock);
          }
          expect(slots.size).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('cron: the result is the first matching minute after `after` (brute-force oracle)', () => {
    const fields = fc.tuple(cronField(0, 59), cronField(0, 23));
    fc.assert(
      fc.property(fields, fc.uuid(), instant, ([minuteField, hourField], id, after) => {
        const crc = crc32Of(id);
        const minutes = oracleField(minuteField, 0, 59, crc >>> 0);
        const hours = oracleField(hourField, 0, 23, crc >>> 1);
        let minute = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
        while (!(minutes.has(new Date(minute).getUTCMinutes()) && hours.has(new Date(minute).getUTCHours()))) {
          minute += 60_000;
        }
        const result = nextBackup(`cron ${minuteField} ${hourField} * * *`, id, after);
        expect(result.getTime()).toBe(minute + hashedInt(0, 59, id) * 1000);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * An independent reading of the field forms the generator produces (the period table of
 * docs/domain.md, "Schedules").
 */
function oracleField(field: string, lo: number, hi: number, seed: number): Set<number> {
  const every = (from: number, step: number): Set<number> => {
    const values = new Set<number>();
    for (let v = from; v <= hi; v += step) values.add(v);
    return values;
  };
  if (field === '*') return every(lo, 1);
  if (field === 'H') return new Set([(seed % (hi - lo + 1)) + lo]);
  if (field.startsWith('*/')) return every(lo, Number(field.slice(2)));
  if (field.startsWith('H/')) {
    const step = Number(field.slice(2));
    return every((seed % step) + lo, step);
  }
  return new Set([Number(field)]);
}

function findId(wanted: (id: string) => boolean): string {
  for (let i = 0; i < 1_000_000; i += 1) {
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    if (wanted(id)) return id;
  }
  throw new Error('no id found');
}
