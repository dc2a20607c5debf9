import type { VerifyReportProblem } from '../turku/protocol/api.js';
import { isVerifyHealthy } from './health-rules.js';
import { toBool, toDate, type Database, type Queryable, type Row } from './db/database.js';

/**
 * [NEW] Each source's latest verify, as its storage reported it (docs/api.md,
 * "storage_verify_report"): stored one row per source in `source_verifies`, read by the health
 * view, the Nagios check and the admin listing of sources. A failed verify (any problem) keeps
 * the health CRITICAL until a later verify of the same source passes and replaces it.
 */

export interface SourceVerifyRecord {
  readonly source_id: string;
  readonly storage_id: string | null;
  readonly date: Date;
  readonly snapshot: string;
  readonly checked_files: number;
  readonly checked_bytes: number;
  readonly complete: boolean;
  readonly problem_count: number;
  readonly problems: VerifyReportProblem[];
}

export function sourceVerifyFromRow(row: Row): SourceVerifyRecord {
  return {
    source_id: String(row.source_id),
    storage_id: typeof row.storage_id === 'string' ? row.storage_id : null,
    date: toDate(row.date)!,
    snapshot: String(row.snapshot),
    checked_files: Number(row.checked_files),
    checked_bytes: Number(row.checked_bytes),
    complete: toBool(row.complete),
    problem_count: Number(row.problem_count),
    problems: parseProblems(row.problems),
  };
}

function parseProblems(value: unknown): VerifyReportProblem[] {
  if (typeof value !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? (parsed as VerifyReportProblem[]) : [];
  } catch {
    return [];
  }
}

/** Replaces the source's latest verify (both backends know `ON CONFLICT ... DO UPDATE`). */
export async function recordSourceVerify(tx: Queryable, verify: SourceVerifyRecord): Promise<void> {
  await tx.run(
    `INSERT INTO source_verifies (source_id, storage_id, date, snapshot, checked_files, checked_bytes, complete,
       problem_count, problems) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (source_id) DO UPDATE SET storage_id = excluded.storage_id, date = excluded.date,
       snapshot = excluded.snapshot, checked_files = excluded.checked_files, checked_bytes = excluded.checked_bytes,
       complete = excluded.complete, problem_count = excluded.problem_count, problems = excluded.problems`,
    [
      verify.source_id,
      verify.storage_id,
      verify.date.getTime(),
      verify.snapshot,
      verify.checked_files,
      verify.checked_bytes,
      verify.complete,
      verify.problem_count,
      JSON.stringify(verify.problems),
    ],
  );
}

export async function sourceVerifies(tx: Queryable): Promise<Map<string, SourceVerifyRecord>> {
  const rows = await tx.all('SELECT * FROM source_verifies');
  return new Map(rows.map(sourceVerifyFromRow).map((verify) => [verify.source_id, verify]));
}

/**
 * A failed verify of an active source of an active machine, as the health answers name it. Only
 * its present storage's word counts: a machine moved elsewhere starts again from nothing there.
 */
export interface FailedVerify {
  readonly machine: string;
  readonly unit_name: string;
  readonly source: string;
  readonly snapshot: string;
  readonly problem_count: number;
  readonly date: Date;
}

/** At most this many failures are named; the count is always whole. */
export const FAILED_VERIFIES_NAMED = 20;

const FAILED_VERIFIES = `SELECT m.uuid AS machine, m.unit_name AS unit_name, s.name AS source, v.snapshot AS snapshot,
    v.problem_count AS problem_count, v.date AS date
  FROM source_verifies v JOIN sources s ON s.id = v.source_id JOIN machines m ON m.id = s.machine_id
  WHERE v.problem_count > 0 AND s.active AND m.active AND v.storage_id = m.storage_id
  ORDER BY m.unit_name, m.uuid, s.name`;

function failedFromRow(row: Row): FailedVerify {
  return {
    machine: String(row.machine),
    unit_name: String(row.unit_name),
    source: String(row.source),
    snapshot: String(row.snapshot),
    problem_count: Number(row.problem_count),
    date: toDate(row.date)!,
  };
}

export async function failedVerifies(tx: Queryable): Promise<FailedVerify[]> {
  return (await tx.all(FAILED_VERIFIES)).map(failedFromRow);
}

/** For the health view: one statement where the backend has them (PostgreSQL), else a transaction. */
export async function failedVerifiesOf(db: Database): Promise<FailedVerify[]> {
  const rows =
    db.statement === undefined
      ? await db.transaction((tx) => tx.all(FAILED_VERIFIES))
      : await db.statement('turku_failed_verifies', FAILED_VERIFIES, []);
  return rows.map(failedFromRow);
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Text from a storage shown to operators: one line, control characters escaped, bounded. */
export function shownText(text: string, max = 200): string {
  const escaped = text.replace(
    CONTROL_CHARACTERS,
    (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

/** `<Verify: web/0 (0a1b2c3d) etc etc-2026-12-05T10:00:00: 3 problems>`: the Nagios line's form. */
export function failedVerifyLine(failed: FailedVerify): string {
  const problems = `${failed.problem_count} problem${failed.problem_count === 1 ? '' : 's'}`;
  return `<Verify: ${shownText(failed.unit_name)} (${failed.machine.slice(0, 8)}) ${shownText(failed.source)} ${shownText(failed.snapshot)}: ${problems}>`;
}

/** The admin listing's `verify` column: `ok <date>`, `FAILED <n> problems <date>`, or null (never). */
export function verifyState(verify: SourceVerifyRecord | undefined): string | null {
  if (verify === undefined) return null;
  const date = verify.date.toISOString();
  if (isVerifyHealthy(verify)) return `ok ${shownText(verify.snapshot)} ${date}`;
  return `FAILED ${verify.problem_count} problems in ${shownText(verify.snapshot)} ${date}`;
}
