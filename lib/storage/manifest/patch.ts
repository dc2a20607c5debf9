import { lstatSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

import { errorMessage, isErrno } from '../../common/errors.js';
import { describe, hashAll, type BuiltEntries } from '../../common/tree-manifest.js';
import type { Manifest, ManifestEntry } from '../../turku/manifest.js';

/**
 * The manifest of an incremental made on a hard-link clone of its base (lib/storage/snapshots/
 * link-clone.ts), from the base's manifest and the dry run's list alone (docs/datapath.md,
 * "Manifests and verify"). Every entry the dry run did not itemize is the base's own inode, with
 * the attributes the base had when the dry run compared it with the source: its entry is the
 * base manifest's. Only the entries the pull created or set (the changed ones and the directories
 * above them) are looked at, and of those only files and symlinks are read. So a 1 % incremental
 * costs what changed, not an `lstat` of every entry of the tree (and of the base's).
 */

export interface CloneChanges {
  /** Entries the pull (re)created or set the attributes of: the itemized ones and the directories above. */
  readonly touched: readonly string[];
  /** Entries removed from the clone, each with everything under it. */
  readonly deleted: readonly string[];
}

export async function patchedEntries(root: string, base: Manifest, changes: CloneChanges): Promise<BuiltEntries> {
  const removed = new Set(changes.deleted);
  const fresh: ManifestEntry[] = [];
  for (const path of new Set(changes.touched)) {
    let stats: BigIntStats;
    try {
      stats = lstatSync(join(root, path), { bigint: true }); // sync: a few cheap calls
    } catch (error) {
      // Vanished before the pull could fetch it (rsync's code 24): neither it nor its old entries.
      if (isErrno(error, 'ENOENT')) {
        removed.add(path);
        continue;
      }
      throw new Error(`${path}: ${errorMessage(error)}`, { cause: error });
    }
    // A changed entry replaces the base's; if it is no longer a directory, the base's entries under it go too.
    if (!stats.isDirectory()) removed.add(path);
    fresh.push(describe(path, stats));
  }
  const replaced = new Set(fresh.map((entry) => entry.path));
  const kept = base.entries.filter((entry) => !replaced.has(entry.path) && !underAny(entry.path, removed));

  const toHash = fresh.filter((entry) => entry.type === 'f' || entry.type === 'l');
  const hashes = await hashAll(
    toHash.map((entry) => ({ path: join(root, entry.path), symlink: entry.type === 'l', size: entry.size })),
  );
  const hashed = new Map<string, string>();
  let hashedBytes = 0;
  toHash.forEach((entry, k) => {
    const result = hashes[k]!;
    if ('error' in result) throw new Error(`${entry.path}: ${result.error}`);
    hashed.set(entry.path, result.sha256);
    hashedBytes += entry.size;
  });
  const added = fresh
    .map((entry) => ({ ...entry, sha256: hashed.get(entry.path) ?? null }))
    .sort((a, b) => comparePaths(a.path, b.path));
  return {
    entries: mergeInOrder(kept, added),
    hashed: toHash.length,
    hashedBytes,
    reused: kept.filter((entry) => entry.type === 'f').length,
  };
}

/** Whether `path` or a directory above it is in `roots`. */
function underAny(path: string, roots: ReadonlySet<string>): boolean {
  if (roots.size === 0) return false;
  for (let end = path.length; end > 0; end = path.lastIndexOf('/', end - 1)) {
    if (roots.has(path.slice(0, end))) return true;
  }
  return false;
}

/**
 * The order of a walk (lib/common/tree-manifest.ts `walkTree`): a directory's entries together,
 * their names sorted as JavaScript sorts strings; the directories' lists in the order the walk
 * enters them (depth first, parents before children, in name order).
 */
export function comparePaths(a: string, b: string): number {
  const slashA = a.lastIndexOf('/');
  const slashB = b.lastIndexOf('/');
  const parentA = slashA < 0 ? '' : a.slice(0, slashA);
  const parentB = slashB < 0 ? '' : b.slice(0, slashB);
  if (parentA === parentB) return a < b ? -1 : a > b ? 1 : 0;
  return depthFirst(parentA, parentB);
}

function depthFirst(a: string, b: string): number {
  const x = a === '' ? [] : a.split('/');
  const y = b === '' ? [] : b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/** Two lists each in walk order, as one. */
function mergeInOrder(a: readonly ManifestEntry[], b: readonly ManifestEntry[]): ManifestEntry[] {
  const merged: ManifestEntry[] = [];
  let j = 0;
  for (const entry of a) {
    while (j < b.length && comparePaths(b[j]!.path, entry.path) < 0) merged.push(b[j++]!);
    merged.push(entry);
  }
  while (j < b.length) merged.push(b[j++]!);
  return merged;
}
