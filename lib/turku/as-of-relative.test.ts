import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';

import { parseAsOf } from './as-of.js';

/**
 * docs/datapath.md, "Restore as of a moment": the relative forms agree with the ISO form and with
 * elapsed time, in zones with summer time (30 minutes in Lord Howe), whatever the process's zone.
 */
const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'America/Santiago',
  'Asia/Kolkata',
  'UTC',
];

const zone = fc.constantFrom(...ZONES);
/** 2025 to 2028, to the millisecond: every summer-time change of those years. */
const now = fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 11, 31) }).map((ms) => new Date(ms));
const clockTime = fc.record({ hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }) });

function wallClockNow(date: Date, timeZone: string): Temporal.PlainDateTime {
  return Temporal.Instant.fromEpochMilliseconds(date.getTime()).toZonedDateTimeISO(timeZone).toPlainDateTime();
}

const pad = (n: number) => String(n).padStart(2, '0');

describe('relative as-of times, for any now and zone', () => {
  it('"N hours ago" is exactly N hours before now', () => {
    fc.assert(
      fc.property(zone, now, fc.integer({ min: 1, max: 72 }), (timeZone, at, hours) => {
        expect(parseAsOf(`${hours} hours ago`, timeZone, at).getTime()).toBe(at.getTime() - hours * 3_600_000);
      }),
      { numRuns: 300 },
    );
  });

  it('"yesterday HH:MM" is the ISO time of that clock on yesterday\'s date', () => {
    fc.assert(
      fc.property(zone, now, clockTime, (timeZone, at, { hour, minute }) => {
        const yesterday = wallClockNow(at, timeZone).toPlainDate().subtract({ days: 1 });
        const iso = `${yesterday.toString()}T${pad(hour)}:${pad(minute)}`;
        expect(parseAsOf(`yesterday ${pad(hour)}:${pad(minute)}`, timeZone, at)).toEqual(parseAsOf(iso, timeZone));
      }),
      { numRuns: 300 },
    );
  });

  it('"N days ago" is the ISO time of now\'s clock N days back', () => {
    fc.assert(
      fc.property(zone, now, fc.integer({ min: 1, max: 30 }), (timeZone, at, days) => {
        const then = wallClockNow(at, timeZone).subtract({ days });
        expect(parseAsOf(`${days} days ago`, timeZone, at)).toEqual(parseAsOf(then.toString(), timeZone));
      }),
      { numRuns: 300 },
    );
  });
});
