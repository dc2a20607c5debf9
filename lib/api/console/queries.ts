import { toBool, toDate, toNullableString, type Queryable, type Row } from '../db/database.js';
import { SOURCE_GRACE_MS } from '../health-rules.js';

/**
 * The console's reads (docs/api.md, "Web console"). Each page costs a few aggregate or LIMITed
 * queries whatever the fleet's size: counts are sums in the database, lists are pages of
 * PAGE_SIZE rows, and a source's history reads its latest logs through (source_id, date).
 *
 * A source is failing when its last backup failed, overdue when its next backup is more than the
 * health rules' grace past due (docs/api.md, "Health rules"); both only while it is active.
 */

export const PAGE_SIZE = 50;
/** Rows of each list on the overview. */
export const ATTENTION_ROWS = 20;
const HISTORY_ROWS = 100;

const MINUTE = 60_000;
const MACHINE_SILENT_MS = 10 * 60 * MINUTE;

const num = (value: unknown): number => Number(value ?? 0);
const str = (value: unknown): string =>
  typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' ? String(value) : '';

/** `%term%` for LIKE, with the term's own wildcards taken literally (ESCAPE '\'). */
function likeTerm(term: string): string {
  return `%${term.toLowerCase().replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

// ---- overview -------------------------------------------------------------------------------

export interface FleetCounts {
  readonly machines: number;
  readonly machinesActive: number;
  readonly sources: number;
  readonly sourcesActive: number;
  readonly sourcesFailing: number;
  readonly sourcesOverdue: number;
}

/**
 * The overview's counts, each one COUNT that reads an index (sources_state, machines_active):
 * the inactive, failing and overdue are few, and the totals are the database's cheapest count.
 */
export async function fleetCounts(tx: Queryable, now: Date): Promise<FleetCounts> {
  const count = async (sql: string, params: (string | number)[] = []) =>
    num((await tx.get(`SELECT COUNT(*) AS n FROM ${sql}`, params))?.n);
  const machines = await count('machines');
  const sources = await count('sources');
  return {
    machines,
    machinesActive: machines - (await count('machines WHERE active = FALSE')),
    sources,
    sourcesActive: sources - (await count('sources WHERE active = FALSE')),
    sourcesFailing: await count('sources WHERE active = TRUE AND success = FALSE'),
    sourcesOverdue: await count('sources WHERE active = TRUE AND success = TRUE AND date_next_backup < $1', [
      now.getTime() - SOURCE_GRACE_MS,
    ]),
  };
}

// ---- sources --------------------------------------------------------------------------------

export type SourceState = 'failing' | 'overdue' | 'ok' | 'inactive';
export const SOURCE_STATES: readonly SourceState[] = ['failing', 'overdue', 'ok', 'inactive'];

export interface SourceSummary {
  readonly machineUuid: string;
  readonly unitName: string;
  readonly name: string;
  readonly path: string;
  readonly frequency: string;
  readonly active: boolean;
  readonly machineActive: boolean;
  readonly state: SourceState;
  readonly failureCount: number;
  readonly lastBackedUp: Date | null;
  readonly nextBackup: Date | null;
  /** The latest log's summary when the source is failing: why. */
  readonly lastFailure: string | null;
}

const SOURCE_COLUMNS = `s.id, s.name, s.path, s.frequency, s.active, s.success, s.failure_count,
  s.date_last_backed_up, s.date_next_backup, m.uuid, m.unit_name, m.active AS machine_active`;

/** A WHERE clause's conditions and their parameters, numbered as they are added. */
class Conditions {
  readonly parts: string[] = [];
  readonly params: (string | number)[] = [];
  /** Adds `sql`, where each `?` stands for the next of `values`. */
  add(sql: string, ...values: (string | number)[]): void {
    let index = 0;
    this.parts.push(
      sql.replace(/\?/g, () => {
        this.params.push(values[index++]!);
        return `$${this.params.length}`;
      }),
    );
  }
  get where(): string {
    return this.parts.length === 0 ? '' : `WHERE ${this.parts.join(' AND ')}`;
  }
}

function addStateCondition(conditions: Conditions, state: SourceState | undefined, overdueBefore: number): void {
  // `= TRUE` rather than a bare column, so the index on (active, success, date_next_backup) serves.
  if (state === 'failing') conditions.add('s.active = TRUE AND s.success = FALSE');
  if (state === 'overdue') {
    conditions.add('s.active = TRUE AND s.success = TRUE AND s.date_next_backup < ?', overdueBefore);
  }
  if (state === 'ok') conditions.add('s.active = TRUE AND s.success = TRUE AND s.date_next_backup >= ?', overdueBefore);
  if (state === 'inactive') conditions.add('s.active = FALSE');
}

function sourceSummary(row: Row, overdueBefore: number, lastFailure: string | null = null): SourceSummary {
  const active = toBool(row.active);
  const success = toBool(row.success);
  const next = toDate(row.date_next_backup);
  const state: SourceState = !active
    ? 'inactive'
    : !success
      ? 'failing'
      : next !== null && next.getTime() < overdueBefore
        ? 'overdue'
        : 'ok';
  return {
    machineUuid: str(row.uuid),
    unitName: str(row.unit_name),
    name: str(row.name),
    path: str(row.path),
    frequency: str(row.frequency),
    active,
    machineActive: toBool(row.machine_active),
    state,
    failureCount: num(row.failure_count),
    lastBackedUp: toDate(row.date_last_backed_up),
    nextBackup: next,
    lastFailure,
  };
}

/** The sources needing attention first: the failing ones (most failures first), then the overdue. */
export async function attentionSources(
  tx: Queryable,
  now: Date,
): Promise<{ failing: SourceSummary[]; overdue: SourceSummary[] }> {
  const overdueBefore = now.getTime() - SOURCE_GRACE_MS;
  const failing = await tx.all(
    `SELECT ${SOURCE_COLUMNS},
       (SELECT b.summary FROM backup_logs b WHERE b.source_id = s.id ORDER BY b.date DESC LIMIT 1) AS last_summary
     FROM sources s JOIN machines m ON m.id = s.machine_id
     WHERE s.active = TRUE AND s.success = FALSE
     ORDER BY s.failure_count DESC, m.unit_name, s.name LIMIT ${ATTENTION_ROWS}`,
  );
  const overdue = await tx.all(
    `SELECT ${SOURCE_COLUMNS} FROM sources s JOIN machines m ON m.id = s.machine_id
     WHERE s.active = TRUE AND s.success = TRUE AND s.date_next_backup < $1
     ORDER BY s.date_next_backup LIMIT ${ATTENTION_ROWS}`,
    [overdueBefore],
  );
  return {
    failing: failing.map((row) => sourceSummary(row, overdueBefore, toNullableString(row.last_summary))),
    overdue: overdue.map((row) => sourceSummary(row, overdueBefore)),
  };
}

export interface Page<T> {
  readonly rows: T[];
  readonly page: number;
  readonly hasNext: boolean;
}

function pageOf<T>(rows: T[], page: number, size = PAGE_SIZE): Page<T> {
  return { rows: rows.slice(0, size), page, hasNext: rows.length > size };
}

export interface SourceFilter {
  readonly q?: string | undefined;
  readonly state?: SourceState | undefined;
  readonly machineUuid?: string | undefined;
  readonly page: number;
}

export async function searchSources(tx: Queryable, now: Date, filter: SourceFilter): Promise<Page<SourceSummary>> {
  const overdueBefore = now.getTime() - SOURCE_GRACE_MS;
  const conditions = new Conditions();
  addStateCondition(conditions, filter.state, overdueBefore);
  if (filter.q !== undefined && filter.q !== '') {
    const term = likeTerm(filter.q);
    conditions.add(
      `(LOWER(m.unit_name) LIKE ? ESCAPE '\\' OR LOWER(s.name) LIKE ? ESCAPE '\\' OR LOWER(s.path) LIKE ? ESCAPE '\\')`,
      term,
      term,
      term,
    );
  }
  if (filter.machineUuid !== undefined) conditions.add('m.uuid = ?', filter.machineUuid);
  const rows = await tx.all(
    `SELECT ${SOURCE_COLUMNS} FROM sources s JOIN machines m ON m.id = s.machine_id
     ${conditions.where}
     ORDER BY m.unit_name, m.uuid, s.name LIMIT ${PAGE_SIZE + 1} OFFSET ${(filter.page - 1) * PAGE_SIZE}`,
    conditions.params,
  );
  return pageOf(
    rows.map((row) => sourceSummary(row, overdueBefore)),
    filter.page,
  );
}

// ---- one source and its history -------------------------------------------------------------

export interface HistoryEntry {
  readonly date: Date | null;
  readonly storage: string | null;
  readonly success: boolean;
  readonly skipped: boolean;
  readonly snapshot: string | null;
  readonly durationSeconds: number | null;
  /** Bytes the backup saved, when its summary says (borg's archive stats). */
  readonly bytes: number | null;
  readonly summary: string | null;
}

export interface SourceDetail {
  readonly source: SourceSummary;
  readonly storage: string | null;
  readonly history: HistoryEntry[];
}

/** The original size a borg backup's summary gives; the other modes' summaries give none. */
export function bytesOfSummary(summary: string | null): number | null {
  const match = summary === null ? null : /Archive stats: original (\d+) bytes/.exec(summary);
  return match === null ? null : Number(match[1]);
}

function historyEntry(row: Row): HistoryEntry {
  const begin = toDate(row.date_begin);
  const end = toDate(row.date_end);
  const summary = toNullableString(row.summary);
  return {
    date: toDate(row.date),
    storage: toNullableString(row.storage_name),
    success: toBool(row.success),
    skipped: toBool(row.skipped),
    snapshot: toNullableString(row.snapshot),
    durationSeconds: begin === null || end === null ? null : Math.round((end.getTime() - begin.getTime()) / 100) / 10,
    bytes: bytesOfSummary(summary),
    summary,
  };
}

export async function sourceDetail(
  tx: Queryable,
  now: Date,
  machineUuid: string,
  name: string,
): Promise<SourceDetail | undefined> {
  const row = await tx.get(
    `SELECT ${SOURCE_COLUMNS}, st.name AS storage_name FROM sources s
       JOIN machines m ON m.id = s.machine_id LEFT JOIN storages st ON st.id = m.storage_id
     WHERE m.uuid = $1 AND s.name = $2`,
    [machineUuid, name],
  );
  if (row === undefined) return undefined;
  const logs = await tx.all(
    `SELECT b.*, st.name AS storage_name FROM backup_logs b LEFT JOIN storages st ON st.id = b.storage_id
     WHERE b.source_id IN ($1) ORDER BY b.date DESC LIMIT ${HISTORY_ROWS}`,
    [str(row.id)],
  );
  return {
    source: sourceSummary(row, now.getTime() - SOURCE_GRACE_MS),
    storage: toNullableString(row.storage_name),
    history: logs.map(historyEntry),
  };
}

// ---- machines -------------------------------------------------------------------------------

export type MachineState = 'active' | 'inactive' | 'silent';
export const MACHINE_STATES: readonly MachineState[] = ['active', 'inactive', 'silent'];

export interface MachineSummary {
  readonly uuid: string;
  readonly unitName: string;
  readonly service: string | null;
  readonly environment: string | null;
  readonly storage: string | null;
  readonly active: boolean;
  readonly sources: number;
  readonly lastCheckin: Date | null;
  readonly silent: boolean;
}

export async function searchMachines(
  tx: Queryable,
  now: Date,
  filter: { readonly q?: string | undefined; readonly state?: MachineState | undefined; readonly page: number },
): Promise<Page<MachineSummary>> {
  const silentBefore = now.getTime() - MACHINE_SILENT_MS;
  const conditions = new Conditions();
  if (filter.state === 'active') conditions.add('m.active');
  if (filter.state === 'inactive') conditions.add('NOT m.active');
  if (filter.state === 'silent') {
    conditions.add('m.active AND COALESCE(m.date_checked_in, m.date_registered) < ?', silentBefore);
  }
  if (filter.q !== undefined && filter.q !== '') {
    const term = likeTerm(filter.q);
    conditions.add(
      `(LOWER(m.unit_name) LIKE ? ESCAPE '\\' OR LOWER(m.uuid) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(m.service_name, '')) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(m.environment_name, '')) LIKE ? ESCAPE '\\')`,
      term,
      term,
      term,
      term,
    );
  }
  const rows = await tx.all(
    `SELECT m.uuid, m.unit_name, m.service_name, m.environment_name, m.active, m.date_checked_in, m.date_registered,
       st.name AS storage_name, (SELECT COUNT(*) FROM sources s WHERE s.machine_id = m.id) AS source_count
     FROM machines m LEFT JOIN storages st ON st.id = m.storage_id
     ${conditions.where}
     ORDER BY m.unit_name, m.uuid LIMIT ${PAGE_SIZE + 1} OFFSET ${(filter.page - 1) * PAGE_SIZE}`,
    conditions.params,
  );
  return pageOf(
    rows.map((row) => {
      const lastCheckin = toDate(row.date_checked_in);
      const seen = lastCheckin ?? toDate(row.date_registered);
      const active = toBool(row.active);
      return {
        uuid: str(row.uuid),
        unitName: str(row.unit_name),
        service: toNullableString(row.service_name),
        environment: toNullableString(row.environment_name),
        storage: toNullableString(row.storage_name),
        active,
        sources: num(row.source_count),
        lastCheckin,
        silent: active && (seen === null || seen.getTime() < silentBefore),
      };
    }),
    filter.page,
  );
}

// ---- storages -------------------------------------------------------------------------------

export interface StorageSummary {
  readonly name: string;
  readonly active: boolean;
  /** MiB, as storages report them. */
  readonly totalMib: number;
  readonly availableMib: number;
  readonly machines: number;
  readonly lastCheckin: Date | null;
  readonly healthy: boolean;
}

export async function storageSummaries(tx: Queryable, now: Date): Promise<StorageSummary[]> {
  const counts = await tx.all('SELECT storage_id, COUNT(*) AS n FROM machines GROUP BY storage_id');
  const machinesOf = new Map(counts.map((row) => [str(row.storage_id), num(row.n)]));
  const rows = await tx.all(
    'SELECT id, name, active, space_total, space_available, date_checked_in, date_registered FROM storages ORDER BY name',
  );
  return rows.map((row) => {
    const seen = toDate(row.date_checked_in) ?? toDate(row.date_registered);
    return {
      name: str(row.name),
      active: toBool(row.active),
      totalMib: num(row.space_total),
      availableMib: num(row.space_available),
      machines: machinesOf.get(str(row.id)) ?? 0,
      lastCheckin: toDate(row.date_checked_in),
      healthy: seen !== null && now.getTime() - seen.getTime() < 30 * MINUTE,
    };
  });
}

// ---- backup logs ----------------------------------------------------------------------------

export interface LogEntry extends HistoryEntry {
  readonly machineUuid: string | null;
  readonly unitName: string | null;
  readonly source: string | null;
}

export async function recentLogs(
  tx: Queryable,
  filter: { readonly failedOnly: boolean; readonly page: number; readonly pageSize?: number },
): Promise<Page<LogEntry>> {
  const pageSize = filter.pageSize ?? PAGE_SIZE;
  const rows = await tx.all(
    `SELECT b.*, st.name AS storage_name, s.name AS source_name, m.uuid, m.unit_name FROM backup_logs b
       LEFT JOIN sources s ON s.id = b.source_id
       LEFT JOIN machines m ON m.id = s.machine_id
       LEFT JOIN storages st ON st.id = b.storage_id
     ${filter.failedOnly ? 'WHERE NOT b.success' : ''}
     ORDER BY b.date DESC, b.id LIMIT ${pageSize + 1} OFFSET ${(filter.page - 1) * pageSize}`,
  );
  return pageOf(
    rows.map((row) => ({
      ...historyEntry(row),
      machineUuid: toNullableString(row.uuid),
      unitName: toNullableString(row.unit_name),
      source: toNullableString(row.source_name),
    })),
    filter.page,
    pageSize,
  );
}
