import { Temporal } from 'temporal-polyfill';

/** First day of the week for weekly schedules and week-based retention (the original: Sunday). */
export type WeekStart = 'sunday' | 'monday';

export const WEEK_STARTS: readonly WeekStart[] = ['sunday', 'monday'];

/** Calendar settings shared by schedules (API `time_zone`) and retention (storage `timezone`). */
export interface CalendarOptions {
  /** IANA zone name; default UTC. */
  timeZone?: string;
  /** Default Sunday, as the original. */
  weekStart?: WeekStart;
}

export interface Calendar {
  timeZone: string;
  weekStart: WeekStart;
}

export const SECONDS_PER_DAY = 86_400;

/** A bad time zone, week start or date given by a caller. */
export class CalendarError extends RangeError {
  override name = 'CalendarError';
}

/** Fills in defaults and checks the zone name, so a typo fails loudly instead of meaning UTC. */
export function resolveCalendar(options: CalendarOptions = {}): Calendar {
  const timeZone = options.timeZone ?? 'UTC';
  const weekStart = options.weekStart ?? 'sunday';
  if (!WEEK_STARTS.includes(weekStart)) {
    throw new CalendarError(`week start must be "sunday" or "monday", not "${String(weekStart)}"`);
  }
  if (!knownTimeZones.has(timeZone)) {
    try {
      Temporal.Now.zonedDateTimeISO(timeZone);
    } catch {
      throw new CalendarError(`unknown time zone "${timeZone}"`);
    }
    knownTimeZones.add(timeZone);
  }
  return { timeZone, weekStart };
}

const knownTimeZones = new Set<string>();

export function toInstant(date: Date): Temporal.Instant {
  if (Number.isNaN(date.getTime())) throw new CalendarError('invalid date');
  return Temporal.Instant.fromEpochMilliseconds(date.getTime());
}

export function toDate(instant: Temporal.Instant): Date {
  return new Date(instant.epochMilliseconds);
}

/** The local calendar date of an instant in a zone. */
export function localDate(instant: Temporal.Instant, timeZone: string): Temporal.PlainDate {
  return instant.toZonedDateTimeISO(timeZone).toPlainDate();
}

/**
 * The instant at the local wall-clock time `offsetSeconds` after local midnight of `date`
 * (an offset past 24 h lands on a later date). A time in a DST gap moves forward and an
 * ambiguous time takes the earlier instant: Temporal's "compatible" disambiguation.
 */
export function wallClockInstant(date: Temporal.PlainDate, offsetSeconds: number, timeZone: string): Temporal.Instant {
  const days = Math.floor(offsetSeconds / SECONDS_PER_DAY);
  const rest = offsetSeconds - days * SECONDS_PER_DAY;
  const plainTime = new Temporal.PlainTime(Math.floor(rest / 3600), Math.floor((rest % 3600) / 60), rest % 60);
  return date.add({ days }).toZonedDateTime({ timeZone, plainTime }).toInstant();
}

/** ISO day-of-week (Monday 1 … Sunday 7) of the first day of the week. */
export function isoWeekStartDay(weekStart: WeekStart): number {
  return weekStart === 'monday' ? 1 : 7;
}

/** The most recent week-start day on or before `date` (the date itself if it is one). */
export function startOfWeek(date: Temporal.PlainDate, weekStart: WeekStart): Temporal.PlainDate {
  const back = (date.dayOfWeek - isoWeekStartDay(weekStart) + 7) % 7;
  return date.subtract({ days: back });
}

/** ISO 8601 in UTC with a `Z`, second precision unless there are milliseconds. */
export function formatUtc(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
