import { randomUUID } from 'node:crypto';

import type { Queryable, SqlValue } from './db/database.js';
import {
  authFromRow,
  backupLogFromRow,
  filterSetFromRow,
  machineFromRow,
  sourceFromRow,
  storageFromRow,
  type AuthRecord,
  type BackupLogRecord,
  type FilterSetRecord,
  type MachineRecord,
  type SecretType,
  type SourceRecord,
  type StorageRecord,
} from './records.js';

/**
 * Typed reads and writes of the API's tables, within one transaction. Writes name only the
 * columns they change, so concurrent requests touching different columns of a row (a backup
 * report and a frequency change) never overwrite each other's values.
 */

/** A value a column can be set to: Dates become epoch milliseconds, lists JSON text. */
export type ColumnValue = SqlValue | Date | readonly string[] | readonly number[];
export type Changes = Readonly<Record<string, ColumnValue>>;

export type Table = 'auths' | 'storages' | 'machines' | 'sources' | 'backup_logs' | 'filter_sets';

export function toSql(value: ColumnValue): SqlValue {
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return JSON.stringify(value);
  return value as SqlValue;
}

// Queries with ORDER BY compare a column with a parameter as `col IN ($1)`, not `col = $1`: the
// same condition and plan, but SQLite 3.54 (Node 24's node:sqlite) recompiles a statement that has
// both `col = ?` and ORDER BY every time it runs, which made the check-in 40% slower.

/** A machine's sources to back up now: the check-in's query, served by the (machine_id, name) index. */
const DUE_SOURCES = `SELECT * FROM sources
  WHERE machine_id IN ($1) AND active AND published AND date_next_backup <= $2
  ORDER BY name`;

export class Store {
  constructor(private readonly tx: Queryable) {}

  /** The transaction itself, for modules that keep their own table (lib/api/verify-reports.ts). */
  get queryable(): Queryable {
    return this.tx;
  }

  // ---- generic ------------------------------------------------------------------------------

  async insert(table: Table, values: Changes): Promise<string> {
    const id = typeof values.id === 'string' ? values.id : randomUUID();
    const entries = Object.entries({ ...values, id });
    const columns = entries.map(([column]) => column).join(', ');
    const placeholders = entries.map((_, i) => `$${i + 1}`).join(', ');
    await this.tx.run(
      `INSERT INTO ${table} (${columns}) VALUES (${placeholders})`,
      entries.map(([, value]) => toSql(value)),
    );
    return id;
  }

  async update(table: Table, id: string, changes: Changes): Promise<void> {
    const entries = Object.entries(changes);
    if (entries.length === 0) return;
    const assignments = entries.map(([column], i) => `${column} = $${i + 1}`).join(', ');
    await this.tx.run(`UPDATE ${table} SET ${assignments} WHERE id = $${entries.length + 1}`, [
      ...entries.map(([, value]) => toSql(value)),
      id,
    ]);
  }

  async count(table: Table): Promise<number> {
    const row = await this.tx.get<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table}`);
    return Number(row?.n ?? 0);
  }

  // ---- auths --------------------------------------------------------------------------------

  async authByName(name: string, type: SecretType): Promise<AuthRecord | undefined> {
    const row = await this.tx.get('SELECT * FROM auths WHERE name = $1 AND secret_type = $2 AND active', [name, type]);
    return row && authFromRow(row);
  }

  async activeAuths(type: SecretType): Promise<AuthRecord[]> {
    const rows = await this.tx.all('SELECT * FROM auths WHERE secret_type IN ($1) AND active ORDER BY name', [type]);
    return rows.map(authFromRow);
  }

  async authNamed(name: string): Promise<AuthRecord | undefined> {
    const row = await this.tx.get('SELECT * FROM auths WHERE name = $1', [name]);
    return row && authFromRow(row);
  }

  async auths(): Promise<AuthRecord[]> {
    return (await this.tx.all('SELECT * FROM auths ORDER BY name')).map(authFromRow);
  }

  // ---- storages -----------------------------------------------------------------------------

  async storageByName(name: string): Promise<StorageRecord | undefined> {
    const row = await this.tx.get('SELECT * FROM storages WHERE name = $1', [name]);
    return row && storageFromRow(row);
  }

  async storageById(id: string): Promise<StorageRecord | undefined> {
    const row = await this.tx.get('SELECT * FROM storages WHERE id = $1', [id]);
    return row && storageFromRow(row);
  }

  async storages(): Promise<StorageRecord[]> {
    return (await this.tx.all('SELECT * FROM storages ORDER BY name')).map(storageFromRow);
  }

  /** Storages that may take new machines: active (admin) and published (self). */
  async assignableStorages(): Promise<StorageRecord[]> {
    const rows = await this.tx.all('SELECT * FROM storages WHERE active AND published ORDER BY name');
    return rows.map(storageFromRow);
  }

  // ---- machines -----------------------------------------------------------------------------

  async machineByUuid(uuid: string): Promise<MachineRecord | undefined> {
    const row = await this.tx.get('SELECT * FROM machines WHERE uuid = $1', [uuid]);
    return row && machineFromRow(row);
  }

  async machines(): Promise<MachineRecord[]> {
    return (await this.tx.all('SELECT * FROM machines ORDER BY unit_name, uuid')).map(machineFromRow);
  }

  /** Active and published machines of one storage: the ones whose keys it must accept. */
  async machinesOfStorage(storageId: string): Promise<MachineRecord[]> {
    const rows = await this.tx.all(
      'SELECT * FROM machines WHERE storage_id IN ($1) AND active AND published ORDER BY uuid',
      [storageId],
    );
    return rows.map(machineFromRow);
  }

  /** Tunnel ports assigned to the storage's machines (any state), but for `exceptMachineId`'s. */
  async tunnelPortsOnStorage(storageId: string, exceptMachineId: string): Promise<Set<number>> {
    const rows = await this.tx.all(
      'SELECT * FROM machines WHERE storage_id = $1 AND id <> $2 AND tunnel_ports IS NOT NULL',
      [storageId, exceptMachineId],
    );
    return new Set(rows.flatMap((row) => machineFromRow(row).tunnel_ports ?? []));
  }

  // ---- sources ------------------------------------------------------------------------------

  async sourcesOfMachine(machineId: string): Promise<SourceRecord[]> {
    const rows = await this.tx.all('SELECT * FROM sources WHERE machine_id IN ($1) ORDER BY name', [machineId]);
    return rows.map(sourceFromRow);
  }

  async dueSources(machineId: string, now: Date): Promise<SourceRecord[]> {
    return (await this.tx.all(DUE_SOURCES, [machineId, now.getTime()])).map(sourceFromRow);
  }

  async sources(): Promise<SourceRecord[]> {
    return (await this.tx.all('SELECT * FROM sources ORDER BY machine_id, name')).map(sourceFromRow);
  }

  /** Counts a failure atomically and returns the new count. */
  async recordFailure(sourceId: string): Promise<number> {
    const row = await this.tx.get<{ failure_count: unknown }>(
      'UPDATE sources SET success = FALSE, failure_count = failure_count + 1 WHERE id = $1 RETURNING failure_count',
      [sourceId],
    );
    return Number(row?.failure_count ?? 1);
  }

  // ---- backup logs --------------------------------------------------------------------------

  async recentBackupLogs(limit: number): Promise<BackupLogRecord[]> {
    const rows = await this.tx.all('SELECT * FROM backup_logs ORDER BY date DESC, id LIMIT $1', [limit]);
    return rows.map(backupLogFromRow);
  }

  /** Deletes logs that ended before `cutoff` (or, without an end time, were written before it). */
  async deleteBackupLogsBefore(cutoff: Date): Promise<number> {
    return this.tx.run('DELETE FROM backup_logs WHERE COALESCE(date_end, date) < $1', [cutoff.getTime()]);
  }

  // ---- filter sets --------------------------------------------------------------------------

  async activeFilterSets(): Promise<Map<string, string[]>> {
    const rows = await this.tx.all('SELECT * FROM filter_sets WHERE active');
    return new Map(rows.map(filterSetFromRow).map((set) => [set.name, set.filters]));
  }

  async filterSets(): Promise<FilterSetRecord[]> {
    return (await this.tx.all('SELECT * FROM filter_sets ORDER BY name')).map(filterSetFromRow);
  }

  async filterSetByName(name: string): Promise<FilterSetRecord | undefined> {
    const row = await this.tx.get('SELECT * FROM filter_sets WHERE name = $1', [name]);
    return row && filterSetFromRow(row);
  }
}
