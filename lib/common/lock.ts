import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isErrno } from './errors.js';

/**
 * Non-blocking exclusive advisory locks (docs/datapath.md, "Locks, logs and exit codes"):
 * `<lock_dir>/<name>.lock`, holding the owner's PID right-aligned in 10 characters while held,
 * unlinked on release.
 *
 * Node has no flock(2), so flock(1) locks the open file description this process holds; the
 * lock therefore lives exactly as long as this process keeps the file open, and dies with it.
 */

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

/** First existing of the usual lock directories, then the system temporary directory. */
export function defaultLockDir(): string {
  for (const dir of ['/run/lock', '/var/lock', '/run', '/var/run']) if (existsSync(dir)) return dir;
  return tmpdir();
}

/** The lock, or undefined when another process holds it. */
export async function tryLock(lockDir: string, name: string): Promise<Lock | undefined> {
  const path = join(lockDir, `${name}.lock`);
  for (;;) {
    const handle = await open(path, 'a+', 0o644);
    let held = false;
    try {
      if (!(await flockNonBlocking(handle))) return undefined;
      // The holder before us may have unlinked the file between our open and our lock.
      if (!(await sameFile(handle, path))) continue;
      held = true;
      await handle.truncate(0);
      await handle.write(`${String(process.pid).padStart(10)}\n`, 0);
      return { path, release: () => release(handle, path) };
    } finally {
      if (!held) await handle.close();
    }
  }
}

async function release(handle: FileHandle, path: string): Promise<void> {
  // Unlink first: whoever opens the old file afterwards sees it is gone and starts again.
  await unlink(path).catch((error: unknown) => {
    if (!isErrno(error, 'ENOENT')) throw error;
  });
  await handle.close();
}

const BUSY = 75;

function flockNonBlocking(handle: FileHandle): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--nonblock', '--conflict-exit-code', String(BUSY), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', handle.fd],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(true);
      else if (code === BUSY) resolve(false);
      else reject(new Error(`flock failed (${code}): ${stderr.trim()}`));
    });
  });
}

async function sameFile(handle: FileHandle, path: string): Promise<boolean> {
  try {
    const [opened, named] = await Promise.all([handle.stat(), stat(path)]);
    return opened.ino === named.ino && opened.dev === named.dev;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
