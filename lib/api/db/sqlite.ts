import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';

import {
  type Database,
  type Queryable,
  type Row,
  SNAPSHOT_BATCH_ROWS,
  type SnapshotReader,
  type SqlValue,
} from './database.js';
import { RESTART_PAGES, startCheckpointer, type Checkpointer } from './sqlite-checkpointer.js';

/** SQLite's own default: a checkpoint once the WAL holds this many pages. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/** With background checkpoints, the serving connection's own checkpoint at this many times theirs. */
const WAL_BOUND_FACTOR = 4;

/** How long a statement waits for another connection's lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * SQLite through Node's built-in `node:sqlite` (no native addon to build or ship, so every
 * platform Node.js runs on can run the API): the embedded default for a single API unit. The
 * driver is synchronous, so transactions are serialised through a promise queue: an `await`
 * inside one request's transaction must not let another request's statements into it.
 * With `readonly`, writes fail and the file must exist.
 *
 * Group commit: the transactions that run in one turn of the event loop share one SQLite
 * transaction, committed once at the end of the turn (a commit is most of a check-in's database
 * time: the WAL append, its locks and system calls). Each keeps its own atomicity through a
 * savepoint (a failed one is rolled back to it alone), and each caller hears of its success only
 * once the shared commit is done, so nothing is reported before it is stored.
 */
export function openSqlite(
  path: string,
  options: {
    readonly readonly?: boolean;
    /** WAL checkpoints in a worker thread (sqlite-checkpointer.ts): for the serving API. */
    readonly backgroundCheckpoints?: boolean;
    /** With them: WAL pages past which a checkpoint is completed (sqlite-checkpointer.ts). */
    readonly walRestartPages?: number;
  } = {},
): Database {
  const readonly = options.readonly === true;
  // Read-only: an existing file (someone else's, such as an original Turku database to import)
  // is opened as it is, never created and never switched to WAL.
  if (path !== ':memory:' && !readonly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The busy timeout is set as the file opens: switching a new file to WAL takes a lock, and
  // another process opening it at the same moment (the charm's CLI beside a starting server)
  // must wait for it rather than fail with "database is locked".
  const db = new DatabaseSync(path, {
    enableForeignKeyConstraints: true,
    readOnly: readonly,
    timeout: BUSY_TIMEOUT_MS,
  });
  if (!readonly) {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
  }
  db.exec('PRAGMA foreign_keys = ON');
  // Node's SQLite is built with a 2 MB page cache (better-sqlite3's with 16 MB): with the fleet's
  // tables far larger than that, every check-in read pages back through system calls.
  db.exec('PRAGMA cache_size = -16000');
  let closed = false;
  let checkpointer: Checkpointer | undefined;
  if (options.backgroundCheckpoints === true && !readonly && path !== ':memory:') {
    // The worker runs the checkpoints. SQLite's own automatic one stays as a bound: should the
    // worker fall far behind (a sync taking long), this connection checkpoints at 4 times the
    // pages the worker completes at; should the worker stop, at SQLite's default.
    const restartPages = options.walRestartPages ?? RESTART_PAGES;
    db.exec(`PRAGMA wal_autocheckpoint = ${WAL_BOUND_FACTOR * restartPages}`);
    // The WAL file is cut back to the bound when it starts over, so a file past the bound is a
    // WAL that long now: one stat between two commits tells (sqlite-checkpointer.ts).
    const pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
    const boundBytes = WAL_BOUND_FACTOR * restartPages * pageSize;
    db.exec(`PRAGMA journal_size_limit = ${boundBytes}`);
    const walPath = `${path}-wal`;
    checkpointer = startCheckpointer(
      path,
      () => {
        if (!closed) db.exec(`PRAGMA wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
      },
      restartPages,
      () => (statSync(walPath, { throwIfNoEntry: false })?.size ?? 0) > boundBytes,
    );
  }

  // Statements other than SELECT and UPDATE may add or remove rows (see countStamp).
  let rowCountChanges = 0;
  const statements = new Map<string, { readonly statement: StatementSync; readonly mayChangeRowCounts: boolean }>();
  const prepare = (sql: string): StatementSync => {
    let prepared = statements.get(sql);
    if (prepared === undefined) {
      const mayChangeRowCounts = !/^\s*(SELECT|UPDATE)\b/i.test(sql);
      prepared = { statement: db.prepare(toSqlitePlaceholders(sql)), mayChangeRowCounts };
      statements.set(sql, prepared);
    }
    if (prepared.mayChangeRowCounts) rowCountChanges++;
    return prepared.statement;
  };
  // `$n` became `?n`, which SQLite binds from the n-th positional value; booleans as 0/1.
  const bind = (params: readonly SqlValue[]): SQLInputValue[] =>
    params.map((value) => (typeof value === 'boolean' ? Number(value) : value));

  /** Snapshot reads: a read-only connection of its own, opened when first needed (not for :memory:). */
  const snapshots = path === ':memory:' ? undefined : snapshotConnection(path, bind);

  const tx: Queryable = {
    all: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepare(sql).all(...bind(params)) as T[]),
    get: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(prepare(sql).get(...bind(params)) as T | undefined),
    run: (sql: string, params: readonly SqlValue[] = []) =>
      Promise.resolve(Number(prepare(sql).run(...bind(params)).changes)),
  };

  // Prepared once: exec() would parse them again for every transaction.
  const begin = db.prepare(readonly ? 'BEGIN' : 'BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT request');
  const release = db.prepare('RELEASE request');
  const rollbackToSavepoint = db.prepare('ROLLBACK TO request');
  const dataVersion = db.prepare('PRAGMA data_version');
  let versionThisTurn: number | undefined;

  let queue: Promise<unknown> = Promise.resolve();
  /** The callers whose work is in the open SQLite transaction, waiting for its commit. */
  let group: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let commitQueued = false;

  /** Ends the open SQLite transaction: committed, or (on `failure`) rolled back, for its whole group. */
  const settleGroup = (failure?: unknown): void => {
    const members = group;
    group = [];
    let error = failure;
    if (error === undefined) {
      try {
        commit.run();
      } catch (commitError) {
        error = commitError;
      }
    }
    if (error !== undefined && db.isTransaction) rollback.run();
    if (error === undefined) checkpointer?.afterCommit();
    for (const member of members) {
      if (error === undefined) member.resolve();
      else member.reject(error);
    }
  };
  // After the other callbacks of this turn of the event loop, behind the work they queued.
  const queueCommit = (): void => {
    if (commitQueued) return;
    commitQueued = true;
    setImmediate(() => {
      queue = queue
        .then(() => {
          commitQueued = false;
          if (!closed && db.isTransaction) settleGroup();
          // Between two commits: the next transaction waits while a checkpoint completes.
          return closed ? undefined : checkpointer?.completeCheckpoint();
        })
        .catch(() => undefined);
    });
  };

  /** Runs `work` under a savepoint; then its value, and the commit of the group it joined. */
  const runInGroup = async <T>(
    work: (tx: Queryable) => Promise<T>,
  ): Promise<{ value: T; committed: Promise<void> }> => {
    if (closed) throw new Error('database is closed');
    if (!db.isTransaction) begin.run();
    savepoint.run();
    let value: T;
    try {
      value = await work(tx);
      release.run();
    } catch (error) {
      if (db.isTransaction) {
        rollbackToSavepoint.run();
        release.run();
        queueCommit();
      } else {
        // SQLite ended the whole transaction itself (disk full, I/O error): the group's work is lost.
        settleGroup(error);
      }
      throw error;
    }
    queueCommit();
    return { value, committed: new Promise<void>((resolve, reject) => group.push({ resolve, reject })) };
  };

  return {
    dialect: 'sqlite',
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const step = queue.then(() => runInGroup(work));
      queue = step.catch(() => undefined);
      return step.then(async ({ value, committed }) => {
        await committed;
        return value;
      });
    },
    readSnapshot<T>(work: (reader: SnapshotReader) => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(new Error('database is closed'));
      if (snapshots !== undefined) return snapshots.read(work);
      // An in-memory database has no second connection: read in a transaction of the serving one.
      return this.transaction(() =>
        work({ batches: (sql, params, size) => batchesOf(prepare(sql), bind(params ?? []), size) }),
      );
    },
    countStamp() {
      // Read once per turn of the event loop (it takes a read lock): the requests of one turn are
      // served at one instant.
      if (versionThisTurn === undefined) {
        versionThisTurn = (dataVersion.get() as { data_version: number }).data_version;
        setImmediate(() => (versionThisTurn = undefined));
      }
      return `${versionThisTurn}:${rowCountChanges}`;
    },
    async close() {
      await queue;
      if (!closed) {
        closed = true;
        if (db.isTransaction) settleGroup();
        await checkpointer?.stop();
        await snapshots?.close();
        db.close();
      }
    },
  };
}

/**
 * A read-only connection beside the serving one: in WAL mode it reads the last committed state
 * while the serving connection goes on writing, so a long read holds up no request. Reads take
 * turns on it, each in one transaction (one snapshot).
 */
function snapshotConnection(path: string, bind: (params: readonly SqlValue[]) => SQLInputValue[]) {
  let connection: DatabaseSync | undefined;
  const statements = new Map<string, StatementSync>();
  let queue: Promise<unknown> = Promise.resolve();
  const open = (): DatabaseSync => {
    if (connection === undefined) {
      connection = new DatabaseSync(path, { readOnly: true, timeout: BUSY_TIMEOUT_MS });
      connection.exec('PRAGMA cache_size = -16000');
    }
    return connection;
  };
  const prepare = (db: DatabaseSync, sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(toSqlitePlaceholders(sql));
      statements.set(sql, statement);
    }
    return statement;
  };
  return {
    read<T>(work: (reader: SnapshotReader) => Promise<T>): Promise<T> {
      const step = queue.then(async () => {
        const db = open();
        db.exec('BEGIN');
        try {
          return await work({ batches: (sql, params, size) => batchesOf(prepare(db, sql), bind(params ?? []), size) });
        } finally {
          // Nothing was written: ending the transaction only lets the snapshot go.
          if (db.isTransaction) db.exec('COMMIT');
        }
      });
      queue = step.catch(() => undefined);
      return step;
    },
    async close(): Promise<void> {
      await queue;
      connection?.close();
      connection = undefined;
    },
  };
}

/** A statement's rows in batches, giving the event loop a turn after each. */
async function* batchesOf<T extends Row>(
  statement: StatementSync,
  params: readonly SQLInputValue[],
  size = SNAPSHOT_BATCH_ROWS,
): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for (const row of statement.iterate(...params)) {
    batch.push(row as T);
    if (batch.length >= size) {
      yield batch;
      batch = [];
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (batch.length > 0) yield batch;
}

/** `$1` → `?1`, outside string literals (both drivers then number parameters the same way). */
export function toSqlitePlaceholders(sql: string): string {
  return sql.replace(
    /('(?:[^']|'')*')|\$(\d+)/g,
    (_match: string, literal: string | undefined, index: string | undefined) =>
      literal !== undefined ? literal : `?${index}`,
  );
}
