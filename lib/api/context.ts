import type { ScheduleOptions } from '../turku/schedule.js';
import type { BackoffSettings } from './backoff.js';
import type { Database } from './db/database.js';
import type { Logger } from '../common/logger.js';
import type { ApiSettings } from './settings.js';

/** What the views need from the outside world; tests pass a fixed clock and chance. */
export interface ApiContext {
  readonly db: Database;
  readonly schedule: ScheduleOptions;
  readonly backoff: BackoffSettings;
  readonly log: Logger;
  readonly now: () => Date;
  readonly random: () => number;
  /** `max_sources_per_machine`; absent means the default (request-limits.ts). */
  readonly maxSourcesPerMachine?: number;
}

export function contextFromSettings(
  db: Database,
  settings: ApiSettings,
  log: Logger,
  overrides: Partial<Pick<ApiContext, 'now' | 'random'>> = {},
): ApiContext {
  return {
    db,
    schedule: { timeZone: settings.time_zone, weekStart: settings.week_start },
    backoff: { initial: settings.backoff_initial, max: settings.backoff_max },
    log,
    now: overrides.now ?? (() => new Date()),
    random: overrides.random ?? Math.random,
    maxSourcesPerMachine: settings.max_sources_per_machine,
  };
}
