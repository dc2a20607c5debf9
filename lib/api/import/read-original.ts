import { statSync } from 'node:fs';

import type { Database, Queryable, Row, SqlValue } from '../db/database.js';
import { openPostgres } from '../db/postgres.js';
import { openSqlite } from '../db/sqlite.js';
import { tableSpec, type ColumnKind, type TableSpec } from './original-tables.js';
import { ImportError, originalValue, type ImportedRow } from './values.js';

/**
 * Reading an original Turku database, SQLite file or PostgreSQL URL, through our own database
 * layer: the SQLite file read-only, PostgreSQL in one read-only snapshot, so a database still in
 * use reads as one consistent state.
 */

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

/** Reads of one original table within the snapshot, converted to our forms (see values.ts). */
export interface OriginalReader {
  /** Every row, in id order. */
  all(spec: TableSpec): Promise<ImportedRow[]>;
  /** Every row in id order, `size` at a time: the backup logs, which may be many. */
  pages(spec: TableSpec, size: number): AsyncGenerator<ImportedRow[]>;
  /**
   * For each source, its failed backups since its last successful one, counted in the original's
   * database (so the logs need not be held in memory).
   */
  failuresSinceSuccess(): Promise<Map<string, number>>;
}

/** An error of the caller's own work inside the snapshot: passed through as it is, never retried. */
class CallerError extends Error {
  constructor(readonly error: unknown) {
    super('caller error');
  }
}

/**
 * Runs `use` with the original open in one read-only snapshot. Errors of the original database
 * become an ImportError naming the table; `use`'s own errors come out unchanged.
 */
export async function withOriginal<T>(db: Database, use: (reader: OriginalReader) => Promise<T>): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      if (db.dialect === 'postgres') {
        await tx.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        // Datetimes are read as text with their offset, in one known format.
        await tx.run("SET LOCAL TIME ZONE 'UTC'");
        await tx.run("SET LOCAL DateStyle = 'ISO, YMD'");
      }
      try {
        return await use(readerOf(tx, db.dialect));
      } catch (error) {
        throw new CallerError(error);
      }
    });
  } catch (error) {
    if (error instanceof CallerError) throw error.error;
    if (error instanceof ImportError) throw error;
    throw new ImportError(`cannot read the original database: ${(error as Error).message}`);
  }
}

const CAST_TO_TEXT = new Set<ColumnKind>(['id', 'uuid', 'ref', 'ref?', 'time', 'time?']);

function readerOf(tx: Queryable, dialect: Database['dialect']): OriginalReader {
  const select = (spec: TableSpec) =>
    // On PostgreSQL, uuid and timestamptz columns come as text, like SQLite's, for one parser.
    spec.columns
      .map(({ name, kind }) =>
        dialect === 'postgres' && CAST_TO_TEXT.has(kind) ? `"${name}"::text AS "${name}"` : `"${name}"`,
      )
      .join(', ');
  const query = async (spec: TableSpec, sql: string, params: readonly SqlValue[] = []) => {
    try {
      return await tx.all(sql, params);
    } catch (error) {
      throw new ImportError(
        `cannot read table ${spec.original}: ${(error as Error).message} (is this an original Turku database?)`,
      );
    }
  };
  const convert = (spec: TableSpec, raw: readonly Row[]) =>
    raw.map((row) => {
      const at = (column: string) => () => `${spec.original} row ${String(row.id)}, column ${column}`;
      const converted: Record<string, ImportedRow[string]> = {};
      for (const { name, kind } of spec.columns) converted[name] = originalValue(kind, row[name], at(name));
      return converted;
    });

  return {
    async all(spec) {
      return convert(spec, await query(spec, `SELECT ${select(spec)} FROM "${spec.original}" ORDER BY "id"`));
    },
    async *pages(spec, size) {
      let last: string | undefined;
      for (;;) {
        const raw = await query(
          spec,
          `SELECT ${select(spec)} FROM "${spec.original}"${last === undefined ? '' : ' WHERE "id" > $2'} ORDER BY "id" LIMIT $1`,
          last === undefined ? [size] : [size, last],
        );
        if (raw.length === 0) return;
        last = String(raw[raw.length - 1]!.id);
        yield convert(spec, raw);
      }
    },
    async failuresSinceSuccess() {
      const logs = tableSpec('backup_logs');
      // Django writes one datetime format, so SQLite's text compares in time order.
      const raw = await query(
        logs,
        `SELECT ${dialect === 'postgres' ? 'f.source_id::text' : 'f.source_id'} AS source_id, COUNT(*) AS failures
           FROM "${logs.original}" f
          WHERE NOT f.success AND NOT EXISTS (
            SELECT 1 FROM "${logs.original}" s WHERE s.source_id = f.source_id AND s.success AND s.date >= f.date)
          GROUP BY f.source_id`,
      );
      const counts = new Map<string, number>();
      for (const row of raw) {
        const source = originalValue('ref', row.source_id, () => `${logs.original}, column source_id`) as string;
        counts.set(source, (counts.get(source) ?? 0) + Number(row.failures));
      }
      return counts;
    },
  };
}
