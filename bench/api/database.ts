import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';

import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

/**
 * Direct access to the benchmark's database, beside the running API: counting what registration
 * wrote, spreading the schedule, and timing the fleet-wide due-source query
 * (docs/api.md, "When a source is due").
 */

export interface BenchDatabase {
  readonly version: string;
  counts(): Promise<{ readonly machines: number; readonly sources: number }>;
  /** Every source's next backup uniformly at random in [from, from + spanMs); returns the rows changed. */
  spreadSchedule(from: number, spanMs: number): Promise<number>;
  /** The due-source query once; returns the rows it found. */
  dueSources(now: number): Promise<number>;
  dueCount(now: number): Promise<number>;
  plan(now: number): Promise<string[]>;
  sizeBytes(): Promise<number>;
  /** Transactions committed and rolled back in the database so far (PostgreSQL's statistics; none for SQLite). */
  transactions(): Promise<number | undefined>;
  close(): Promise<void>;
}

const DUE_WHERE = `FROM sources s JOIN machines m ON m.id = s.machine_id
  WHERE s.active AND s.published AND m.active AND m.published AND s.date_next_backup <= $1`;
/** The fleet-wide backlog of due sources (the API itself asks per machine: store.ts dueSources). */
export const DUE_QUERY = `SELECT s.* ${DUE_WHERE} ORDER BY s.date_next_backup LIMIT 1000`;
const DUE_COUNT = `SELECT COUNT(*) AS n ${DUE_WHERE}`;

export function sqliteVersion(): string {
  const db = new DatabaseSync(':memory:');
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}

export function openSqliteBench(path: string): BenchDatabase {
  if (!existsSync(path)) throw new Error(`${path}: no such database`);
  const db = new DatabaseSync(path, { timeout: 30_000 });
  const sqlite = (sql: string) => db.prepare(sql.replace(/\$1/g, '?'));
  const due = sqlite(DUE_QUERY);
  return {
    version: sqliteVersion(),
    counts: () =>
      Promise.resolve({
        machines: (sqlite('SELECT COUNT(*) AS n FROM machines').get() as { n: number }).n,
        sources: (sqlite('SELECT COUNT(*) AS n FROM sources').get() as { n: number }).n,
      }),
    spreadSchedule: (from, spanMs) =>
      Promise.resolve(
        Number(
          sqlite('UPDATE sources SET date_next_backup = ? + abs(random() % ?)').run(from, Math.round(spanMs)).changes,
        ),
      ),
    dueSources: (now) => Promise.resolve(due.all(now).length),
    dueCount: (now) => Promise.resolve((sqlite(DUE_COUNT).get(now) as { n: number }).n),
    plan: (now) =>
      Promise.resolve(
        (sqlite(`EXPLAIN QUERY PLAN ${DUE_QUERY}`).all(now) as { detail: string }[]).map((r) => r.detail),
      ),
    async sizeBytes() {
      let total = 0;
      for (const suffix of ['', '-wal']) {
        total += await stat(`${path}${suffix}`).then(
          (info) => info.size,
          () => 0,
        );
      }
      return total;
    },
    transactions: () => Promise.resolve(undefined),
    close: () => Promise.resolve(void db.close()),
  };
}

export async function openPostgresBench(url: string): Promise<BenchDatabase> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const one = async (sql: string, params: unknown[] = []): Promise<number> => {
    const { rows } = await client.query<{ n: string | number }>(sql, params);
    return Number(rows[0]?.n);
  };
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  return {
    version: rows[0]?.server_version ?? 'unknown',
    counts: async () => ({
      machines: await one('SELECT COUNT(*) AS n FROM machines'),
      sources: await one('SELECT COUNT(*) AS n FROM sources'),
    }),
    async spreadSchedule(from, spanMs) {
      const { rowCount } = await client.query(
        'UPDATE sources SET date_next_backup = $1::bigint + floor(random() * $2::bigint)::bigint',
        [from, Math.round(spanMs)],
      );
      // A bulk update leaves a dead copy of every row: autovacuum would clean it up and
      // re-analyse soon after in a live fleet; do it now so that the check-ins meet that state.
      await client.query('VACUUM ANALYZE');
      return rowCount ?? 0;
    },
    dueSources: async (now) => (await client.query(DUE_QUERY, [now])).rowCount ?? 0,
    dueCount: (now) => one(DUE_COUNT, [now]),
    plan: async (now) =>
      (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ANALYZE ${DUE_QUERY}`, [now])).rows.map(
        (row) => row['QUERY PLAN'],
      ),
    sizeBytes: () => one('SELECT pg_database_size(current_database()) AS n'),
    transactions: () =>
      one('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()'),
    close: () => client.end(),
  };
}
