import type { ScheduleOptions } from '../turku/schedule.js';
import type { BackoffSettings } from './backoff.js';
import type { Database } from './db/database.js';
import type { Logger } from '../common/logger.js';
import { metricsSetup, type MetricsSetup } from './metrics/endpoint.js';
import { DEFAULT_CACHE_MEMORY_MB, type ApiSettings } from './settings.js';

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
  /** `cache_memory_mb` in bytes; absent means the default (settings.ts). */
  readonly cacheMemoryBytes?: number;
  /** `/metrics` and the counters the views feed (lib/api/metrics/); absent in tests that do not look. */
  readonly metrics?: MetricsSetup;
}

/** The budget of each of the API's two memories (logins, accepted configurations): half of `cache_memory_mb`. */
export function memoryBudgetBytes(ctx: Pick<ApiContext, 'cacheMemoryBytes'>): number {
  return (ctx.cacheMemoryBytes ?? DEFAULT_CACHE_MEMORY_MB * 2 ** 20) / 2;
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
    cacheMemoryBytes: settings.cache_memory_mb * 2 ** 20,
    metrics: metricsSetup({
      perSource: settings.metrics_per_source,
      token: settings.metrics_token,
      schedule: { timeZone: settings.time_zone, weekStart: settings.week_start },
      backoffMaxSeconds: settings.backoff_max,
    }),
  };
}
