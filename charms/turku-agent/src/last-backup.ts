// What the agent recorded of its check-in sessions (lib/agent/last-backups.ts, one format for both
// sides), for the status and list-sources: each source's outcome as our storage reported it to
// the agent, or unknown with an original storage (the API's list-sources has the result).
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

/**
 * The status suffix: the newest verified success over the agent's current sources, then the
 * sources whose last session failed, or, when none did, a note that the last session's outcome
 * is unknown (an original storage does not report per-source results to the agent).
 */
export function lastBackupText(records: LastBackups | undefined, sources: readonly string[]): string {
  if (records === undefined) return 'last backup unknown';
  let newest: string | undefined;
  const failed: string[] = [];
  let unknown = false;
  for (const name of sources) {
    if (!Object.hasOwn(records, name)) continue;
    const { last_session: session, last_success: success } = records[name]!;
    if (success !== null && (newest === undefined || Date.parse(success) > Date.parse(newest))) newest = success;
    if (session.outcome === 'failed') failed.push(name);
    if (session.outcome === 'unknown') unknown = true;
  }
  let text = newest === undefined ? 'no backup yet' : `last backup ${utcMinute(newest)}`;
  if (failed.length > 0) text += `; last session failed for ${namesText(failed.sort())}`;
  else if (unknown) text += '; outcome of the last session unknown (the storage does not report it)';
  return text;
}

/** `a, b, c and 2 more` */
function namesText(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
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
