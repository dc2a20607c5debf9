import * as z from 'zod';

/**
 * [NEW] What our storage tells an agent of ours during and after a scripted restore, on its
 * stdout, which ssh carries back (docs/datapath.md, "Restore progress"). Sent only when the
 * request's `restore.progress` is true, so an agent that does not know these lines never sees them:
 *
 *   turku-restore-progress {"version":1,"bytes":1048576,"files":12,"total_bytes":4194304,"total_files":40,"seconds":2.5}
 *   turku-restore-done {"version":1,"snapshot":"etc_20261205-010000_ab12","time":"2026-12-05T01:00:00.000Z",...}
 *
 * Counts are regular files and their bytes (a hard-linked file once). Totals are null until the
 * storage has measured the tree (it does so while it pushes). A later version may add keys.
 */

export const RESTORE_PROGRESS_PREFIX = 'turku-restore-progress ';
export const RESTORE_DONE_PREFIX = 'turku-restore-done ';
export const RESTORE_REPORT_VERSION = 1;

const count = z.number().int().nonnegative();

export const RestoreProgress = z.looseObject({
  version: z.number().int().min(1),
  bytes: count,
  files: count,
  total_bytes: count.nullable(),
  total_files: count.nullable(),
  /** Since the push started. */
  seconds: z.number().nonnegative(),
});
export type RestoreProgress = z.output<typeof RestoreProgress>;

/**
 * [NEW] The done line's `manifest` key, present when the agent asked for `verify`
 * (restore-manifest.ts): what was sent (the gzip'd manifest's size and SHA-256), or why nothing was.
 */
export const SentManifest = z.union([
  z.looseObject({ bytes: count, sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.looseObject({ reason: z.string().max(1000) }),
]);
export type SentManifest = z.output<typeof SentManifest>;

export const RestoreDone = z.looseObject({
  version: z.number().int().min(1),
  source: z.string(),
  /** The snapshot or archive chosen; null for none mode's mirror. */
  snapshot: z.string().nullable(),
  /** When it was taken (ISO 8601 UTC); null when unknown. */
  time: z.string().nullable(),
  /** The part restored; null for the whole snapshot. */
  path: z.string().nullable(),
  bytes: count,
  files: count,
  seconds: z.number().nonnegative(),
  /** [NEW] Only when asked; a malformed one reads as absent rather than spoiling the line. */
  manifest: SentManifest.optional().catch(undefined),
});
export type RestoreDone = z.output<typeof RestoreDone>;

export function encodeRestoreProgress(progress: Omit<RestoreProgress, 'version'>): string {
  return `${RESTORE_PROGRESS_PREFIX}${JSON.stringify({ version: RESTORE_REPORT_VERSION, ...progress })}\n`;
}

export function encodeRestoreDone(done: Omit<RestoreDone, 'version'>): string {
  return `${RESTORE_DONE_PREFIX}${JSON.stringify({ version: RESTORE_REPORT_VERSION, ...done })}\n`;
}

export function parseRestoreProgress(line: string): RestoreProgress | undefined {
  return parseLine(line, RESTORE_PROGRESS_PREFIX, RestoreProgress);
}

export function parseRestoreDone(line: string): RestoreDone | undefined {
  return parseLine(line, RESTORE_DONE_PREFIX, RestoreDone);
}

function parseLine<T>(line: string, prefix: string, schema: z.ZodType<T>): T | undefined {
  const text = line.replace(/\r?\n$/, '');
  if (!text.startsWith(prefix)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text.slice(prefix.length)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
