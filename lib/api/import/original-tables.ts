import type { Table } from '../store.js';

/**
 * The original Turku's six Django tables and how each column maps onto ours. Column names are the
 * same on both sides (our schema kept the original's field names), so one description drives
 * reading the original, comparing with our rows and writing them.
 */

/**
 * What a column holds, and so how it is read on each side:
 * - `id`: the primary key, a UUID (32 hex digits on SQLite, `uuid` on PostgreSQL), stored by us
 *   in the canonical hyphenated form; `uuid` is the machine's UUID, the same way;
 * - `ref`, `ref?`: a foreign key to `target`'s id (`?`: may be NULL);
 * - `text`, `text?`: varchar/text (`?`: may be NULL);
 * - `bool`; `int` (a PositiveIntegerField);
 * - `time`, `time?`: a Django datetime, stored by us as epoch milliseconds;
 * - `list`: a JSON array of strings kept as text on both sides.
 */
export type ColumnKind = 'id' | 'uuid' | 'ref' | 'ref?' | 'text' | 'text?' | 'bool' | 'int' | 'time' | 'time?' | 'list';

export interface Column {
  readonly name: string;
  readonly kind: ColumnKind;
  /** For `ref` columns: the table the id belongs to. */
  readonly target?: Table;
}

export interface TableSpec {
  readonly table: Table;
  readonly original: string;
  /** How messages name one row of the table. */
  readonly noun: string;
  readonly columns: readonly Column[];
  /** Columns whose combined values are unique in our schema (besides the id). */
  readonly unique?: readonly string[];
  /**
   * Columns that only ever move forward as the row is used (edits, check-ins, backups): the
   * latest of them is how recently a row was last touched, which decides whether a re-import may
   * replace it. Tables without them are never replaced.
   */
  readonly activity?: readonly string[];
}

const c = (name: string, kind: ColumnKind, target?: Table): Column =>
  target === undefined ? { name, kind } : { name, kind, target };

/** In dependency order: a table only refers to tables before it. */
export const ORIGINAL_TABLES: readonly TableSpec[] = [
  {
    table: 'auths',
    original: 'turku_api_auth',
    noun: 'registration credential',
    columns: [
      c('id', 'id'),
      c('name', 'text'),
      c('secret_hash', 'text'),
      c('secret_type', 'text'),
      c('comment', 'text?'),
      c('active', 'bool'),
      c('date_added', 'time'),
    ],
    unique: ['name'],
  },
  {
    table: 'storages',
    original: 'turku_api_storage',
    noun: 'storage',
    columns: [
      c('id', 'id'),
      c('name', 'text'),
      c('secret_hash', 'text'),
      c('comment', 'text?'),
      c('ssh_ping_host', 'text'),
      c('ssh_ping_host_keys', 'list'),
      c('ssh_ping_port', 'int'),
      c('ssh_ping_user', 'text'),
      c('space_total', 'int'),
      c('space_available', 'int'),
      c('active', 'bool'),
      c('published', 'bool'),
      c('date_registered', 'time'),
      c('date_updated', 'time'),
      c('date_checked_in', 'time?'),
      c('auth_id', 'ref', 'auths'),
    ],
    unique: ['name'],
    activity: ['date_updated', 'date_checked_in'],
  },
  {
    table: 'machines',
    original: 'turku_api_machine',
    noun: 'machine',
    columns: [
      c('id', 'id'),
      c('uuid', 'uuid'),
      c('secret_hash', 'text'),
      c('environment_name', 'text?'),
      c('service_name', 'text?'),
      c('unit_name', 'text'),
      c('comment', 'text?'),
      c('ssh_public_key', 'text'),
      c('active', 'bool'),
      c('published', 'bool'),
      c('date_registered', 'time'),
      c('date_updated', 'time'),
      c('date_checked_in', 'time?'),
      c('auth_id', 'ref', 'auths'),
      c('storage_id', 'ref', 'storages'),
    ],
    unique: ['uuid'],
    activity: ['date_updated', 'date_checked_in'],
  },
  {
    table: 'sources',
    original: 'turku_api_source',
    noun: 'source',
    columns: [
      c('id', 'id'),
      c('name', 'text'),
      c('comment', 'text?'),
      c('path', 'text'),
      c('filter', 'list'),
      c('exclude', 'list'),
      c('frequency', 'text'),
      c('retention', 'text'),
      c('bwlimit', 'text?'),
      c('snapshot_mode', 'text?'),
      c('preserve_hard_links', 'bool'),
      c('shared_service', 'bool'),
      c('large_rotating_files', 'bool'),
      c('large_modifying_files', 'bool'),
      c('active', 'bool'),
      c('success', 'bool'),
      c('published', 'bool'),
      c('date_added', 'time'),
      c('date_updated', 'time'),
      c('date_last_backed_up', 'time?'),
      c('date_next_backup', 'time'),
      c('machine_id', 'ref', 'machines'),
    ],
    unique: ['machine_id', 'name'],
    activity: ['date_updated', 'date_last_backed_up'],
  },
  {
    table: 'backup_logs',
    original: 'turku_api_backuplog',
    noun: 'backup log',
    columns: [
      c('id', 'id'),
      c('date', 'time'),
      c('success', 'bool'),
      c('date_begin', 'time?'),
      c('date_end', 'time?'),
      c('snapshot', 'text?'),
      c('summary', 'text?'),
      c('source_id', 'ref', 'sources'),
      c('storage_id', 'ref?', 'storages'),
    ],
  },
  {
    table: 'filter_sets',
    original: 'turku_api_filterset',
    noun: 'filter set',
    columns: [
      c('id', 'id'),
      c('name', 'text'),
      c('filters', 'list'),
      c('comment', 'text?'),
      c('active', 'bool'),
      c('date_added', 'time'),
    ],
    unique: ['name'],
  },
];

export function tableSpec(table: Table): TableSpec {
  const spec = ORIGINAL_TABLES.find((candidate) => candidate.table === table);
  if (spec === undefined) throw new Error(`no original table for ${table}`);
  return spec;
}
