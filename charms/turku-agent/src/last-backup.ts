// What the agent recorded of its check-in sessions (lib/agent/last-backups.ts, one format for both
// sides), for the status and list-sources. The agent only sees how each session with a storage
// ended; the per-source results are the API's (turku-api's list-sources).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import {
  LAST_BACKUPS_FILE,
  readLastBackups,
  type LastBackups,
  type SessionRecord,
} from '../../../lib/agent/last-backups.js';

/** The records; `{}` before the agent's first session; undefined when the file cannot be read. */
export async function readRecords(varDir: string): Promise<LastBackups | undefined> {
  if (!existsSync(join(varDir, LAST_BACKUPS_FILE))) return {};
  return readLastBackups(varDir);
}

/** `2026-12-01 06:30 UTC` */
export function utcMinute(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The status suffix: the newest last success over the agent's current sources. */
export function lastBackupText(records: LastBackups | undefined, sources: readonly string[]): string {
  if (records === undefined) return 'last backup unknown';
  let newest: string | undefined;
  for (const name of sources) {
    const success = Object.hasOwn(records, name) ? records[name]!.last_success : null;
    if (success !== null && (newest === undefined || Date.parse(success) > Date.parse(newest))) newest = success;
  }
  return newest === undefined ? 'no backup yet' : `last backup ${utcMinute(newest)}`;
}

export interface SourceBackup {
  /** The start of the last session that ended ok for the source (ISO), or null. */
  readonly 'last-backup': string | null;
  readonly 'last-session': SessionRecord | null;
}

/** Per source, for list-sources (null fields: none recorded, or the record is unreadable). */
export function sourceBackup(records: LastBackups | undefined, name: string): SourceBackup {
  const record = records !== undefined && Object.hasOwn(records, name) ? records[name] : undefined;
  return { 'last-backup': record?.last_success ?? null, 'last-session': record?.last_session ?? null };
}
