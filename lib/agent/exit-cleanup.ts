import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The last line of defence for what a session leaves behind if the agent exits without running
 * its `finally` blocks (a second Ctrl-C, an uncaught error): on process exit, still-running
 * helper process groups get SIGTERM and private directories are removed. The normal paths stop
 * and remove them themselves.
 */

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

/** A new directory only we can read (mode 0700), for one session's secrets. */
export async function makePrivateDir(): Promise<string> {
  install();
  const dir = await mkdtemp(join(tmpdir(), 'turku-agent-'));
  dirs.add(dir);
  return dir;
}

export async function removePrivateDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  dirs.delete(dir);
}
