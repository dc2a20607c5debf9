import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { isErrno } from '../common/errors.js';

/**
 * A storage session's scratch files (rsync's output and filter files, link-clone's file lists,
 * and whatever else asks the system for a temporary directory) live in
 * `<var_dir>/scratch/<machine uuid>/`, not in /tmp: a session killed half-way leaves them where
 * the next session for that machine sweeps them, and only the storage's own state directory ever
 * holds them. Each directory is used only under its machine's lock, so whoever holds the lock may
 * sweep it.
 *
 * The session points the process's temporary directory (TMPDIR, which Node's os.tmpdir() reads
 * on every call) at its scratch directory while it runs, so every module that asks os.tmpdir()
 * follows without being told. The programs it runs get their own fixed environment (process.ts),
 * without TMPDIR.
 */

export function scratchRoot(varDir: string): string {
  return join(varDir, 'scratch');
}

export function scratchDirectory(varDir: string, uuid: string): string {
  return join(scratchRoot(varDir), uuid);
}

/** Newest modification time of the directory and what is in it (two levels), or undefined if absent. */
export async function lastActivity(dir: string): Promise<Date | undefined> {
  let newest: number | undefined;
  const visit = async (path: string, depth: number): Promise<void> => {
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      throw error;
    }
    newest = Math.max(newest ?? 0, info.mtimeMs);
    if (!info.isDirectory() || depth === 0) return;
    for (const entry of await readdir(path)) await visit(join(path, entry), depth - 1);
  };
  await visit(dir, 2);
  return newest === undefined ? undefined : new Date(newest);
}

/** Removes what an earlier session of this machine left. The caller holds the machine's lock. */
export async function sweepScratch(varDir: string, uuid: string): Promise<void> {
  await rm(scratchDirectory(varDir, uuid), { recursive: true, force: true });
}

export interface Scratch {
  readonly dir: string;
  /** Puts the process's temporary directory back and removes the scratch directory. */
  leave(): Promise<void>;
}

/**
 * Makes a fresh, private (0700) scratch directory the process's temporary directory, after
 * removing whatever an earlier, killed session of this machine left there. The caller holds the
 * machine's lock, and calls `leave()` before releasing it.
 */
export async function enterScratch(varDir: string, uuid: string): Promise<Scratch> {
  const root = scratchRoot(varDir);
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  const dir = scratchDirectory(varDir, uuid);
  await sweepScratch(varDir, uuid);
  await mkdir(dir, { mode: 0o700 });
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return {
    dir,
    async leave() {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      await sweepScratch(varDir, uuid);
    },
  };
}
