import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic } from '../common/atomic-write.js';

/**
 * `<var_dir>/last-backups.json`: what this agent saw of its recent check-in sessions, per source
 * (not in the spec; the charm's status and list-sources read it). The agent only sees how a
 * session with a storage ended: the storage exits 0 once it has handled and reported every due
 * source, even when one source's rsync failed (that result goes to the API, not to the agent).
 * So `ok` is the session's outcome, not a verified snapshot; the API has the per-source truth.
 *
 *   { "sources": { "<name>": { "last_session": { "time": ISO, "storage": name, "ok": bool },
 *                              "last_success": ISO | null } } }
 *
 * No secrets: mode 0644. Written under the check-in lock, so there is one writer at a time.
 */

export const LAST_BACKUPS_FILE = 'last-backups.json';

export interface SessionRecord {
  /** When the session with the storage began (ISO 8601, UTC). */
  readonly time: string;
  readonly storage: string;
  /** The session ended with exit status 0 (see above for what that does and does not say). */
  readonly ok: boolean;
}

export interface SourceRecord {
  readonly last_session: SessionRecord;
  /** `time` of the last session that ended ok for this source; kept across failed sessions. */
  readonly last_success: string | null;
}

export type LastBackups = Readonly<Record<string, SourceRecord>>;

const isIsoTime = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value));
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The records in `text`; entries that do not have the shape above are left out (an older or
 * damaged entry must not hide the others). Undefined when the text is not such a document at all.
 */
export function parseLastBackups(text: string): LastBackups | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(document) || !isObject(document.sources)) return undefined;
  const records: Record<string, SourceRecord> = {};
  for (const [name, entry] of Object.entries(document.sources)) {
    if (!isObject(entry) || !isObject(entry.last_session)) continue;
    const { time, storage, ok } = entry.last_session;
    const success = entry.last_success ?? null;
    if (!isIsoTime(time) || typeof storage !== 'string' || typeof ok !== 'boolean') continue;
    if (success !== null && !isIsoTime(success)) continue;
    records[name] = { last_session: { time, storage, ok }, last_success: success };
  }
  return records;
}

/** The file's records; undefined when it is missing or unreadable (unknown). */
export async function readLastBackups(varDir: string): Promise<LastBackups | undefined> {
  const text = await readFile(join(varDir, LAST_BACKUPS_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLastBackups(text);
}

/** `previous` with one session's outcome for each of `sources`; the other sources are kept. */
export function withSession(
  previous: LastBackups,
  sources: readonly string[],
  session: SessionRecord,
): Record<string, SourceRecord> {
  const next: Record<string, SourceRecord> = { ...previous };
  for (const name of sources) {
    const kept = Object.hasOwn(previous, name) ? previous[name]!.last_success : null;
    next[name] = { last_session: session, last_success: session.ok ? session.time : kept };
  }
  return next;
}

export function lastBackupsText(records: LastBackups): string {
  const sorted = Object.fromEntries(Object.entries(records).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ sources: sorted }, null, 4)}\n`;
}

/** Adds one session to the file (atomically; a damaged file starts afresh). */
export async function recordSession(varDir: string, sources: readonly string[], session: SessionRecord): Promise<void> {
  const previous = (await readLastBackups(varDir)) ?? {};
  await writeFileAtomic(join(varDir, LAST_BACKUPS_FILE), lastBackupsText(withSession(previous, sources, session)), {
    mode: 0o644,
  });
}
