import * as z from 'zod';

/**
 * [NEW] The storage's "busy" answer to a check-in session (docs/datapath.md, "The SSH stdin
 * protocol", "A busy storage"): every backup slot of the storage is taken, so it pulls nothing
 * and ends the session at once with this one line on its stdout and exit status 75:
 *
 *   turku-busy {"version":1,"retry_after":12,"running":4,"limit":4}
 *
 * Our agent waits about `retry_after` seconds and opens the session again, within the same run.
 * An original agent prints the line and ignores the exit status: for it the run simply did not
 * back up, and the API keeps the sources due for its next ping.
 */

export const BUSY_LINE_PREFIX = 'turku-busy ';
export const BUSY_LINE_VERSION = 1;
/**
 * The command our agent asks for on a restore's session: a forced command replaces it, but sshd
 * passes it on as SSH_ORIGINAL_COMMAND, and the storage's session gate (lib/storage/session-gate.ts)
 * lets restores use places of their own, as they take no backup slot.
 */
export const RESTORE_REMOTE_COMMAND = 'turku-ping-remote restore';

/** sysexits' EX_TEMPFAIL: the forced command's status when it answered busy. */
export const STORAGE_BUSY_EXIT = 75;

export const BusyLine = z.looseObject({
  version: z.number().int().min(1),
  /** Seconds the storage suggests waiting before the next attempt. */
  retry_after: z.number().nonnegative(),
  /** Backups running when it answered, and the most it runs at once. */
  running: z.number().int().nonnegative().optional(),
  limit: z.number().int().nonnegative().optional(),
});
export type BusyLine = z.output<typeof BusyLine>;

/** The line, with its newline. */
export function encodeBusyLine(busy: Omit<BusyLine, 'version'>): string {
  return `${BUSY_LINE_PREFIX}${JSON.stringify({ version: BUSY_LINE_VERSION, ...busy })}\n`;
}

/** The answer a line carries; undefined when it is not a busy line, or a damaged one. */
export function parseBusyLine(line: string): BusyLine | undefined {
  const text = line.replace(/\r?\n$/, '');
  if (!text.startsWith(BUSY_LINE_PREFIX)) return undefined;
  try {
    const parsed = BusyLine.safeParse(JSON.parse(text.slice(BUSY_LINE_PREFIX.length)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
