import { CronSyntaxError, parseCron, type CronTemplate } from './cron.js';

/**
 * The `frequency` grammar (docs/domain.md, "Schedules"):
 *   hourly|daily|weekly|monthly|<weekday> [, HHMM | HHMM-HHMM]   or   cron <expr>|<@alias>
 * Keywords are case-insensitive; anything else is an error naming the offending text (the
 * original silently fell back to daily).
 */

export const MAX_FREQUENCY_LENGTH = 200;

/** Thrown for an invalid frequency; `message` is "frequency: <detail>". */
export class FrequencyError extends Error {
  override name = 'FrequencyError';
  constructor(readonly detail: string) {
    super(`frequency: ${detail}`);
  }
}

/** Where in the day (or window) a run happens. Seconds after local midnight. */
export type TimeSpec =
  | { readonly kind: 'hashed' }
  | { readonly kind: 'fixed'; readonly seconds: number }
  /** `end` is below `start` when the window crosses midnight. */
  | { readonly kind: 'window'; readonly start: number; readonly end: number };

export type WeekdayName = 'sunday' | 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday';

/** ISO day numbers, Monday 1 … Sunday 7. */
export const WEEKDAYS: Readonly<Record<WeekdayName, number>> = {
  monday: 1,
  tuesday: 2,
  wednesday: 3,
  thursday: 4,
  friday: 5,
  saturday: 6,
  sunday: 7,
};

export type Frequency =
  | { readonly kind: 'hourly'; readonly warnings: readonly string[] }
  | { readonly kind: 'daily' | 'weekly' | 'monthly'; readonly time: TimeSpec }
  | {
      readonly kind: 'weekday';
      readonly day: WeekdayName;
      readonly time: TimeSpec;
    }
  | { readonly kind: 'cron'; readonly cron: CronTemplate };

const WS = /^[ \t]+|[ \t]+$/g;
const CRON_FORM = /^cron(?:[ \t]+([^]*))?$/i;
const TIME_SPEC = /^(\d{4})(?:[ \t]*-[ \t]*(\d{4}))?$/;

export function parseFrequency(text: string): Frequency {
  if (text.length > MAX_FREQUENCY_LENGTH) {
    throw new FrequencyError(`longer than ${MAX_FREQUENCY_LENGTH} characters`);
  }
  const trimmed = text.replace(WS, '');
  if (trimmed === '') throw new FrequencyError('must not be empty');
  const cron = CRON_FORM.exec(trimmed);
  if (cron) {
    const expression = cron[1] ?? '';
    try {
      return { kind: 'cron', cron: parseCron(expression) };
    } catch (error) {
      if (error instanceof CronSyntaxError) {
        throw new FrequencyError(`invalid cron expression "${expression}": ${error.message}`);
      }
      throw error;
    }
  }
  const parts = trimmed.split(',').map((part) => part.replace(WS, ''));
  if (parts.length > 2) throw new FrequencyError('too many comma-separated parts');
  const [periodText = '', timeText] = parts;
  const time = timeText === undefined ? ({ kind: 'hashed' } as const) : parseTimeSpec(timeText);
  const period = periodText.toLowerCase();
  switch (period) {
    case 'hourly':
      return {
        kind: 'hourly',
        warnings: timeText === undefined ? [] : [`hourly ignores the time "${timeText}"`],
      };
    case 'daily':
    case 'weekly':
    case 'monthly':
      return { kind: period, time };
    default:
      if (Object.hasOwn(WEEKDAYS, period)) return { kind: 'weekday', day: period as WeekdayName, time };
      throw new FrequencyError(`unknown period "${periodText}"`);
  }
}

function parseTimeSpec(text: string): TimeSpec {
  const match = TIME_SPEC.exec(text);
  const invalid = (): FrequencyError => new FrequencyError(`invalid time "${text}" (expected HHMM or HHMM-HHMM)`);
  if (!match) throw invalid();
  const start = hhmmSeconds(match[1]!);
  if (start === undefined) throw invalid();
  if (match[2] === undefined) return { kind: 'fixed', seconds: start };
  const end = hhmmSeconds(match[2]);
  if (end === undefined) throw invalid();
  return { kind: 'window', start, end };
}

function hhmmSeconds(hhmm: string): number | undefined {
  const hours = Number(hhmm.slice(0, 2));
  const minutes = Number(hhmm.slice(2, 4));
  if (hours > 23 || minutes > 59) return undefined;
  return hours * 3600 + minutes * 60;
}
