import type { Database, Queryable } from '../db/database.js';
import { Store, type Table } from '../store.js';
import { ORIGINAL_TABLES } from './original-tables.js';
import { planImport, type Counts, type Plan } from './plan.js';
import { describeOrigin, openOriginal, readOriginal } from './read-original.js';
import { ourValue, type ImportedRow } from './values.js';

/**
 * `turku-api import --from <SQLite file | postgres:// URL>`: copies an original Turku database
 * into ours (plan.ts says what is inserted, updated, kept or refused). Our side is read, planned
 * and written in one transaction, so an error anywhere, or a dry run, leaves it as it was.
 */

export interface ImportOptions {
  readonly dryRun?: boolean;
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
  const source = openOriginal(from);
  let original;
  try {
    original = await readOriginal(source);
  } finally {
    await source.close();
  }
  return importRows(target, original, { ...options, from: describeOrigin(from) });
}

/** The import once the original has been read: exported for tests that bring their own rows. */
export async function importRows(
  target: Database,
  original: ReadonlyMap<Table, readonly ImportedRow[]>,
  options: ImportOptions & { readonly from: string },
): Promise<ImportSummary> {
  const dryRun = options.dryRun === true;
  const plan = await target.transaction(async (tx) => {
    const decided = planImport(original, await readOurs(tx));
    if (!dryRun) await applyPlan(new Store(tx), decided);
    return decided;
  });
  return {
    from: options.from,
    dryRun,
    tables: ORIGINAL_TABLES.map(({ table }) => ({ table, ...plan.counts.get(table)! })),
    warnings: plan.warnings,
  };
}

async function readOurs(tx: Queryable): Promise<Map<Table, ImportedRow[]>> {
  const rows = new Map<Table, ImportedRow[]>();
  for (const spec of ORIGINAL_TABLES) {
    const raw = await tx.all(`SELECT ${spec.columns.map((column) => column.name).join(', ')} FROM ${spec.table}`);
    rows.set(
      spec.table,
      raw.map((row) => Object.fromEntries(spec.columns.map(({ name, kind }) => [name, ourValue(kind, row[name])]))),
    );
  }
  return rows;
}

async function applyPlan(store: Store, plan: Plan): Promise<void> {
  for (const write of plan.writes) {
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
