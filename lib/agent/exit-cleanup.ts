import { rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The last line of defence for what a session leaves behind if the agent exits without running
 * its `finally` blocks (a second Ctrl-C, an uncaught error): on process exit, still-running
 * helper process groups get SIGTERM and private directories are removed. The normal paths stop
 * and remove them themselves; a SIGKILL skips all of this, and the helpers die with the agent
 * (die-with-parent.ts) while the directories are swept at the next start (leftover-sessions.ts).
 */

/** `<var_dir>/sessions`: each session's private directory lives here, and only there. */
export const SESSIONS_DIR = 'sessions';
/** Session directories are `session-XXXXXX`. */
export const SESSION_DIR_PREFIX = 'session-';
/** In each session directory: the pid of the agent that made it. */
export const OWNER_FILE = 'owner.pid';

const groups = new Set<number>();
const dirs = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    for (const pid of groups) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** Tracks a detached child (its own process group) until `untrack`. */
export function trackProcessGroup(pid: number): () => void {
  install();
  groups.add(pid);
  return () => groups.delete(pid);
}

/**
 * A new directory only we can read (mode 0700) under `<var_dir>/sessions` (also 0700), for one
 * session's secrets, with the agent's pid in `owner.pid`.
 */
export async function makePrivateDir(varDir: string): Promise<string> {
  install();
  const parent = join(varDir, SESSIONS_DIR);
  await mkdir(parent, { recursive: true, mode: 0o700 });
  await chmod(parent, 0o700);
  const dir = await mkdtemp(join(parent, SESSION_DIR_PREFIX));
  dirs.add(dir);
  await writeFile(join(dir, OWNER_FILE), `${process.pid}\n`, { mode: 0o600 });
  return dir;
}

export async function removePrivateDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Whether this process made `dir` and has not removed it yet. */
export function isOwnPrivateDir(dir: string): boolean {
  return dirs.has(dir);
}
