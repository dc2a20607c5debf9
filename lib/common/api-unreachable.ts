// The one error the charms tell apart in the programs' output: the API did not answer at all. A
// module of its own, so a charm's bundle gets the check without the API client.

/** How a program's one-line error names an API that gave no HTTP reply (refused, timed out, no route). */
export const UNREACHABLE = 'Cannot reach the API at';

/** Whether a program's error line says the API could not be reached: a charm waits for that. */
export function isApiUnreachable(line: string): boolean {
  return line.includes(`${UNREACHABLE} `);
}
