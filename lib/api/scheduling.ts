import { hashedInt } from '../turku/hash.js';
import { nextBackup, ScheduleError, type ScheduleOptions } from '../turku/schedule.js';
import { retryDelaySeconds, type BackoffSettings } from './backoff.js';
import { badRequest } from './errors.js';

/**
 * When a source is next due, as the API persists it (docs/api.md, "When a source is due"). A
 * frequency that parses but never matches for this source (a hashed cron day such as 30 February)
 * is the agent's input error, so it is a 400 naming the source rather than a 500.
 */
export function nextBackupOrError(
  frequency: string,
  sourceId: string,
  after: Date,
  schedule: ScheduleOptions,
  sourceName: string,
): Date {
  try {
    return nextBackup(frequency, sourceId, after, schedule);
  } catch (error) {
    if (error instanceof ScheduleError) {
      throw badRequest(`Validation error: source "${sourceName}": frequency: ${error.message}`);
    }
    throw error;
  }
}

/** After the k-th consecutive failure the source waits, instead of re-running at every ping. */
export function retryAfterFailure(failureCount: number, now: Date, backoff: BackoffSettings): Date {
  return new Date(now.getTime() + retryDelaySeconds(failureCount, backoff) * 1000);
}

/** New sources are first backed up within this many seconds of registering (docs/api.md). */
export const FIRST_BACKUP_WINDOW_SECONDS = 15 * 60;

/**
 * A new source's first backup: soon after registering rather than at the first regular slot
 * (for a daily source the original waited until tomorrow), at a point in the next 15 minutes
 * hashed from the source id, so a fleet deployed at once does not hit its storages at once.
 * A regular slot that comes even sooner wins.
 */
export function firstBackup(
  frequency: string,
  sourceId: string,
  now: Date,
  schedule: ScheduleOptions,
  sourceName: string,
): Date {
  const regular = nextBackupOrError(frequency, sourceId, now, schedule, sourceName);
  const soon = new Date(now.getTime() + hashedInt(0, FIRST_BACKUP_WINDOW_SECONDS - 1, `${sourceId}:first`) * 1000);
  return regular < soon ? regular : soon;
}
