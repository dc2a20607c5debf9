import { Temporal } from 'temporal-polyfill';

import { readRelativeTime, RelativeTimeError, type RelativeReading } from './as-of-relative.js';

/**
 * The moment a restore `--restore-as-of` / `as-of` names (docs/datapath.md, "Restore as of a
 * moment"), read into an absolute instant on the agent, which sends it to the storage.
 *
 * - With a zone (`Z`, `+02:00`, `+0200`, `+02`): that instant.
 * - Without one: a wall-clock time in `timeZone` (the agent's zone), by its rules on that date:
 *   - a time the clock showed twice (the hour repeated when summer time ends) means the second
 *     time, so snapshots taken while the clock first showed it count too;
 *   - a time the clock never showed (the hour skipped when summer time starts) means the moment
 *     the clock jumped: the snapshots taken before the jump count, none after it.
 * - A date alone is midnight at the start of that day (so `2026-12-05` is "before that day").
 * - A `T` or a space between date and time; seconds and a fraction are optional.
 * - Anything else that is not ISO-shaped: a relative time read against `now` in `timeZone`
 *   (as-of-relative.ts), by the same rules for repeated and skipped times; `2 hours ago` is
 *   exactly two hours before now. A relative time after now is refused.
 */

export class AsOfError extends RangeError {
  override name = 'AsOfError';
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/i;

/** Input starting like an ISO date is read as ISO only, so it keeps its meaning and its errors. */
const ISO_SHAPED = /^\d{4}-/;

const FORMS =
  'use ISO 8601 (2026-12-05T14:00, 2026-12-05 14:00:30, 2026-12-05T12:00Z) or a relative time ' +
  '(yesterday 14:00, today 09:30, 2 hours ago, 3 days ago, last friday 18:00)';

// `now` defaults to the clock only because lib/agent/ping.ts calls this without one; tests pass it.
export function parseAsOf(text: string, timeZone: string, now: Date = new Date()): Date {
  const trimmed = text.trim();
  const match = ISO.exec(trimmed);
  if (match === null) {
    const instant = ISO_SHAPED.test(trimmed) ? undefined : relativeInstant(trimmed, timeZone, now);
    if (instant === undefined) throw new AsOfError(`Cannot read the time "${text}": ${FORMS}`);
    return toDate(instant);
  }
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zulu, sign, oh, om] = match;
  let plain: Temporal.PlainDateTime;
  try {
    plain = Temporal.PlainDateTime.from(
      {
        year: Number(year),
        month: Number(month),
        day: Number(day),
        hour: Number(hour),
        minute: Number(minute),
        second: Number(second),
        millisecond: Number(fraction.padEnd(9, '0').slice(0, 3)),
        microsecond: Number(fraction.padEnd(9, '0').slice(3, 6)),
        nanosecond: Number(fraction.padEnd(9, '0').slice(6)),
      },
      { overflow: 'reject' },
    );
  } catch {
    throw new AsOfError(`"${text}" is not a valid date and time`);
  }
  if (zulu !== undefined || sign !== undefined) {
    const offset = zulu !== undefined ? '+00:00' : `${sign}${oh}:${om ?? '00'}`;
    try {
      return toDate(Temporal.Instant.from(`${plain.toString()}${offset}`));
    } catch {
      throw new AsOfError(`"${text}" has an invalid zone offset`);
    }
  }
  return toDate(wallClockInstant(plain, timeZone));
}

/** A relative time, or undefined if it is not one; refused if ambiguous or after `now`. */
function relativeInstant(text: string, timeZone: string, now: Date): Temporal.Instant | undefined {
  const nowInstant = Temporal.Instant.fromEpochMilliseconds(now.getTime());
  const nowWallClock = nowInstant.toZonedDateTimeISO(timeZone).toPlainDateTime();
  let reading: RelativeReading | undefined;
  try {
    reading = text === '' ? undefined : readRelativeTime(text, nowWallClock);
  } catch (error) {
    if (error instanceof RelativeTimeError) throw new AsOfError(error.message);
    throw error;
  }
  if (reading === undefined) return undefined;
  const instant = resolveReading(reading, nowInstant, timeZone);
  if (Temporal.Instant.compare(instant, nowInstant) > 0) {
    throw new AsOfError(`"${text}" is read as ${formatInZone(toDate(instant), timeZone)}, after now`);
  }
  return instant;
}

function resolveReading(reading: RelativeReading, now: Temporal.Instant, timeZone: string): Temporal.Instant {
  if (reading.kind === 'elapsed') return now.add(reading.time);
  if (reading.offset !== undefined) return Temporal.Instant.from(`${reading.dateTime.toString()}${reading.offset}`);
  return wallClockInstant(reading.dateTime, timeZone);
}

/** A zone-less time in `timeZone`, with the rules for repeated and skipped times above. */
export function wallClockInstant(plain: Temporal.PlainDateTime, timeZone: string): Temporal.Instant {
  const earlier = plain.toZonedDateTime(timeZone, { disambiguation: 'earlier' });
  if (!earlier.toPlainDateTime().equals(plain)) {
    // Skipped: `earlier` lies before the jump; the jump is the next transition.
    const jump = earlier.getTimeZoneTransition('next');
    if (jump !== null) return jump.toInstant().subtract({ nanoseconds: 1 });
  }
  return plain.toZonedDateTime(timeZone, { disambiguation: 'later' }).toInstant();
}

/** The agent's own zone: `TZ` if set, else the system's. */
export function localTimeZone(): string {
  return Temporal.Now.timeZoneId();
}

/** `2026-12-05T14:00:00+02:00`: an instant as the clock of `timeZone` shows it, to the second. */
export function formatInZone(date: Date, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(date.getTime())
    .toZonedDateTimeISO(timeZone)
    .toString({ smallestUnit: 'second', timeZoneName: 'never' });
}

function toDate(instant: Temporal.Instant): Date {
  // Whole milliseconds down: an instant between two ms is "at or before" the later one.
  return new Date(Math.floor(Number(instant.epochNanoseconds / 1_000_000n)));
}
