/**
 * The agent's side of the SSH stdin protocol (docs/datapath.md, "The SSH stdin protocol"): a
 * request framed for ssh's stdin. Apart from stdin.ts, whose zod schemas are the storage's reading
 * of the frame: the agent's check-in runs every few minutes on every machine, and building those
 * schemas was part of every start of it, needed or not.
 */

/** After the JSON line: a line holding only ".". */
export const STDIN_TERMINATOR = '\n.\n';

/** `request` as the frame the agent writes: JSON.stringify never emits a raw line break. */
export function stdinFrame(request: object): string {
  return `${JSON.stringify(request)}${STDIN_TERMINATOR}`;
}
