import { Temporal } from 'temporal-polyfill';

import { nextCronMatch, resolveCron } from './cron.js';
import { parseFrequency, WEEKDAYS, type Frequency, type TimeSpec } from './frequency.js';
import { crc32Of, hashedInt } from './hash.js';
import {
  localDate,
  resolveCalendar,
  SECONDS_PER_DAY,
  startOfWeek,
  toDate,
  toInstant,
  wallClockInstant,
  type CalendarOptions,
} from './time.js';
import { canonicalUuid } from './uuid.js';

/**
 * When a source is next due (docs/domain.md, "Schedules"). The result is always strictly after `after`, and a
 * source keeps its hashed slot for life because the hash key is its canonical id.
 */

export interface ScheduleOptions extends CalendarOptions {
  /** Source of chance for `R` cron fields; Math.random by default. */
  random?: () => number;
}

/** Thrown when a schedule has no future run for this source (e.g. a hashed "30 February"). */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

export function nextBackup(
  frequency: string | Frequency,
  sourceId: string,
  after: Date,
  options: ScheduleOptions = {},
): Date {
  const parsed = typeof frequency === 'string' ? parseCached(frequency) : frequency;
  const { timeZone, weekStart } = resolveCalendar(options);
  const key = canonicalUuid(sourceId) ?? sourceId;
  const base = toInstant(after);
  const today = localDate(base, timeZone);
  const at = (date: Temporal.PlainDate, time: TimeSpec): Temporal.Instant =>
    wallClockInstant(date, offsetSeconds(time, key), timeZone);

  switch (parsed.kind) {
    case 'hourly': {
      const hour = base.toZonedDateTimeISO(timeZone).round({ smallestUnit: 'hour', roundingMode: 'floor' });
      const minute = hashedInt(0, 59, key);
      const second = hashedInt(0, 59, `${key}:second`);
      return toDate(hour.add({ hours: 1, minutes: minute, seconds: second }).toInstant());
    }
    case 'daily':
      return toDate(at(today.add({ days: 1 }), parsed.time));
    case 'weekly': {
      const weekOf = startOfWeek(today, weekStart).add({
        days: 7 + hashedInt(0, 6, key),
      });
      return toDate(at(weekOf, parsed.time));
    }
    case 'monthly': {
      const nextMonth = today.with({ day: 1 }).add({ months: 1 });
      return toDate(at(nextMonth.add({ days: hashedInt(0, nextMonth.daysInMonth - 1, key) }), parsed.time));
    }
    case 'weekday': {
      // The most recent such day, then a week later, and so on: the first slot after `after`
      // wins (the original could return today's slot after it had passed).
      const back = (today.dayOfWeek - WEEKDAYS[parsed.day] + 7) % 7;
      for (let weeks = 0; ; weeks += 1) {
        const slot = at(today.subtract({ days: back }).add({ weeks }), parsed.time);
        if (Temporal.Instant.compare(slot, base) > 0) return toDate(slot);
      }
    }
    case 'cron': {
      const resolved = resolveCron(parsed.cron, crc32Of(key), options.random ?? Math.random);
      const match = nextCronMatch(resolved, base, timeZone);
      if (match === undefined) {
        throw new ScheduleError(`cron "${parsed.cron.expression}" never matches for source ${key}`);
      }
      return toDate(match.add({ seconds: hashedInt(0, 59, key) }));
    }
  }
}

/**
 * Fleets share a handful of frequency texts, and parsing (a cron probe especially) costs more
 * than scheduling; parsed frequencies are immutable, so they are kept, within a bound.
 */
const parsedFrequencies = new Map<string, Frequency>();
const MAX_CACHED_FREQUENCIES = 1024;

function parseCached(text: string): Frequency {
  let parsed = parsedFrequencies.get(text);
  if (parsed === undefined) {
    parsed = parseFrequency(text);
    if (parsedFrequencies.size >= MAX_CACHED_FREQUENCIES) parsedFrequencies.clear();
    parsedFrequencies.set(text, parsed);
  }
  return parsed;
}

function offsetSeconds(time: TimeSpec, key: string): number {
  switch (time.kind) {
    case 'hashed':
      return hashedInt(0, SECONDS_PER_DAY - 1, key);
    case 'fixed':
      return time.seconds;
    case 'window': {
      const end = time.end < time.start ? time.end + SECONDS_PER_DAY : time.end;
      return hashedInt(time.start, end, key);
    }
  }
}
