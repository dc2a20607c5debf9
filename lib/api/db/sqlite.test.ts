// The SQLite backend on node:sqlite: its settings (the busy timeout from the moment the file opens), placeholders and booleans, transactions that
// commit, roll back and never interleave (and share a commit per event-loop turn), and the store's queries kept clear of a pattern that
// SQLite 3.54 recompiles on every run.
import { describe, expect, test } from '@jest/globals';
import { execa } from 'execa';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';

import { CHECKPOINT_INTERVAL_MS } from './sqlite-checkpointer.js';
import { openSqlite, toSqlitePlaceholders } from './sqlite.js';

async function fileDb() {
  return openSqlite(join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'nested', 'api.db'));
}

describe('openSqlite', () => {
  test('WAL, NORMAL sync, foreign keys, a 5 s busy timeout and a 16 MB page cache', async () => {
    const db = await fileDb();
    const pragma = (name: string) => db.transaction((tx) => tx.get<Record<string, unknown>>(`PRAGMA ${name}`));
    expect(await pragma('journal_mode')).toEqual({ journal_mode: 'wal' });
    expect(await pragma('synchronous')).toEqual({ synchronous: 1 });
    expect(await pragma('foreign_keys')).toEqual({ foreign_keys: 1 });
    expect(await pragma('busy_timeout')).toEqual({ timeout: 5000 });
    expect(await pragma('cache_size')).toEqual({ cache_size: -16000 });
    await db.close();
  });

  test('a new file another process holds locked is waited for, not refused as locked', async () => {
    const path = join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'api.db');
    // Another process creates the file and holds its write lock for 600 ms, as the charm's CLI
    // may while the server starts: switching the file to WAL must wait for it.
    const holder = execa(process.execPath, [
      '-e',
      `const { DatabaseSync } = require('node:sqlite');
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec('CREATE TABLE t (a INTEGER); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)');
       process.stdout.write('locked\\n');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);
       db.exec('COMMIT');`,
    ]);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const db = openSqlite(path);
    expect(await db.transaction((tx) => tx.get<Record<string, unknown>>('SELECT count(*) AS n FROM t'))).toEqual({
      n: 1,
    });
    expect(await db.transaction((tx) => tx.get<Record<string, unknown>>('PRAGMA journal_mode'))).toEqual({
      journal_mode: 'wal',
    });
    await db.close();
    await holder;
  });

  test('$n placeholders (repeated, outside string literals), booleans as 0/1, changed-row counts', async () => {
    expect(toSqlitePlaceholders("SELECT '$1', $1, $2, $1 FROM t WHERE a = 'it''s $2'")).toBe(
      "SELECT '$1', ?1, ?2, ?1 FROM t WHERE a = 'it''s $2'",
    );
    const db = openSqlite(':memory:');
    await db.transaction(async (tx) => {
      await tx.run('CREATE TABLE t (id INTEGER PRIMARY KEY, flag BOOLEAN, name TEXT, big BIGINT)');
      expect(await tx.run('INSERT INTO t (flag, name, big) VALUES ($1, $2, $3)', [true, 'a', 1_700_000_000_000])).toBe(
        1,
      );
      expect(await tx.run('INSERT INTO t (flag, name, big) VALUES ($1, $2, $3)', [false, null, 0])).toBe(1);
      expect(
        await tx.all('SELECT flag, name, big FROM t WHERE flag = $1 OR name = $2 ORDER BY id', [true, 'x']),
      ).toEqual([{ flag: 1, name: 'a', big: 1_700_000_000_000 }]);
      expect(await tx.run('UPDATE t SET name = $1 WHERE name IS NULL OR name = $1', ['b'])).toBe(1);
      expect(await tx.get('SELECT COUNT(*) AS n FROM t WHERE name = $1', ['b'])).toEqual({ n: 1 });
      expect(await tx.get('SELECT * FROM t WHERE id = $1', [99])).toBeUndefined();
    });
    await db.close();
  });

  test('a failed transaction changes nothing; a waiting one never runs inside another', async () => {
    const db = openSqlite(':memory:');
    await db.transaction((tx) => tx.run('CREATE TABLE t (n INTEGER)'));
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (1)');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    const order: string[] = [];
    const first = db.transaction(async (tx) => {
      order.push('first begins');
      await tx.run('INSERT INTO t VALUES (2)');
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('first ends');
    });
    const second = db.transaction(async (tx) => {
      order.push('second begins');
      return tx.all('SELECT n FROM t');
    });
    await first;
    expect(await second).toEqual([{ n: 2 }]);
    expect(order).toEqual(['first begins', 'first ends', 'second begins']);
    await db.close();
    await expect(db.transaction((tx) => tx.all('SELECT 1'))).rejects.toThrow('database is closed');
  });
});

describe('group commit', () => {
  test('transactions of one event-loop turn share a commit; each stays atomic and is told after the commit', async () => {
    const path = join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'api.db');
    const db = openSqlite(path);
    await db.transaction((tx) => tx.run('CREATE TABLE t (n INTEGER)'));
    const reader = new DatabaseSync(path);
    const committed = () => (reader.prepare('SELECT n FROM t ORDER BY n').all() as { n: number }[]).map((row) => row.n);
    const seenByOthers: number[][] = [];
    const first = db.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)');
      return 'first';
    });
    const failed = db.transaction(async (tx) => {
      await tx.run('INSERT INTO t VALUES (2)');
      throw new Error('refused');
    });
    const third = db.transaction(async (tx) => {
      seenByOthers.push(committed());
      await tx.run('INSERT INTO t VALUES (3)');
      return tx.all('SELECT n FROM t ORDER BY n');
    });
    await expect(failed).rejects.toThrow('refused');
    // The failed one is rolled back alone, before the group's commit.
    expect(committed()).toEqual([]);
    expect(await first).toBe('first');
    expect(committed()).toEqual([1, 3]);
    expect(await third).toEqual([{ n: 1 }, { n: 3 }]);
    expect(seenByOthers).toEqual([[]]);
    // A later turn commits on its own; a failed transaction alone leaves no lock behind.
    await expect(db.transaction(() => Promise.reject(new Error('alone')))).rejects.toThrow('alone');
    await new Promise((resolve) => setImmediate(resolve));
    reader.exec('INSERT INTO t VALUES (4)');
    await db.transaction((tx) => tx.run('INSERT INTO t VALUES (5)'));
    expect(committed()).toEqual([1, 3, 4, 5]);
    reader.close();
    await db.close();
  });

  test('the count stamp changes when rows may have been added or removed, by us or by another connection', async () => {
    const path = join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'api.db');
    const db = openSqlite(path);
    await db.transaction((tx) => tx.run('CREATE TABLE t (n INTEGER)'));
    const stamp = db.countStamp!();
    await db.transaction(async (tx) => {
      await tx.all('SELECT n FROM t');
      await tx.run('UPDATE t SET n = 2');
    });
    expect(db.countStamp!()).toBe(stamp);
    await db.transaction((tx) => tx.run('INSERT INTO t VALUES (1)'));
    const afterInsert = db.countStamp!();
    expect(afterInsert).not.toBe(stamp);
    const other = new DatabaseSync(path);
    other.exec('DELETE FROM t');
    other.close();
    // Another connection's commits are read once per turn of the event loop.
    expect(db.countStamp!()).toBe(afterInsert);
    await new Promise((resolve) => setImmediate(resolve));
    expect(db.countStamp!()).not.toBe(afterInsert);
    await db.close();
  });
});

test('background checkpoints: the worker copies the WAL back', async () => {
  const path = join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'api.db');
  const db = openSqlite(path, { backgroundCheckpoints: true });
  const before = statSync(path).size;
  await db.transaction(async (tx) => {
    await tx.run('CREATE TABLE t (b BLOB)');
    for (let i = 0; i < 500; i++) await tx.run('INSERT INTO t VALUES (randomblob(4000))');
  });
  // Commits after the interval start a checkpoint, which grows the database file itself.
  const deadline = Date.now() + 10_000;
  while (statSync(path).size < before + 1_000_000 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_INTERVAL_MS));
    await db.transaction((tx) => tx.run('INSERT INTO t VALUES (1)'));
  }
  expect(statSync(path).size).toBeGreaterThan(before + 1_000_000);
  await db.close();
});

test('background checkpoints: close ends in a process with nothing else to do, and removes the WAL', async () => {
  const sqliteModule = fileURLToPath(new URL('../../../dist/lib/api/db/sqlite.js', import.meta.url));
  // As the API's last step on SIGTERM: nothing but the database holds the process open. (Before
  // the fix about half such runs exited, code 13, while the close waited for the worker.)
  for (let run = 0; run < 4; run++) {
    const path = join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'api.db');
    const closed = await execa(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { openSqlite } = await import(${JSON.stringify(sqliteModule)});
       const db = openSqlite(${JSON.stringify(path)}, { backgroundCheckpoints: true });
       await db.transaction((tx) => tx.run('CREATE TABLE t (b BLOB)'));
       // Enough commits that the worker checkpoints one after another: one is under way at the close.
       for (let i = 0; i < 300; i++) {
         await db.transaction((tx) => tx.run('INSERT INTO t SELECT randomblob(4000) FROM (VALUES (1),(2),(3),(4),(5))'));
       }
       await db.close();
       process.stdout.write('closed');`,
      ],
      { reject: false },
    );
    expect([closed.exitCode, closed.stdout, closed.stderr]).toEqual([0, 'closed', '']);
    expect(existsSync(`${path}-wal`)).toBe(false);
  }
});

test('background checkpoints: under steady writes the WAL starts over instead of growing', async () => {
  const path = join(await mkdtemp(join(os.tmpdir(), 'sqlite-test-')), 'api.db');
  // The worker completes a checkpoint past 500 pages (2 MB; the server's default is 4,096) and the
  // connection itself checkpoints at four times that, should the worker fall behind.
  const db = openSqlite(path, { backgroundCheckpoints: true, walRestartPages: 500 });
  await db.transaction((tx) => tx.run('CREATE TABLE t (b BLOB)'));
  // About 48 MB of rows (96 MB of WAL frames), one transaction at a time, as a busy API writes them;
  // the WAL file's largest size seen between them (it is cut back to the bound when it starts over).
  let largest = 0;
  try {
    for (let i = 0; i < 12_000; i++) {
      await db.transaction((tx) => tx.run('INSERT INTO t VALUES (randomblob(4000))'));
      largest = Math.max(largest, statSync(`${path}-wal`).size);
    }
  } finally {
    await db.close();
  }
  // However late the worker's checkpoints finish (a busy machine starves its thread), writes wait
  // once the WAL is past 2,000 pages (8 MB): it stays within a few dozen frames of that bound (8.25 MB seen).
  expect(largest).toBeLessThanOrEqual(4 * 500 * 4096 + 32 * 4120);
});

test('no store query with ORDER BY compares a column with `= $n` (SQLite 3.54 recompiles those on every run)', () => {
  const store = readFileSync(fileURLToPath(new URL('../store.ts', import.meta.url)), 'utf8');
  const literals = [...store.matchAll(/(['`])((?:SELECT|UPDATE|DELETE)[\s\S]*?)\1/g)].map((match) => match[2]!);
  const ordered = literals.filter((sql) => /ORDER BY/.test(sql));
  expect(ordered.length).toBeGreaterThanOrEqual(4);
  expect(ordered.filter((sql) => /(?<![<>!])=\s*\$\d/.test(sql))).toEqual([]);
});
