import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Helpers that must not outlive the agent (the root rsync daemon serving the session's modules,
 * the ssh tunnel to the storage) are started through `setpriv --pdeathsig KILL` (util-linux):
 * the kernel sends them SIGKILL when the agent dies, even by SIGKILL, which no exit hook sees.
 *
 * The kernel's "parent" is the thread that forked: Node forks from its main thread, which lives
 * as long as the process. The setting is not inherited by forks, so the daemon's per-connection
 * handlers do not get it: they end when their connection does, and that connection is the
 * tunnel, which ends with ssh. Whatever still escapes (the agent dying in the instant between
 * fork and prctl) is swept at the next start (leftover-sessions.ts).
 */

const SETPRIV_ARGS = ['--pdeathsig', 'KILL', '--'];

let setprivPath: string | null | undefined;

/** `argv` prefixed with `setpriv --pdeathsig KILL --` when both programs can be found. */
export function dieWithParent(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const [program] = argv;
  // A program that cannot be found keeps its own "not found" error, instead of setpriv's.
  if (program === undefined || findProgram(program, env) === undefined) return [...argv];
  if (setprivPath === undefined) setprivPath = findProgram('setpriv', env) ?? null;
  return setprivPath === null ? [...argv] : [setprivPath, ...SETPRIV_ARGS, ...argv];
}

/** Whether helpers are wrapped on this system (for a warning when they are not). */
export function canDieWithParent(env: NodeJS.ProcessEnv = process.env): boolean {
  if (setprivPath === undefined) setprivPath = findProgram('setpriv', env) ?? null;
  return setprivPath !== null;
}

function findProgram(program: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = program.includes('/')
    ? [program]
    : (env.PATH ?? '/usr/local/bin:/usr/bin:/bin')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, program));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there, or not executable.
    }
  }
  return undefined;
}
