import { chmod, lchown, lstat, mkdir, mkdtemp, readdir, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { errorMessage, isErrno, UserError } from '../common/errors.js';
import { STAGING_PREFIX, writeRestoreRecord } from './restore-leftovers.js';

/**
 * Where a restore writes, and how it keeps to what it was asked.
 *
 * The storage pushes with `rsync -a <snapshot>/ rsync://…/<module>/`, which gives the module's
 * root the snapshot root's mode, owner and time: a module rooted at the target would turn a
 * 0700 target into 0755 for the whole transfer, and a failed push would leave half a tree mixed
 * into whatever the target held. So the module is rooted at a private staging directory inside
 * the target (same file system, so moving is renaming), and:
 *   - success: every staged entry is renamed into the target (a directory the target already
 *     has is merged into, entry by entry, and then takes the snapshot's attributes); the target
 *     itself keeps its own mode, owner and entries that the snapshot does not name;
 *   - failure: the staging directory goes, then every directory this restore created on the way
 *     to the target (the target included) that is still empty; nothing that existed is touched.
 * A target that is not empty is refused unless the caller asked to merge.
 */

/** `turku-agent-ping` exits with this for bad input (like a bad flag), as its usage says. */
export const BAD_TARGET_EXIT = 2;

export { STAGING_PREFIX };

export interface TargetPlan {
  /** Absolute. */
  readonly path: string;
  readonly merge: boolean;
}

function refuse(message: string): UserError {
  return new UserError(message, BAD_TARGET_EXIT);
}

/**
 * Checks the target before anything is written: it may be missing (it is created, 0700), or an
 * empty directory, or any directory when merging. A symlink is refused (say where it leads
 * instead: the daemon would follow it wherever it points by then), and so is anything else.
 */
export async function planRestoreTarget(
  target: string,
  merge: boolean,
  /** Targets of restores a killed agent left unfinished: their staging entries do not count. */
  unfinished: ReadonlySet<string> = new Set(),
): Promise<TargetPlan> {
  const path = resolve(target);
  let stats: Stats | null;
  try {
    stats = await lstatOrNull(path);
  } catch (error) {
    if (!isErrno(error, 'ENOTDIR')) throw error;
    stats = null; // a file on the way: checkCreatable names it
  }
  if (stats === null) {
    await checkCreatable(path);
    return { path, merge };
  }
  if (stats.isSymbolicLink()) {
    throw refuse(`Restore target ${path} is a symbolic link; give the directory itself`);
  }
  if (!stats.isDirectory()) throw refuse(`Restore target ${path} exists and is not a directory`);
  const entries = (await readdir(path)).filter((name) => !(unfinished.has(path) && name.startsWith(STAGING_PREFIX)));
  if (!merge && entries.length > 0) {
    throw refuse(`Restore target ${path} is not empty; empty it, choose another, or merge into it (--restore-merge)`);
  }
  return { path, merge };
}

/** The nearest existing ancestor must be a directory (a file there makes the target impossible). */
async function checkCreatable(path: string): Promise<void> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let stats: Stats | null;
    try {
      stats = await lstatOrNull(dir);
    } catch (error) {
      if (isErrno(error, 'ENOTDIR')) continue;
      throw error;
    }
    if (stats === null) continue;
    // A symlinked ancestor is fine (e.g. /var -> /private/var): it is the operator's layout.
    if (stats.isDirectory() || (stats.isSymbolicLink() && (await isDirectoryFollowing(dir)))) return;
    throw refuse(`Restore target ${path} cannot be created: ${dir} is not a directory`);
  }
}

export interface PreparedTarget {
  readonly path: string;
  /** The directory the restore module serves. */
  readonly staging: string;
  /** Moves what was pushed into the target and removes the staging directory. */
  commit(): Promise<void>;
  /** Removes the staging directory and what this restore created; idempotent. */
  discard(): Promise<void>;
}

/**
 * Creates the target if needed (0700) and a staging directory in it (0700, root's). With
 * `varDir`, a record of both is kept until commit or discard, so that the next start can undo a
 * restore killed half-way (restore-leftovers.ts).
 */
export async function prepareRestoreTarget(plan: TargetPlan, varDir?: string): Promise<PreparedTarget> {
  const firstCreated = await mkdir(plan.path, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw refuse(`Restore target ${plan.path} cannot be created: ${errorMessage(error)}`);
  });
  const created = firstCreated === undefined ? [] : createdChain(firstCreated, plan.path);
  let staging: string;
  let forgetRecord = (): Promise<void> => Promise.resolve();
  try {
    await planRestoreTarget(plan.path, plan.merge); // again: it may have changed meanwhile
    if (varDir !== undefined) forgetRecord = await writeRestoreRecord(varDir, { target: plan.path, created });
    staging = await mkdtemp(join(plan.path, STAGING_PREFIX));
  } catch (error) {
    await removeCreated(created);
    await forgetRecord();
    throw error;
  }
  const stagingIdentity = await lstat(staging);
  let done = false;
  const isOurs = async () => {
    const now = await lstatOrNull(staging);
    return now !== null && now.isDirectory() && now.ino === stagingIdentity.ino && now.dev === stagingIdentity.dev;
  };
  return {
    path: plan.path,
    staging,
    async commit() {
      if (done) return;
      if (!(await isOurs())) throw new UserError(`The staging directory ${staging} was replaced during the restore`);
      await mergeInto(Buffer.from(staging), Buffer.from(plan.path));
      await rmdir(staging);
      await forgetRecord();
      done = true;
    },
    async discard() {
      if (done) return;
      done = true;
      if (await isOurs()) await rm(staging, { recursive: true, force: true });
      await removeCreated(created);
      await forgetRecord();
    },
  };
}

/** `first` and each directory below it down to `path`, deepest first. */
function createdChain(first: string, path: string): string[] {
  const chain: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    chain.push(dir);
    if (dir === first || dir === dirname(dir)) return chain;
  }
}

/** rmdir only: a directory something else has written into since stays. */
async function removeCreated(created: readonly string[]): Promise<void> {
  for (const dir of created) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty (or gone): its parents are not empty either
    }
  }
}

/**
 * Renames each entry of `from` into `into`. Where both have a real directory of that name, its
 * entries are merged in turn and the directory then takes the staged one's owner, mode and
 * times; anything else of that name in the target (a file, a symlink, a directory where the
 * snapshot has a file) is replaced by the staged entry, as rsync would. Names are bytes.
 */
async function mergeInto(from: Buffer, into: Buffer): Promise<void> {
  const names = await readdir(from, { encoding: 'buffer' });
  for (const name of names) {
    const staged = joinBytes(from, name);
    const existing = joinBytes(into, name);
    const stagedStats = await lstat(staged);
    const existingStats = await lstatOrNull(existing);
    if (existingStats === null) {
      await rename(staged, existing);
    } else if (stagedStats.isDirectory() && existingStats.isDirectory()) {
      await mergeInto(staged, existing);
      await copyAttributes(stagedStats, existing);
      await rmdir(staged);
    } else {
      if (existingStats.isDirectory() || stagedStats.isDirectory())
        await rm(existing, { recursive: true, force: true });
      await rename(staged, existing);
    }
  }
}

async function copyAttributes(from: Stats, to: Buffer): Promise<void> {
  await lchown(to, from.uid, from.gid);
  await chmod(to, from.mode & 0o7777);
  await utimes(to, from.atime, from.mtime);
}

function joinBytes(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from('/'), name]);
}

async function lstatOrNull(path: string | Buffer): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
}

async function isDirectoryFollowing(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}
