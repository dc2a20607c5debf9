import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';

import type { Database, Queryable, Row, SqlValue } from './database.js';

/**
/**
 * SQLite through Node's built-in `node:sqlite` (no native addon to build or ship, so every
 * platform Node.js runs on can run the API): the embedded default for a single API unit. The
 * driver is synchronous, so transactions are serialised through a promise queue: an `await`
 * inside one request's transaction must not let another request's statements into it.
 * With `readonly`, writes fail and the file must exist.
 */
export function openSqlite(path: string, options: { readonly readonly?: boolean } = {}): Database {
  const readonly = options.readonly === true;
  // Read-only: an existing file (someone else's, such as an original Turku database to import)
  // is opened as it is, never created and never switched to WAL.
  if (path !== ':memory:' && !readonly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(path, { enableForeignKeyConstraints: true, readOnly: readonly });
  if (!readonly) {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
  }
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA busy_timeout = 5000');
  // Node's SQLite is built with a 2 MB page cache (better-sqlite3's with 16 MB): with the fleet's
  // tables far larger than that, every check-in read pages back through system calls.
  db.exec('PRAGMA cache_size = -16000');

  const statements = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(toSqlitePlaceholders(sql));
      statements.set(sql, statement);
    }
    return statement;
  };
  // `$n` became `?n`, which SQLite binds from the n-th positional value; booleans as 0/1.
  const bind = (params: readonly SqlValue[]): SQLInputValue[] =>
    params.map((value) => (typeof value === 'boolean' ? Number(value) : value));

  const tx: Queryable = {
    all: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepare(sql).all(...bind(params)) as T[]),
    get: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepare(sql).get(...bind(params)) as T | undefined),
    run: (sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(Number(prepare(sql).run(...bind(params)).changes)),
  };

  // Prepared once: exec() would parse them again for every request's transaction.
  const begin = db.prepare(readonly ? 'BEGIN' : 'BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');

  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  return {
    dialect: 'sqlite',
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const result = queue.then(async () => {
        if (closed) throw new Error('database is closed');
        begin.run();
        try {
          const value = await work(tx);
          commit.run();
          return value;
        } catch (error) {
          if (db.isTransaction) rollback.run();
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

/** `$1` → `?1`, outside string literals (both drivers then number parameters the same way). */
export function toSqlitePlaceholders(sql: string): string {
  return sql.replace(
    /('(?:[^']|'')*')|\$(\d+)/g,
    (_match: string, literal: string | undefined, index: string | undefined) =>
      literal !== undefined ? literal : `?${index}`,
  );
}
