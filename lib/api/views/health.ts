import { Temporal } from 'temporal-polyfill';

import type { ApiContext } from '../context.js';
import type { Database } from '../db/database.js';
import type { Table } from '../store.js';
import { FAILED_VERIFIES_NAMED, failedVerifiesOf, failedVerifyLine } from '../verify-reports.js';

/**
 * `health` (docs/api.md, "health"): the API and its database answer. Fleet health is the admin `health` command's job.
 */

/** The counts the answer carries, key and table: a new count is one more line here. */
const COUNTED: readonly [string, Table][] = [
  ['auth', 'auths'],
  ['storage', 'storages'],
  ['machine', 'machines'],
  ['source', 'sources'],
  ['filter_set', 'filter_sets'],
  ['backup_log', 'backup_logs'],
];

/**
 * How old the counts may be where the database cannot tell that they are still exact
 * (PostgreSQL): health needs no login, so without this every request would count six tables,
 * and anyone could keep the database busy with it.
 */
export const HEALTH_COUNTS_MAX_AGE_MS = 2000;

interface Reading {
  /** The count stamp the counts were read under (exact while it holds), or undefined. */
  readonly stamp: string | undefined;
  /** When the reading started, on the monotonic clock. */
  readonly startedMs: number;
  readonly counts: Promise<Record<string, number>>;
  /**
   * Without a count stamp, the failed verifies are read with the counts and shared as long. With
   * one (SQLite, in the process) they are read per request: an UPDATE that moves a machine to
   * another storage changes which verdict counts without changing the stamp.
   */
  readonly verify?: Promise<VerifyHealth>;
}

/** The last reading per database; requests that come while one is under way share it. */
const lastReadings = new WeakMap<Database, Reading>();

/** Every count in one statement: one consistent reading, one round trip where there are round trips. */
const COUNTS = `SELECT ${COUNTED.map(([key, table]) => `(SELECT COUNT(*) FROM ${table}) AS ${key}`).join(', ')}`;

async function readCounts(db: Database): Promise<Record<string, number>> {
  const row =
    db.statement === undefined
      ? await db.transaction((tx) => tx.get(COUNTS))
      : (await db.statement('turku_health_counts', COUNTS, []))[0];
  const counts: Record<string, number> = {};
  for (const [key] of COUNTED) counts[key] = Number(row?.[key] ?? 0);
  return counts;
}

/**
 * [NEW] The verify part of the answer (docs/api.md, "health"): CRITICAL while a source's latest
 * verify failed, naming machine, source and snapshot as the Nagios check does.
 */
export interface VerifyHealth {
  readonly status: 'OK' | 'CRITICAL';
  readonly failed: number;
  readonly lines: string[];
}

async function verifyHealth(ctx: ApiContext): Promise<VerifyHealth> {
  const failed = await failedVerifiesOf(ctx.db);
  if (failed.length === 0) return { status: 'OK', failed: 0, lines: [] };
  return {
    status: 'CRITICAL',
    failed: failed.length,
    lines: failed.slice(0, FAILED_VERIFIES_NAMED).map(failedVerifyLine),
  };
}

/**
 * Where the database has a count stamp (SQLite), the counts read under the same stamp: no row was
 * added or removed anywhere since, so they are still exact. Elsewhere the counts and the failed
 * verifies read at most `HEALTH_COUNTS_MAX_AGE_MS` ago, one reading at a time.
 */
function currentReading(ctx: ApiContext): Reading {
  const db = ctx.db;
  // Read before counting: a row added meanwhile changes the stamp, so these counts are not reused.
  const stamp = db.countStamp?.();
  const nowMs = performance.now();
  const last = lastReadings.get(db);
  const fresh =
    last !== undefined &&
    (stamp !== undefined ? last.stamp === stamp : nowMs - last.startedMs < HEALTH_COUNTS_MAX_AGE_MS);
  if (fresh) return last;
  const reading: Reading = {
    stamp,
    startedMs: nowMs,
    counts: readCounts(db),
    ...(stamp === undefined ? { verify: verifyHealth(ctx) } : {}),
  };
  lastReadings.set(db, reading);
  // A failed reading is not kept: the next request tries again.
  const forget = () => {
    if (lastReadings.get(db) === reading) lastReadings.delete(db);
  };
  reading.counts.catch(forget);
  reading.verify?.catch(forget);
  return reading;
}

export async function health(
  ctx: ApiContext,
): Promise<{ healthy: boolean; date: string; counts: Record<string, number>; verify: VerifyHealth }> {
  const reading = currentReading(ctx);
  const counts = { ...(await reading.counts) };
  const verify = await (reading.verify ?? verifyHealth(ctx));
  return { healthy: true, date: isoWithOffset(ctx.now(), ctx.schedule.timeZone ?? 'UTC'), counts, verify };
}

/** `2024-12-15T07:00:00.123000+00:00`: microseconds and a numeric offset, in the API's zone. */
export function isoWithOffset(date: Date, timeZone: string): string {
  if (timeZone === 'UTC') {
    // The common case without Temporal's general formatting: years 0-9999 read the same either way.
    const iso = date.toISOString();
    if (iso.length === 24) return `${iso.slice(0, 23)}000+00:00`;
  }
  return Temporal.Instant.fromEpochMilliseconds(date.getTime())
    .toZonedDateTimeISO(timeZone)
    .toString({ smallestUnit: 'microsecond', timeZoneName: 'never' });
}
