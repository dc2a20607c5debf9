import type { Database, Queryable, Row } from '../db/database.js';
import { Store, type Table } from '../store.js';
import { ORIGINAL_TABLES, tableSpec, type TableSpec } from './original-tables.js';
import { emptyCounts, MAIN_TABLES, planImport, planLogPage, type Counts, type Write } from './plan.js';
import { describeOrigin, openOriginal, withOriginal, type OriginalReader } from './read-original.js';
import { ourValue, type ImportedRow } from './values.js';

/**
 * `turku-api import --from <SQLite file | postgres:// URL>`: copies an original Turku database
 * into ours (plan.ts says what is inserted, updated, kept or refused). Our side is read, planned
 * and written in one transaction, so an error anywhere, or a dry run, leaves it as it was.
 */

export interface ImportOptions {
  readonly dryRun?: boolean;
  /** Backup logs are read, planned and written this many at a time (default 1000). */
  readonly logPageSize?: number;
}

export interface ImportSummary {
  readonly from: string;
  readonly dryRun: boolean;
  readonly tables: readonly ({ readonly table: Table } & Counts)[];
  readonly warnings: readonly string[];
}

export async function importOriginal(
  target: Database,
  from: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const original = openOriginal(from);
  try {
    return await withOriginal(original, (reader) => importFrom(target, reader, describeOrigin(from), options));
  } finally {
    await original.close();
  }
}

const LOG_PAGE = 1000;

/**
 * The sources' last attempts (migration 6) from the logs the import brought: only ever later,
 * so a time our own reports wrote stays when its log has since been pruned.
 */
const LAST_ATTEMPT_FROM_LOGS = `UPDATE sources
  SET date_last_attempt = (SELECT MAX(b.date) FROM backup_logs b WHERE b.source_id = sources.id)
  WHERE EXISTS (SELECT 1 FROM backup_logs b WHERE b.source_id = sources.id
    AND (sources.date_last_attempt IS NULL OR b.date > sources.date_last_attempt))`;

async function importFrom(
  target: Database,
  reader: OriginalReader,
  from: string,
  options: ImportOptions,
): Promise<ImportSummary> {
  const dryRun = options.dryRun === true;
  const original = new Map<Table, ImportedRow[]>();
  for (const spec of MAIN_TABLES) original.set(spec.table, await reader.all(spec));
  const failures = await reader.failuresSinceSuccess();
  const known = {
    sources: new Set(original.get('sources')!.map((row) => row.id as string)),
    storages: new Set(original.get('storages')!.map((row) => row.id as string)),
  };

  const { counts, warnings } = await target.transaction(async (tx) => {
    const store = new Store(tx);
    const plan = planImport(original, await readOurs(tx), failures);
    if (!dryRun) await applyWrites(store, plan.writes);
    const logCounts = emptyCounts();
    for await (const page of reader.pages(tableSpec('backup_logs'), options.logPageSize ?? LOG_PAGE)) {
      const planned = planLogPage(page, await ourLogs(tx, page), known);
      for (const key of Object.keys(logCounts) as (keyof Counts)[]) logCounts[key] += planned.counts[key];
      if (!dryRun) await applyWrites(store, planned.writes);
    }
    if (!dryRun) await tx.run(LAST_ATTEMPT_FROM_LOGS);
    return { counts: new Map([...plan.counts, ['backup_logs', logCounts]]), warnings: plan.warnings };
  });
  return {
    from,
    dryRun,
    tables: ORIGINAL_TABLES.map(({ table }) => ({ table, ...counts.get(table)! })),
    warnings,
  };
}

const selectList = (spec: TableSpec) => spec.columns.map((column) => column.name).join(', ');
const ourRow = (spec: TableSpec, row: Row): ImportedRow =>
  Object.fromEntries(spec.columns.map(({ name, kind }) => [name, ourValue(kind, row[name])]));

async function readOurs(tx: Queryable): Promise<Map<Table, ImportedRow[]>> {
  const rows = new Map<Table, ImportedRow[]>();
  for (const spec of MAIN_TABLES) {
    const raw = await tx.all(`SELECT ${selectList(spec)} FROM ${spec.table}`);
    rows.set(
      spec.table,
      raw.map((row) => ourRow(spec, row)),
    );
  }
  return rows;
}

/** Our backup logs with the ids of one page of the original's. */
async function ourLogs(tx: Queryable, page: readonly ImportedRow[]): Promise<Map<string, ImportedRow>> {
  const spec = tableSpec('backup_logs');
  if (page.length === 0) return new Map();
  const placeholders = page.map((_, i) => `$${i + 1}`).join(', ');
  const raw = await tx.all(
    `SELECT ${selectList(spec)} FROM backup_logs WHERE id IN (${placeholders})`,
    page.map((row) => row.id as string),
  );
  return new Map(raw.map((row) => [String(row.id), ourRow(spec, row)]));
}

async function applyWrites(store: Store, writes: readonly Write[]): Promise<void> {
  for (const write of writes) {
    if (write.action === 'insert') await store.insert(write.table, write.values);
    else await store.update(write.table, write.id, write.values);
  }
}

/** The summary as the CLI prints it: one line per table, then what was done. */
export function summaryLines(summary: ImportSummary): string[] {
  const header = ['TABLE', 'ORIGINAL', 'INSERT', 'UPDATE', 'UNCHANGED', 'KEPT'];
  const rows = summary.tables.map((counts) => [
    counts.table,
    ...[counts.original, counts.insert, counts.update, counts.unchanged, counts.kept].map(String),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const written = summary.tables.reduce((sum, counts) => sum + counts.insert + counts.update, 0);
  const outcome = summary.dryRun
    ? `dry run: nothing written (an import would write ${written} rows)`
    : written === 0
      ? 'nothing to write: this database already has everything'
      : `imported from ${summary.from}: ${written} rows written in one transaction`;
  return [line(header), ...rows.map(line), outcome];
}
