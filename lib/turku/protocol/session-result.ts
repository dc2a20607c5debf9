import * as z from 'zod';

/**
 * [NEW] The result line our storage writes on its stdout at the end of a check-in session, which
 * ssh carries back to the agent (docs/datapath.md, "The session's result line"):
 *
 *   turku-result {"version":1,"sources":{"etc":{"success":false,"summary":"rsync exited …"}}}
 *
 * One line, so an original agent, which prints whatever the storage prints, shows something
 * readable. Our agent takes the last such line as each source's outcome; without one (an
 * original storage, or a session cut short) it knows only how ssh ended.
 */

export const RESULT_LINE_PREFIX = 'turku-result ';
export const RESULT_LINE_VERSION = 1;
/** Summaries are cut to this many characters, so the line stays readable. */
export const MAX_RESULT_SUMMARY = 500;

export const ResultLineSource = z.looseObject({
  success: z.boolean(),
  snapshot: z.string().nullable().optional(),
  summary: z.string().nullable().optional(),
  /** Due but not offered by the agent in this session (the agent ignores these). */
  skipped: z.boolean().optional(),
  /** False when the storage could not report the result to the API (the backup will run again). */
  reported: z.boolean().optional(),
});
export type ResultLineSource = z.output<typeof ResultLineSource>;

/**
 * Version 1. A later version may add keys but keeps these with their meaning, so readers accept
 * any version from 1 up and ignore what they do not know.
 */
export const ResultLine = z.looseObject({
  version: z.number().int().min(1),
  sources: z.record(z.string(), ResultLineSource),
});
export type ResultLine = z.output<typeof ResultLine>;

/** The line, with its newline. */
export function encodeResultLine(sources: Readonly<Record<string, ResultLineSource>>): string {
  const cut: Record<string, ResultLineSource> = {};
  for (const [name, result] of Object.entries(sources)) {
    const summary = result.summary;
    cut[name] =
      typeof summary === 'string' && summary.length > MAX_RESULT_SUMMARY
        ? { ...result, summary: `${summary.slice(0, MAX_RESULT_SUMMARY - 1)}…` }
        : result;
  }
  return `${RESULT_LINE_PREFIX}${JSON.stringify({ version: RESULT_LINE_VERSION, sources: cut })}\n`;
}

/** The result a line carries; undefined when it is not a result line, or a damaged one. */
export function parseResultLine(line: string): ResultLine | undefined {
  const text = line.replace(/\r?\n$/, '');
  if (!text.startsWith(RESULT_LINE_PREFIX)) return undefined;
  let document: unknown;
  try {
    document = JSON.parse(text.slice(RESULT_LINE_PREFIX.length));
  } catch {
    return undefined;
  }
  const parsed = ResultLine.safeParse(document);
  return parsed.success ? parsed.data : undefined;
}
