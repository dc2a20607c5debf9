import { toBool, toDate, toNullableString, toStringList, type Row } from './db/database.js';

/**
 * Rows of the API's tables as typed records. Field names are the column names, which are also the
 * wire names of the `/v1` protocol, so a record reads like the original's data model
 * (docs/api.md, "Storage of records").
 */

export type SecretType = 'machine_reg' | 'storage_reg';

export interface AuthRecord {
  readonly id: string;
  readonly name: string;
  readonly secret_hash: string;
  readonly secret_type: SecretType;
  readonly comment: string | null;
  readonly active: boolean;
  readonly date_added: Date;
}

export interface StorageRecord {
  readonly id: string;
  readonly name: string;
  readonly secret_hash: string;
  readonly comment: string | null;
  readonly ssh_ping_host: string;
  readonly ssh_ping_host_keys: string[];
  readonly ssh_ping_port: number;
  readonly ssh_ping_user: string;
  readonly space_total: number;
  readonly space_available: number;
  readonly auth_id: string | null;
  readonly active: boolean;
  readonly published: boolean;
  readonly date_registered: Date;
  readonly date_updated: Date;
  readonly date_checked_in: Date | null;
  /** [NEW] Modes the storage advertised; null for an original storage that sends none. */
  readonly snapshot_modes: string[] | null;
}

export interface MachineRecord {
  readonly id: string;
  readonly uuid: string;
  readonly secret_hash: string;
  readonly environment_name: string | null;
  readonly service_name: string | null;
  readonly unit_name: string;
  readonly comment: string | null;
  readonly ssh_public_key: string;
  readonly auth_id: string | null;
  readonly storage_id: string;
  readonly active: boolean;
  readonly published: boolean;
  readonly date_registered: Date;
  readonly date_updated: Date;
  readonly date_checked_in: Date | null;
  /** [NEW] Its tunnel port allowance, latched once its agent asks; null for original agents. */
  readonly tunnel_ports: number[] | null;
}

export interface SourceRecord {
  readonly id: string;
  readonly machine_id: string;
  readonly name: string;
  readonly comment: string | null;
  readonly path: string;
  readonly filter: string[];
  readonly exclude: string[];
  readonly frequency: string;
  readonly retention: string;
  readonly bwlimit: string | null;
  readonly snapshot_mode: string | null;
  readonly preserve_hard_links: boolean;
  readonly shared_service: boolean;
  readonly large_rotating_files: boolean;
  readonly large_modifying_files: boolean;
  readonly active: boolean;
  readonly success: boolean;
  readonly published: boolean;
  readonly date_added: Date;
  readonly date_updated: Date;
  readonly date_last_backed_up: Date | null;
  readonly date_next_backup: Date;
  readonly failure_count: number;
}

export interface BackupLogRecord {
  readonly id: string;
  readonly source_id: string;
  readonly date: Date;
  readonly storage_id: string | null;
  readonly success: boolean;
  readonly skipped: boolean;
  readonly date_begin: Date | null;
  readonly date_end: Date | null;
  readonly snapshot: string | null;
  readonly summary: string | null;
}

export interface FilterSetRecord {
  readonly id: string;
  readonly name: string;
  readonly filters: string[];
  readonly comment: string | null;
  readonly active: boolean;
  readonly date_added: Date;
}

const text = (row: Row, key: string): string => String(row[key]);
const date = (row: Row, key: string): Date => toDate(row[key]) ?? new Date(0);

export function authFromRow(row: Row): AuthRecord {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    secret_hash: text(row, 'secret_hash'),
    secret_type: text(row, 'secret_type') as SecretType,
    comment: toNullableString(row.comment),
    active: toBool(row.active),
    date_added: date(row, 'date_added'),
  };
}

export function storageFromRow(row: Row): StorageRecord {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    secret_hash: text(row, 'secret_hash'),
    comment: toNullableString(row.comment),
    ssh_ping_host: text(row, 'ssh_ping_host'),
    ssh_ping_host_keys: toStringList(row.ssh_ping_host_keys),
    ssh_ping_port: Number(row.ssh_ping_port),
    ssh_ping_user: text(row, 'ssh_ping_user'),
    space_total: Number(row.space_total),
    space_available: Number(row.space_available),
    auth_id: toNullableString(row.auth_id),
    active: toBool(row.active),
    published: toBool(row.published),
    date_registered: date(row, 'date_registered'),
    date_updated: date(row, 'date_updated'),
    date_checked_in: toDate(row.date_checked_in),
    snapshot_modes: row.snapshot_modes === null ? null : toStringList(row.snapshot_modes),
  };
}

export function machineFromRow(row: Row): MachineRecord {
  return {
    id: text(row, 'id'),
    uuid: text(row, 'uuid'),
    secret_hash: text(row, 'secret_hash'),
    environment_name: toNullableString(row.environment_name),
    service_name: toNullableString(row.service_name),
    unit_name: text(row, 'unit_name'),
    comment: toNullableString(row.comment),
    ssh_public_key: text(row, 'ssh_public_key'),
    auth_id: toNullableString(row.auth_id),
    storage_id: text(row, 'storage_id'),
    active: toBool(row.active),
    published: toBool(row.published),
    date_registered: date(row, 'date_registered'),
    date_updated: date(row, 'date_updated'),
    date_checked_in: toDate(row.date_checked_in),
    tunnel_ports: toPortList(row.tunnel_ports),
  };
}

/** A stored port list; NULL (or anything unreadable) is no list. */
export function toPortList(value: unknown): number[] | null {
  if (typeof value !== 'string' || value === '') return null;
  const parsed: unknown = JSON.parse(value);
  if (!Array.isArray(parsed)) return null;
  const ports = parsed.filter((item): item is number => Number.isInteger(item));
  return ports.length === 0 ? null : ports;
}

export function sourceFromRow(row: Row): SourceRecord {
  return {
    id: text(row, 'id'),
    machine_id: text(row, 'machine_id'),
    name: text(row, 'name'),
    comment: toNullableString(row.comment),
    path: text(row, 'path'),
    filter: toStringList(row.filter),
    exclude: toStringList(row.exclude),
    frequency: text(row, 'frequency'),
    retention: text(row, 'retention'),
    bwlimit: toNullableString(row.bwlimit),
    snapshot_mode: toNullableString(row.snapshot_mode),
    preserve_hard_links: toBool(row.preserve_hard_links),
    shared_service: toBool(row.shared_service),
    large_rotating_files: toBool(row.large_rotating_files),
    large_modifying_files: toBool(row.large_modifying_files),
    active: toBool(row.active),
    success: toBool(row.success),
    published: toBool(row.published),
    date_added: date(row, 'date_added'),
    date_updated: date(row, 'date_updated'),
    date_last_backed_up: toDate(row.date_last_backed_up),
    date_next_backup: date(row, 'date_next_backup'),
    failure_count: Number(row.failure_count),
  };
}

export function backupLogFromRow(row: Row): BackupLogRecord {
  return {
    id: text(row, 'id'),
    source_id: text(row, 'source_id'),
    date: date(row, 'date'),
    storage_id: toNullableString(row.storage_id),
    success: toBool(row.success),
    skipped: toBool(row.skipped),
    date_begin: toDate(row.date_begin),
    date_end: toDate(row.date_end),
    snapshot: toNullableString(row.snapshot),
    summary: toNullableString(row.summary),
  };
}

export function filterSetFromRow(row: Row): FilterSetRecord {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    filters: toStringList(row.filters),
    comment: toNullableString(row.comment),
    active: toBool(row.active),
    date_added: date(row, 'date_added'),
  };
}

/** Whether a requested value equals a stored one; lists compare item by item. */
export function sameValue(requested: unknown, stored: unknown): boolean {
  if (Array.isArray(requested) && Array.isArray(stored)) {
    return requested.length === stored.length && requested.every((item, i) => item === stored[i]);
  }
  return requested === stored;
}
