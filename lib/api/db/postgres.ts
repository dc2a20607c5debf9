import pg from 'pg';

import {
  type Database,
  type Queryable,
  type Row,
  SNAPSHOT_BATCH_ROWS,
  type SnapshotReader,
  type SqlValue,
} from './database.js';

// BIGINT (int8) columns hold epoch milliseconds and counts, well inside 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));

/** SQLSTATEs after which the whole transaction is retried: serialization failure, deadlock, unique race. */
const RETRYABLE = new Set(['40001', '40P01', '23505']);
const MAX_ATTEMPTS = 5;
/** How long a connection to the server may take to open (TCP, TLS, authentication). */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * PostgreSQL through a pg connection pool: what several API units share. Each transaction runs on
 * one pooled connection; one that loses a race with another unit (two registrations of the same
 * UUID, a deadlock) is retried from the start, so the caller sees either success or its own error.
 */
export function openPostgres(
  url: string,
  options: { readonly poolSize?: number; readonly connectTimeoutMs?: number } = {},
): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // A server that cannot be reached (packets dropped) or that accepts and says nothing would
    // otherwise hold every request, and every hook that migrates, for minutes or for ever: the
    // request fails instead, naming the database (the time also bounds a wait for a free
    // connection of the pool, which under load lasts milliseconds).
    connectionTimeoutMillis: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    // A connection whose server went away without a word (a failover, a cut link) is found out
    // by TCP's keepalive instead of when a query waits on it for ever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  });
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const where = serverOf(url);
  const connect = async (): Promise<pg.PoolClient> => {
    try {
      return await pool.connect();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot connect to PostgreSQL at ${where}: ${reason}`, { cause: error });
    }
  };

  return {
    dialect: 'postgres',
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        const client = await connect();
        const tx: Queryable = {
          all: async <R extends Row>(sql: string, params: readonly SqlValue[] = []) =>
            (await client.query<R>(sql, params as SqlValue[])).rows,
          get: async <R extends Row>(sql: string, params: readonly SqlValue[] = []) =>
            (await client.query<R>(sql, params as SqlValue[])).rows[0],
          run: async (sql: string, params: readonly SqlValue[] = []) =>
            (await client.query(sql, params as SqlValue[])).rowCount ?? 0,
        };
        let broken = false;
        try {
          await client.query('BEGIN');
          const value = await work(tx);
          await client.query('COMMIT');
          return value;
        } catch (error) {
          broken = !(await rolledBack(client));
          if (attempt < MAX_ATTEMPTS && RETRYABLE.has(sqlState(error))) continue;
          throw error;
        } finally {
          client.release(broken);
        }
      }
    },
    async readSnapshot<T>(work: (reader: SnapshotReader) => Promise<T>): Promise<T> {
      const client = await connect();
      let cursors = 0;
      let broken = false;
      const reader: SnapshotReader = {
        async *batches<R extends Row>(sql: string, params: readonly SqlValue[] = [], size = SNAPSHOT_BATCH_ROWS) {
          const cursor = `snapshot_${++cursors}`;
          await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`, params as SqlValue[]);
          const fetch = () => client.query<R>(`FETCH ${size} FROM ${cursor}`);
          // The next batch is asked for before this one is handed over, so the server reads and
          // sends it while the caller works through this one.
          let next: ReturnType<typeof fetch> | undefined = fetch();
          try {
            while (next !== undefined) {
              const rows: R[] = (await next).rows;
              // A short batch is the cursor's last.
              next = rows.length < size ? undefined : fetch();
              if (rows.length > 0) yield rows;
            }
          } finally {
            // A caller that stopped early leaves a FETCH under way: it ends before the CLOSE. After
            // a failed FETCH the transaction is aborted and CLOSE fails too: the ROLLBACK below
            // ends both, and the first error is the one to report.
            await next?.catch(() => undefined);
            await client.query(`CLOSE ${cursor}`).catch(() => undefined);
          }
        },
      };
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        const value = await work(reader);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        broken = !(await rolledBack(client));
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async statement<R extends Row>(name: string, sql: string, params: readonly SqlValue[]): Promise<R[]> {
      return (await pool.query<R>({ name, text: sql, values: params as SqlValue[] })).rows;
    },
    close: () => pool.end(),
  };
}

/** The server's host and port (never the user or password) for messages. */
function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.host === '' ? 'its local socket' : parsed.host;
  } catch {
    return 'the configured address';
  }
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Rolls back; false when even that failed, and the connection must not go back to the pool. */
async function rolledBack(client: pg.PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  }
}
