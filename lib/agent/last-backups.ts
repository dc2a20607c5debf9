import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic } from '../common/atomic-write.js';
import type { Outcome, SourceOutcome } from './source-outcomes.js';

/**
 * `<var_dir>/last-backups.json`: what this agent learnt of its recent check-in sessions, per
 * source (ours; the charm's status and list-sources read it). Our storage ends a session with a
 * `turku-result` line giving each source's result; an original storage does not, and then the
 * outcome is `unknown` (the API has the result); a session cut short is `failed`.
 *
 *   { "sources": { "<name>": { "last_session": { "time": ISO, "storage": name, "ok": bool,
 *                                                "outcome": "ok"|"failed"|"unknown",
 *                                                "reason": text (failed, unknown) },
 *                              "last_success": ISO | null } } }
 *
 * `ok` (outcome is `ok`) is kept for readers of the first format, which had only it. No secrets:
 * mode 0644. Written under the check-in lock, so there is one writer at a time.
 */

export const LAST_BACKUPS_FILE = 'last-backups.json';

export interface SessionRecord {
  /** When the session with the storage began (ISO 8601, UTC). */
  readonly time: string;
  readonly storage: string;
  /** `outcome === 'ok'`. */
  readonly ok: boolean;
  readonly outcome: Outcome;
  readonly reason?: string;
}

export interface SourceRecord {
  readonly last_session: SessionRecord;
  /** `time` of the last session whose outcome was ok for this source; kept across the others. */
  readonly last_success: string | null;
}

export type LastBackups = Readonly<Record<string, SourceRecord>>;

const OUTCOMES: readonly Outcome[] = ['ok', 'failed', 'unknown'];
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
    const { time, storage, ok, outcome, reason } = entry.last_session;
    const success = entry.last_success ?? null;
    if (!isIsoTime(time) || typeof storage !== 'string' || typeof ok !== 'boolean') continue;
    if (success !== null && !isIsoTime(success)) continue;
    // The first format had no outcome: its `ok` was how the session ended.
    const known: Outcome = OUTCOMES.includes(outcome as Outcome) ? (outcome as Outcome) : ok ? 'ok' : 'failed';
    const session: SessionRecord = {
      time,
      storage,
      ok: known === 'ok',
      outcome: known,
      ...(typeof reason === 'string' && known !== 'ok' ? { reason } : {}),
    };
    records[name] = { last_session: session, last_success: success };
  }
  return records;
}

/** The file's records; undefined when it is missing or unreadable (unknown). */
export async function readLastBackups(varDir: string): Promise<LastBackups | undefined> {
  const text = await readFile(join(varDir, LAST_BACKUPS_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLastBackups(text);
}

/** When and with which storage a session took place. */
export interface SessionInfo {
  readonly time: string;
  readonly storage: string;
}

/** `previous` with one session's outcome for each source in `outcomes`; the others are kept. */
export function withSession(
  previous: LastBackups,
  session: SessionInfo,
  outcomes: Readonly<Record<string, SourceOutcome>>,
): Record<string, SourceRecord> {
  const next: Record<string, SourceRecord> = { ...previous };
  for (const [name, { outcome, reason }] of Object.entries(outcomes)) {
    const kept = Object.hasOwn(previous, name) ? previous[name]!.last_success : null;
    const record: SessionRecord = {
      ...session,
      ok: outcome === 'ok',
      outcome,
      ...(reason !== undefined && outcome !== 'ok' ? { reason } : {}),
    };
    next[name] = { last_session: record, last_success: outcome === 'ok' ? session.time : kept };
  }
  return next;
}

export function lastBackupsText(records: LastBackups): string {
  const sorted = Object.fromEntries(Object.entries(records).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({ sources: sorted }, null, 4)}\n`;
}

/** Adds one session to the file (atomically; a damaged file starts afresh). */
export async function recordSession(
  varDir: string,
  session: SessionInfo,
  outcomes: Readonly<Record<string, SourceOutcome>>,
): Promise<void> {
  const previous = (await readLastBackups(varDir)) ?? {};
  await writeFileAtomic(join(varDir, LAST_BACKUPS_FILE), lastBackupsText(withSession(previous, session, outcomes)), {
    mode: 0o644,
  });
}
