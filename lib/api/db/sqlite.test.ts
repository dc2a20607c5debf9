// The SQLite backend on node:sqlite: its settings, placeholders and booleans, transactions that
// commit, roll back and never interleave, and the store's queries kept clear of a pattern that
// SQLite 3.54 recompiles on every run.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

test('no store query with ORDER BY compares a column with `= $n` (SQLite 3.54 recompiles those on every run)', () => {
  const store = readFileSync(fileURLToPath(new URL('../store.ts', import.meta.url)), 'utf8');
  const literals = [...store.matchAll(/(['`])((?:SELECT|UPDATE|DELETE)[\s\S]*?)\1/g)].map((match) => match[2]!);
  const ordered = literals.filter((sql) => /ORDER BY/.test(sql));
  expect(ordered.length).toBeGreaterThanOrEqual(4);
  expect(ordered.filter((sql) => /(?<![<>!])=\s*\$\d/.test(sql))).toEqual([]);
});
