// Database.readSnapshot on both backends: whole-table reads in batches, from one consistent state,
// that let other requests' transactions run (and commit) between batches.
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { createDatabase, startPostgres, type PostgresServer } from '../../../tests/support/postgres-server.js';
import type { Database } from './database.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';

let postgres: Promise<PostgresServer> | undefined;
afterAll(async () => {
  if (postgres !== undefined) await (await postgres).stop();
});

const opened: Record<string, () => Promise<Database>> = {
  'SQLite (a file)': async () => openSqlite(join(await mkdtemp(join(os.tmpdir(), 'snapshot-test-')), 'api.db')),
  'SQLite (in memory)': () => Promise.resolve(openSqlite(':memory:')),
  PostgreSQL: async () => {
    postgres ??= startPostgres();
    const server = await postgres;
    const name = await createDatabase(server, 'snapshot');
    return openPostgres(server.url.replace(/\/[^/]*$/, `/${name}`));
  },
};

async function withRows(open: () => Promise<Database>, count: number): Promise<Database> {
  const db = await open();
  await db.transaction(async (tx) => {
    await tx.run('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    for (let id = 1; id <= count; id++) await tx.run('INSERT INTO t (id, name) VALUES ($1, $2)', [id, `row ${id}`]);
  });
  return db;
}

const ids = (rows: readonly Record<string, unknown>[]) => rows.map((row) => Number(row.id));

describe.each(Object.entries(opened))('readSnapshot on %s', (_name, open) => {
  test('hands over every row in batches of the size asked, with parameters bound', async () => {
    const db = await withRows(open, 5);
    const batches = await db.readSnapshot(async (reader) => {
      const seen: number[][] = [];
      for await (const rows of reader.batches('SELECT id FROM t WHERE id >= $1 ORDER BY id', [1], 2)) {
        seen.push(ids(rows));
      }
      return seen;
    });
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    await db.close();
  }, 60_000);

  test('a caller may stop early and read on; rows that fill the last batch give no empty batch', async () => {
    const db = await withRows(open, 4);
    const read = await db.readSnapshot(async (reader) => {
      const firstOnly: number[][] = [];
      for await (const rows of reader.batches('SELECT id FROM t ORDER BY id', [], 1)) {
        firstOnly.push(ids(rows));
        break;
      }
      const all: number[][] = [];
      for await (const rows of reader.batches('SELECT id FROM t ORDER BY id', [], 2)) all.push(ids(rows));
      return { firstOnly, all };
    });
    expect(read).toEqual({
      firstOnly: [[1]],
      all: [
        [1, 2],
        [3, 4],
      ],
    });
    // The connection went back to the pool in order: the next transaction runs on it.
    expect(ids(await db.transaction((tx) => tx.all('SELECT id FROM t ORDER BY id')))).toEqual([1, 2, 3, 4]);
    await db.close();
  }, 60_000);

  test('other transactions commit between batches; two reads in one snapshot agree', async () => {
    const db = await withRows(open, 6);
    const inMemory = _name.includes('memory');
    const { first, second, writes } = await db.readSnapshot(async (reader) => {
      const firstIds: number[] = [];
      let written = 0;
      for await (const rows of reader.batches('SELECT id FROM t ORDER BY id', [], 2)) {
        firstIds.push(...ids(rows));
        // A request arriving mid-read; in memory there is one connection, so it waits for the read.
        if (!inMemory && written === 0) {
          await db.transaction((tx) => tx.run('INSERT INTO t (id, name) VALUES (100, $1)', ['late']));
          written += 1;
        }
      }
      const secondIds: number[] = [];
      for await (const rows of reader.batches('SELECT id FROM t ORDER BY id')) secondIds.push(...ids(rows));
      return { first: firstIds, second: secondIds, writes: written };
    });
    expect(first).toEqual([1, 2, 3, 4, 5, 6]);
    // The row committed during the read is not part of its snapshot, and is there afterwards.
    expect(second).toEqual(first);
    expect(writes).toBe(inMemory ? 0 : 1);
    if (!inMemory) {
      const after = await db.transaction((tx) => tx.all('SELECT id FROM t ORDER BY id'));
      expect(ids(after)).toEqual([1, 2, 3, 4, 5, 6, 100]);
    }
    await db.close();
  }, 60_000);

  test('a read that fails lets its snapshot go: the next one sees new rows, and bad SQL is an error', async () => {
    const db = await withRows(open, 3);
    await expect(
      db.readSnapshot(async (reader) => {
        for await (const rows of reader.batches('SELECT id FROM t', [], 1))
          if (rows.length > 0) throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    await expect(
      db.readSnapshot(async (reader) => {
        for await (const rows of reader.batches('SELECT nothing FROM t')) void rows;
      }),
    ).rejects.toThrow(/nothing/);
    await db.transaction((tx) => tx.run('INSERT INTO t (id, name) VALUES (4, $1)', ['new']));
    const count = await db.readSnapshot(async (reader) => {
      let n = 0;
      for await (const rows of reader.batches('SELECT id FROM t')) n += rows.length;
      return n;
    });
    expect(count).toBe(4);
    await db.close();
  }, 60_000);
});
