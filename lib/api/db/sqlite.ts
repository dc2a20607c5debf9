import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import BetterSqlite3 from 'better-sqlite3';

import type { Database, Queryable, Row, SqlValue } from './database.js';

/**
 * SQLite through better-sqlite3: the embedded default for a single API unit. The driver is
 * synchronous, so transactions are serialised through a promise queue: an `await` inside one
 * request's transaction must not let another request's statements into it.
 * With `readonly`, writes fail and the file must exist.
 */
export function openSqlite(path: string, options: { readonly readonly?: boolean } = {}): Database {
  const readonly = options.readonly === true;
  // Read-only: an existing file (someone else's, such as an original Turku database to import)
  // is opened as it is, never created and never switched to WAL.
  if (path !== ':memory:' && !readonly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new BetterSqlite3(path, { readonly, fileMustExist: readonly });
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');

  const statements = new Map<string, BetterSqlite3.Statement>();
  const prepare = (sql: string): BetterSqlite3.Statement => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(toSqlitePlaceholders(sql));
      statements.set(sql, statement);
    }
    return statement;
  };
  // Named parameters `@p1`, `@p2`… (better-sqlite3 has no numbered ones); booleans as 0/1.
  const bind = (params: readonly SqlValue[]): Record<string, unknown>[] => {
    if (params.length === 0) return [];
    const named: Record<string, unknown> = {};
    params.forEach((value, i) => (named[`p${i + 1}`] = typeof value === 'boolean' ? Number(value) : value));
    return [named];
  };

  const tx: Queryable = {
    all: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepare(sql).all(...bind(params)) as T[]),
    get: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepare(sql).get(...bind(params)) as T | undefined),
    run: (sql: string, params: readonly SqlValue[] = []) => Promise.resolve(prepare(sql).run(...bind(params)).changes),
  };

  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  return {
    dialect: 'sqlite',
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const result = queue.then(async () => {
        if (closed) throw new Error('database is closed');
        db.exec(readonly ? 'BEGIN' : 'BEGIN IMMEDIATE');
        try {
          const value = await work(tx);
          db.exec('COMMIT');
          return value;
        } catch (error) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw error;
        }
      });
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await queue;
      if (!closed) {
        closed = true;
        db.close();
      }
    },
  };
}

/** `$1` → `@p1`, outside string literals. */
export function toSqlitePlaceholders(sql: string): string {
  return sql.replace(
    /('(?:[^']|'')*')|\$(\d+)/g,
    (_match: string, literal: string | undefined, index: string | undefined) =>
      literal !== undefined ? literal : `@p${index}`,
  );
}
