import { FrequencyError, parseFrequency } from '../../turku/frequency.js';
import { nextBackup, ScheduleError, type ScheduleOptions } from '../../turku/schedule.js';

/**
 * A frequency's period in seconds: how far apart two of its runs may be, for deciding when a
 * source is overdue (docs/api.md, "Metrics"). Calendar forms have fixed periods; a cron
 * expression's is the widest gap among its next runs. Undefined for a frequency that does not
 * parse or never runs: the scheduler retries those after the longest backoff (the caller's fallback).
 */

const HOUR = 3600;
const DAY = 24 * HOUR;
/** Cron runs sampled for the widest gap: enough to see a weekly expression's week. */
const CRON_SAMPLES = 16;
const SAMPLE_START = new Date('2024-01-01T00:00:00Z');
const SAMPLE_SOURCE = '00000000-0000-4000-8000-000000000000';

export function frequencyPeriodSeconds(frequency: string, schedule: ScheduleOptions): number | undefined {
  try {
    const parsed = parseFrequency(frequency);
    switch (parsed.kind) {
      case 'hourly':
        return HOUR;
      case 'daily':
        return DAY;
      case 'weekly':
      case 'weekday':
        return 7 * DAY;
      case 'monthly':
        return 31 * DAY;
      case 'cron':
        return widestCronGap(parsed, schedule);
    }
  } catch (error) {
    if (error instanceof FrequencyError || error instanceof ScheduleError) return undefined;
    throw error;
  }
}

function widestCronGap(frequency: Parameters<typeof nextBackup>[0], schedule: ScheduleOptions): number {
  let widest = 0;
  let previous = nextBackup(frequency, SAMPLE_SOURCE, SAMPLE_START, schedule);
  for (let i = 0; i < CRON_SAMPLES; i++) {
    const next = nextBackup(frequency, SAMPLE_SOURCE, previous, schedule);
    widest = Math.max(widest, (next.getTime() - previous.getTime()) / 1000);
    previous = next;
  }
  return widest;
}
