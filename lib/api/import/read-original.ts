import { statSync } from 'node:fs';

import type { Database, Queryable } from '../db/database.js';
import { openPostgres } from '../db/postgres.js';
import { openSqlite } from '../db/sqlite.js';
import type { Table } from '../store.js';
import { ORIGINAL_TABLES, type ColumnKind, type TableSpec } from './original-tables.js';
import { ImportError, originalValue, type ImportedRow } from './values.js';

/**
 * Reading an original Turku database, SQLite file or PostgreSQL URL, through our own database
 * layer: the SQLite file read-only, PostgreSQL in one read-only snapshot, so a database still in
 * use reads as one consistent state.
 */

export type OriginalRows = ReadonlyMap<Table, readonly ImportedRow[]>;

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** How messages name the original: the file, or "PostgreSQL" (a URL may carry a password). */
export function describeOrigin(from: string): string {
  return POSTGRES_URL.test(from) ? 'PostgreSQL' : from;
}

export function openOriginal(from: string): Database {
  if (POSTGRES_URL.test(from)) return openPostgres(from, { poolSize: 1 });
  const stats = statSync(from, { throwIfNoEntry: false });
  if (stats === undefined) {
    throw new ImportError(`--from ${from}: no such file (expected an SQLite file or a postgres:// URL)`);
  }
  if (!stats.isFile())
    throw new ImportError(`--from ${from}: not a file (expected an SQLite file or a postgres:// URL)`);
  try {
    return openSqlite(from, { readonly: true });
  } catch (error) {
    throw new ImportError(`--from ${from}: ${(error as Error).message}`);
  }
}

/** Every row of the six tables, validated and converted to our forms (see values.ts). */
export async function readOriginal(db: Database): Promise<OriginalRows> {
  try {
    return await db.transaction(async (tx) => {
      if (db.dialect === 'postgres') {
        await tx.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        // Datetimes are read as text with their offset, in one known format.
        await tx.run("SET LOCAL TIME ZONE 'UTC'");
        await tx.run("SET LOCAL DateStyle = 'ISO, YMD'");
      }
      const rows = new Map<Table, ImportedRow[]>();
      for (const spec of ORIGINAL_TABLES) rows.set(spec.table, await readTable(tx, db.dialect, spec));
      return rows;
    });
  } catch (error) {
    if (error instanceof ImportError) throw error;
    throw new ImportError(`cannot read the original database: ${(error as Error).message}`);
  }
}

const CAST_TO_TEXT = new Set<ColumnKind>(['id', 'uuid', 'ref', 'ref?', 'time', 'time?']);

async function readTable(tx: Queryable, dialect: Database['dialect'], spec: TableSpec): Promise<ImportedRow[]> {
  // On PostgreSQL, uuid and timestamptz columns come as text, like SQLite's, for one parser.
  const columns = spec.columns
    .map(({ name, kind }) =>
      dialect === 'postgres' && CAST_TO_TEXT.has(kind) ? `"${name}"::text AS "${name}"` : `"${name}"`,
    )
    .join(', ');
  let raw;
  try {
    raw = await tx.all(`SELECT ${columns} FROM "${spec.original}" ORDER BY "id"`);
  } catch (error) {
    throw new ImportError(
      `cannot read table ${spec.original}: ${(error as Error).message} (is this an original Turku database?)`,
    );
  }
  return raw.map((row) => {
    const at = (column: string) => () => `${spec.original} row ${String(row.id)}, column ${column}`;
    const converted: Record<string, ImportedRow[string]> = {};
    for (const { name, kind } of spec.columns) converted[name] = originalValue(kind, row[name], at(name));
    return converted;
  });
}
