import { casual, type ParsedResult } from 'chrono-node';
import { Temporal } from 'temporal-polyfill';

/**
 * Relative `--restore-as-of` times (`yesterday 14:00`, `2 hours ago`, `last friday 18:00`), read
 * with chrono-node's English grammar (docs/datapath.md, "Restore as of a moment"). chrono does its
 * date arithmetic with `Date`'s local-time methods, in the process's zone and with that zone's
 * summer-time gaps; so it is given "now" as a wall-clock time 400 years back (the Gregorian
 * calendar repeats every 400 years: same weekdays, same leap days), when every zone kept a fixed
 * local mean time. Its arithmetic there is plain calendar and clock arithmetic; the caller puts
 * the answer on the agent's zone with Temporal, by the same rules as a zone-less ISO time.
 */

/** What a relative time names, before it is put on the agent's zone. */
export type RelativeReading =
  /** A wall-clock time (`yesterday 14:00`, `3 days ago`); `offset` if the text named a zone. */
  | { readonly kind: 'wall-clock'; readonly dateTime: Temporal.PlainDateTime; readonly offset?: string }
  /** Elapsed time from now (`2 hours ago`, `1 day 2 hours ago`): counted exactly, in hours. */
  | { readonly kind: 'elapsed'; readonly time: Temporal.Duration };

export class RelativeTimeError extends RangeError {
  override name = 'RelativeTimeError';
}

const CYCLE_YEARS = 400;
/** A year below this in chrono's answer is the shifted "now"'s; one above it came from the text. */
const SHIFTED_BELOW = 1800;

/** `text` read against `now`, a wall-clock time in the agent's zone; undefined if chrono reads none of it. */
export function readRelativeTime(text: string, now: Temporal.PlainDateTime): RelativeReading | undefined {
  const shifted = now.subtract({ years: CYCLE_YEARS });
  const reference = new Date(
    shifted.year,
    shifted.month - 1,
    shifted.day,
    shifted.hour,
    shifted.minute,
    shifted.second,
    shifted.millisecond,
  );
  const results = casual.parse(text, reference);
  const [result] = results;
  if (result === undefined || results.length > 1 || result.index !== 0 || result.text.length !== text.length) {
    return undefined;
  }
  refuseAmbiguous(text, result);
  const start = result.start;
  const year = start.get('year') ?? shifted.year;
  const dateTime = Temporal.PlainDateTime.from({
    year: year < SHIFTED_BELOW ? year + CYCLE_YEARS : year,
    month: start.get('month') ?? 1,
    day: start.get('day') ?? 1,
    hour: start.get('hour') ?? 0,
    minute: start.get('minute') ?? 0,
    second: start.get('second') ?? 0,
    millisecond: start.get('millisecond') ?? 0,
  });
  if (start.tags().has('result/relativeDateAndTime') || start.tags().has('casualReference/now')) {
    // Text that counts hours, minutes or seconds counts elapsed time, its days as 24 hours.
    return { kind: 'elapsed', time: now.until(dateTime, { largestUnit: 'hours' }) };
  }
  const offsetMinutes = start.isCertain('timezoneOffset') ? start.get('timezoneOffset') : null;
  if (offsetMinutes === null) return { kind: 'wall-clock', dateTime };
  return { kind: 'wall-clock', dateTime, offset: formatOffset(offsetMinutes) };
}

function refuseAmbiguous(text: string, result: ParsedResult): void {
  const tags = result.start.tags();
  if (result.end !== null && result.end !== undefined) {
    throw new RelativeTimeError(`"${text}" names a span of time; give one moment`);
  }
  if (tags.has('parser/SlashDateFormatParser')) {
    throw new RelativeTimeError(`"${text}": a date with slashes is ambiguous (day or month first); use 2026-12-05`);
  }
  // `3 days ago` keeps the clock time of now; `yesterday` or `last friday` alone has none.
  if (!result.start.isCertain('hour') && !tags.has('result/relativeDate')) {
    throw new RelativeTimeError(`"${text}" names a day but not a time of day; add one, e.g. "${text} 14:00"`);
  }
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
