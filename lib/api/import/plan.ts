import type { Table } from '../store.js';
import { ORIGINAL_TABLES, type TableSpec } from './original-tables.js';
import { ImportError, sameValue, type ImportedRow, type Value } from './values.js';
import { rowWarnings } from './warnings.js';

/**
 * What an import does, decided before anything is written (pure: the original's rows and ours in,
 * the writes, counts and warnings out). For each original row, by id:
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
 * Refused, naming the row (nothing is written): an id that appears twice, a reference to a row the
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

export function planImport(original: Rows, ours: Rows): Plan {
  const originalById = new Map(ORIGINAL_TABLES.map((spec) => [spec.table, indexById(spec, rowsOf(original, spec))]));
  const oursById = new Map(ORIGINAL_TABLES.map((spec) => [spec.table, indexById(spec, rowsOf(ours, spec))]));
  const labels = new Labeller(originalById.get('machines')!, oursById.get('machines')!);
  checkReferences(originalById, labels);
  const failures = trailingFailures(rowsOf(original, tableOf('backup_logs')));

  const counts = new Map<Table, Counts>();
  const writes: Write[] = [];
  const warnings: string[] = [];
  for (const spec of ORIGINAL_TABLES) {
    const tally = { original: 0, insert: 0, update: 0, unchanged: 0, kept: 0 };
    const inserts: Write[] = [];
    const updates: Write[] = [];
    const finalRows = new Map(oursById.get(spec.table));
    for (const row of originalById.get(spec.table)!.values()) {
      tally.original++;
      const id = row.id as string;
      if (spec.table === 'auths' && !SECRET_TYPES.has(row.secret_type as string)) {
        throw new ImportError(
          `${labels.of(spec, row)} (id ${id}): secret_type ${JSON.stringify(row.secret_type)} is neither machine_reg nor storage_reg`,
        );
      }
      warnings.push(...rowWarnings(spec.table, row, labels.of(spec, row)));
      const derived = derivedColumns(spec.table, row, failures);
      const existing = finalRows.get(id);
      if (existing === undefined) {
        inserts.push({ table: spec.table, action: 'insert', id, values: { ...row, ...derived, ...newColumns(spec) } });
        finalRows.set(id, row);
        tally.insert++;
        continue;
      }
      const changes = changedColumns(spec, row, existing);
      if (Object.keys(changes).length === 0) {
        tally.unchanged++;
      } else if (lastActivity(spec, row) > lastActivity(spec, existing)) {
        updates.push({ table: spec.table, action: 'update', id, values: { ...changes, ...derived } });
        finalRows.set(id, row);
        tally.update++;
      } else {
        tally.kept++;
      }
    }
    checkUnique(spec, finalRows, originalById.get(spec.table)!, labels);
    if (spec.table === 'sources') checkSourceDirectories(finalRows, labels);
    writes.push(...updates, ...inserts);
    counts.set(spec.table, tally);
  }
  return { counts, writes, warnings };
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
  for (const spec of ORIGINAL_TABLES) {
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

function trailingFailures(logs: readonly ImportedRow[]): Map<string, number> {
  const bySource = new Map<string, ImportedRow[]>();
  for (const log of logs) {
    const source = log.source_id as string;
    const list = bySource.get(source);
    if (list === undefined) bySource.set(source, [log]);
    else list.push(log);
  }
  const counts = new Map<string, number>();
  for (const [source, list] of bySource) {
    list.sort((a, b) => (b.date as number) - (a.date as number));
    const lastSuccess = list.findIndex((log) => log.success === true);
    counts.set(source, lastSuccess === -1 ? list.length : lastSuccess);
  }
  return counts;
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
