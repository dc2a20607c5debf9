import { Temporal } from 'temporal-polyfill';

import type { ApiContext } from '../context.js';
import { Store, type Table } from '../store.js';

/**
 * `health` (docs/api.md, "health"): the API and its database answer. Fleet health is the admin `health`
 * command's job.
 */

const COUNTED: readonly [string, Table][] = [
  ['auth', 'auths'],
  ['storage', 'storages'],
  ['machine', 'machines'],
  ['source', 'sources'],
  ['filter_set', 'filter_sets'],
  ['backup_log', 'backup_logs'],
];

export async function health(
  ctx: ApiContext,
): Promise<{ healthy: boolean; date: string; counts: Record<string, number> }> {
  const counts = await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const result: Record<string, number> = {};
    for (const [key, table] of COUNTED) result[key] = await store.count(table);
    return result;
  });
  return { healthy: true, date: isoWithOffset(ctx.now(), ctx.schedule.timeZone ?? 'UTC'), counts };
}

/** `2024-12-15T07:00:00.123000+00:00`: microseconds and a numeric offset, in the API's zone. */
export function isoWithOffset(date: Date, timeZone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(date.getTime())
    .toZonedDateTimeISO(timeZone)
    .toString({ smallestUnit: 'microsecond', timeZoneName: 'never' });
}
