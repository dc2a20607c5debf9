import type { Table } from '../store.js';
import { ORIGINAL_TABLES, type TableSpec } from './original-tables.js';
import { ImportError, sameValue, type ImportedRow, type Value } from './values.js';
import { rowWarnings } from './warnings.js';

/**
 * What an import does (pure: the original's rows and ours in, the writes, counts and warnings
 * out). The backup logs are planned a page at a time, the other tables together and before
 * anything is written. For each original row, by id:
 *
 * - not in ours: **insert** it, with our own columns at their defaults (`snapshot_modes` null,
 *   `skipped` false, `failure_count` as derived below);
 * - in ours with the same values: **unchanged**;
 * - in ours with other values: **update** ours to the original's values when the original row was
 *   touched more recently (the latest of its activity columns: `date_updated`, `date_checked_in`,
 *   `date_last_backed_up`), else **keep** ours. Registration credentials, filter sets and
 *   backup logs have no such columns and are always kept.
 *
 * Rows of ours that the original does not have are left alone; nothing is ever deleted. So a
 * second import of the same database changes nothing: every row is unchanged, or ours is newer
 * (our API has used it since: a check-in, a re-hashed secret) and kept.
 *
 * Refused, naming the row (nothing is written, or what was is rolled back): an id that appears twice, a reference to a row the
 * original does not have, a unique name (storage, credential, filter set, machine UUID, a
 * machine's source name) that a different row already holds once the import would be done, a
 * registration credential of an unknown type, and source names whose storage directories would
 * not be their own.
 */

export type Action = 'insert' | 'update' | 'unchanged' | 'kept';

export interface Write {
  readonly table: Table;
  readonly action: 'insert' | 'update';
  readonly id: string;
  /** Every column for an insert; only the changed ones for an update. */
  readonly values: Readonly<Record<string, Value>>;
}

export type Counts = Readonly<Record<'original' | Action, number>>;

export interface Plan {
  readonly counts: ReadonlyMap<Table, Counts>;
  /** In an order our foreign keys accept: parents first, and a table's updates before its inserts. */
  readonly writes: readonly Write[];
  readonly warnings: readonly string[];
}

const SECRET_TYPES = new Set(['machine_reg', 'storage_reg']);

export type Rows = ReadonlyMap<Table, readonly ImportedRow[]>;

/** The tables held in memory and planned together; backup logs, which may be many, go by pages. */
export const MAIN_TABLES = ORIGINAL_TABLES.filter((spec) => spec.table !== 'backup_logs');
const LOGS = ORIGINAL_TABLES.find((spec) => spec.table === 'backup_logs')!;

/**
 * The plan for every table but the backup logs. `failures` is, per source id, the failed backups
 * since its last success in the original's logs.
 */
export function planImport(original: Rows, ours: Rows, failures: ReadonlyMap<string, number>): Plan {
  const originalById = new Map(MAIN_TABLES.map((spec) => [spec.table, indexById(spec, rowsOf(original, spec))]));
  const oursById = new Map(MAIN_TABLES.map((spec) => [spec.table, indexById(spec, rowsOf(ours, spec))]));
  const labels = new Labeller(originalById.get('machines')!, oursById.get('machines')!);
  checkReferences(originalById, labels);

  const counts = new Map<Table, Counts>();
  const writes: Write[] = [];
  const warnings: string[] = [];
  for (const spec of MAIN_TABLES) {
    const tally = emptyCounts();
    const inserts: Write[] = [];
    const updates: Write[] = [];
    const finalRows = new Map(oursById.get(spec.table));
    for (const row of originalById.get(spec.table)!.values()) {
      const id = row.id as string;
      if (spec.table === 'auths' && !SECRET_TYPES.has(row.secret_type as string)) {
        throw new ImportError(
          `${labels.of(spec, row)} (id ${id}): secret_type ${JSON.stringify(row.secret_type)} is neither machine_reg nor storage_reg`,
        );
      }
      warnings.push(...rowWarnings(spec.table, row, labels.of(spec, row)));
      const decision = decide(spec, row, finalRows.get(id), failures);
      tally.original++;
      tally[decision.action]++;
      if (decision.write !== undefined) {
        (decision.action === 'insert' ? inserts : updates).push(decision.write);
        finalRows.set(id, row);
      }
    }
    checkUnique(spec, finalRows, originalById.get(spec.table)!, labels);
    if (spec.table === 'sources') checkSourceDirectories(finalRows, labels);
    writes.push(...updates, ...inserts);
    counts.set(spec.table, tally);
  }
  return { counts, writes, warnings };
}

/**
 * The plan for one page of the original's backup logs. `ours` holds our logs with the page's
 * ids; `known` the source and storage ids the original has.
 */
export function planLogPage(
  page: readonly ImportedRow[],
  ours: ReadonlyMap<string, ImportedRow>,
  known: { readonly sources: ReadonlySet<string>; readonly storages: ReadonlySet<string> },
): { readonly counts: Counts; readonly writes: readonly Write[] } {
  const tally = emptyCounts();
  const writes: Write[] = [];
  for (const row of page) {
    for (const [column, ids, noun] of [
      ['source_id', known.sources, 'source'],
      ['storage_id', known.storages, 'storage'],
    ] as const) {
      const value = row[column];
      if (value !== null && !ids.has(value as string)) {
        throw new ImportError(
          `backup log ${String(row.id)} refers to ${noun} ${String(value)} (${column}), which the original database does not have`,
        );
      }
    }
    const decision = decide(LOGS, row, ours.get(row.id as string), new Map());
    tally.original++;
    tally[decision.action]++;
    if (decision.write !== undefined) writes.push(decision.write);
  }
  return { counts: tally, writes };
}

/** What to do with one original row, given ours with the same id (if any). */
function decide(
  spec: TableSpec,
  row: ImportedRow,
  existing: ImportedRow | undefined,
  failures: ReadonlyMap<string, number>,
): { readonly action: Action; readonly write?: Write } {
  const id = row.id as string;
  const derived = derivedColumns(spec.table, row, failures);
  if (existing === undefined) {
    return {
      action: 'insert',
      write: { table: spec.table, action: 'insert', id, values: { ...row, ...derived, ...newColumns(spec) } },
    };
  }
  const changes = changedColumns(spec, row, existing);
  if (Object.keys(changes).length === 0) return { action: 'unchanged' };
  if (lastActivity(spec, row) > lastActivity(spec, existing)) {
    return { action: 'update', write: { table: spec.table, action: 'update', id, values: { ...changes, ...derived } } };
  }
  return { action: 'kept' };
}

export function emptyCounts(): Record<keyof Counts, number> {
  return { original: 0, insert: 0, update: 0, unchanged: 0, kept: 0 };
}

function rowsOf(rows: Rows, spec: TableSpec): readonly ImportedRow[] {
  return rows.get(spec.table) ?? [];
}

function tableOf(table: Table): TableSpec {
  return ORIGINAL_TABLES.find((spec) => spec.table === table)!;
}

function indexById(spec: TableSpec, rows: readonly ImportedRow[]): Map<string, ImportedRow> {
  const byId = new Map<string, ImportedRow>();
  for (const row of rows) {
    const id = row.id as string;
    if (byId.has(id)) throw new ImportError(`${spec.original}: the id ${id} appears twice (ids are compared as UUIDs)`);
    byId.set(id, row);
  }
  return byId;
}

/** Every foreign key of the original must name a row of the original. */
function checkReferences(originalById: ReadonlyMap<Table, ReadonlyMap<string, ImportedRow>>, labels: Labeller): void {
  for (const spec of MAIN_TABLES) {
    for (const row of originalById.get(spec.table)!.values()) {
      for (const column of spec.columns) {
        const target = column.target;
        const value = row[column.name];
        if (target === undefined || value === null || originalById.get(target)!.has(value as string)) continue;
        throw new ImportError(
          `${labels.of(spec, row)} refers to ${tableOf(target).noun} ${String(value)} (${column.name}), which the original database does not have`,
        );
      }
    }
  }
}

/** Our columns the original does not have, for a new row. */
function newColumns(spec: TableSpec): Record<string, Value> {
  if (spec.table === 'storages') return { snapshot_modes: null };
  if (spec.table === 'backup_logs') return { skipped: false };
  return {};
}

/**
 * `failure_count` of a source, which the original does not keep: 0 after a success, else the
 * failed backups since its last successful one in the original's logs (at least 1), so our
 * backoff goes on from where the original left off.
 */
function derivedColumns(table: Table, row: ImportedRow, failures: ReadonlyMap<string, number>): Record<string, Value> {
  if (table !== 'sources') return {};
  return { failure_count: row.success === true ? 0 : Math.max(1, failures.get(row.id as string) ?? 0) };
}

function changedColumns(spec: TableSpec, row: ImportedRow, existing: ImportedRow): Record<string, Value> {
  const changes: Record<string, Value> = {};
  for (const { name } of spec.columns) {
    if (!sameValue(row[name] ?? null, existing[name] ?? null)) changes[name] = row[name] ?? null;
  }
  return changes;
}

function lastActivity(spec: TableSpec, row: ImportedRow): number {
  let latest = -Infinity;
  for (const column of spec.activity ?? []) {
    const value = row[column];
    if (typeof value === 'number' && value > latest) latest = value;
  }
  return latest;
}

/** After the import, no two rows may share a unique key: refuse the first pair that would. */
function checkUnique(
  spec: TableSpec,
  finalRows: ReadonlyMap<string, ImportedRow>,
  originalRows: ReadonlyMap<string, ImportedRow>,
  labels: Labeller,
): void {
  const columns = spec.unique;
  if (columns === undefined) return;
  const holders = new Map<string, ImportedRow>();
  for (const row of finalRows.values()) {
    const key = JSON.stringify(columns.map((column) => row[column] ?? null));
    const other = holders.get(key);
    if (other === undefined) {
      holders.set(key, row);
      continue;
    }
    const [imported, held] = originalRows.has(row.id as string) ? [row, other] : [other, row];
    const where = originalRows.has(held.id as string) ? 'also in the original database' : 'already in this database';
    throw new ImportError(
      `${labels.of(spec, imported)} (id ${String(imported.id)}) has the same ${columns.join(' and ')} as ${labels.of(
        spec,
        held,
      )} (id ${String(held.id)}, ${where}); rename or remove one of them, then import again`,
    );
  }
}

/**
 * A storage keeps a source's data in `<name>`, `<name>.snapshots` and `<name>.borg` of the
 * machine's directory: an empty name would be the machine directory itself, and a source named
 * `x.snapshots` beside a source `x` would share its directories. Both are refused, as data of one
 * source could be replaced by another's.
 */
function checkSourceDirectories(finalRows: ReadonlyMap<string, ImportedRow>, labels: Labeller): void {
  const spec = tableOf('sources');
  const names = new Set([...finalRows.values()].map((row) => JSON.stringify([row.machine_id, row.name])));
  for (const row of finalRows.values()) {
    const name = row.name as string;
    if (name === '') throw new ImportError(`${labels.of(spec, row)} (id ${String(row.id)}): a source needs a name`);
    const base = /^(.+)\.(snapshots|borg)$/.exec(name)?.[1];
    if (base !== undefined && names.has(JSON.stringify([row.machine_id, base]))) {
      throw new ImportError(
        `${labels.of(spec, row)} (id ${String(row.id)}) would share its storage directories with source ${JSON.stringify(base)} of the same machine; rename one of them, then import again`,
      );
    }
  }
}

/** How messages name a row: by its name or UUID, as operators know it. */
class Labeller {
  constructor(
    private readonly originalMachines: ReadonlyMap<string, ImportedRow>,
    private readonly ourMachines: ReadonlyMap<string, ImportedRow>,
  ) {}

  of(spec: TableSpec, row: ImportedRow): string {
    switch (spec.table) {
      case 'machines':
        return `machine ${String(row.uuid)} (${String(row.unit_name)})`;
      case 'sources': {
        const machineId = row.machine_id as string;
        const machine = this.originalMachines.get(machineId) ?? this.ourMachines.get(machineId);
        return `source ${JSON.stringify(row.name)} of machine ${machine === undefined ? `id ${machineId}` : String(machine.uuid)}`;
      }
      case 'backup_logs':
        return `backup log ${String(row.id)}`;
      default:
        return `${spec.noun} ${JSON.stringify(row.name)}`;
    }
  }
}
