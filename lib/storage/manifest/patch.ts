import { lstatSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

import { errorMessage, isErrno } from '../../common/errors.js';
import { describe, hashAll } from '../../common/tree-manifest.js';
import { encodeEntryLine, linePath, lineType, type ManifestEntry } from '../../turku/manifest.js';

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

/** The base's manifest as `manifestLines` gives it: its unchanged entries' lines are copied as they are. */
export interface BaseLines {
  readonly lines: readonly string[];
}

/** The new manifest's entry lines, in walk order, and what it took. */
export interface PatchedLines {
  readonly lines: string[];
  readonly hashed: number;
  readonly hashedBytes: number;
  readonly reused: number;
}

export async function patchedLines(root: string, base: BaseLines, changes: CloneChanges): Promise<PatchedLines> {
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
    .map((entry) => ({ path: entry.path, line: encodeEntryLine({ ...entry, sha256: hashed.get(entry.path) ?? null }) }))
    .sort((a, b) => comparePaths(a.path, b.path));
  const replaced = new Set(fresh.map((entry) => entry.path));
  const gone = removedTest(removed);

  // The base's lines in order, the added ones merged in where a walk would list them.
  const lines: string[] = [];
  let reused = 0;
  let j = 0;
  for (const line of base.lines) {
    const path = linePath(line);
    while (j < added.length && comparePaths(added[j]!.path, path) < 0) lines.push(added[j++]!.line);
    if (replaced.has(path) || gone(path)) continue;
    lines.push(line);
    if (lineType(line) === 'f') reused++;
  }
  while (j < added.length) lines.push(added[j++]!.line);
  return { lines, hashed: toHash.length, hashedBytes, reused };
}

/**
 * Whether a path is in `roots` or under one of them: a look-up per directory above it, each
 * directory's verdict kept (a walk lists a directory's entries together, so most paths ask
 * about the parent the one before asked about).
 */
function removedTest(roots: ReadonlySet<string>): (path: string) => boolean {
  if (roots.size === 0) return () => false;
  const dirs = new Map<string, boolean>();
  const dirGone = (dir: string): boolean => {
    let verdict = dirs.get(dir);
    if (verdict === undefined) {
      const slash = dir.lastIndexOf('/');
      verdict = roots.has(dir) || (slash > 0 && dirGone(dir.slice(0, slash)));
      dirs.set(dir, verdict);
    }
    return verdict;
  };
  return (path) => {
    if (roots.has(path)) return true;
    const slash = path.lastIndexOf('/');
    return slash > 0 && dirGone(path.slice(0, slash));
  };
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

/** Directories compared component by component, a parent before its subdirectories. */
function depthFirst(a: string, b: string): number {
  const shorter = Math.min(a.length, b.length);
  let i = 0;
  while (i < shorter && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === a.length) return i === b.length ? 0 : -1; // a's components (the last one too) begin b's
  if (i === b.length) return 1;
  // Within the first component that differs: one that ends here is the smaller one.
  if (a[i] === '/') return -1;
  if (b[i] === '/') return 1;
  return a.charCodeAt(i) < b.charCodeAt(i) ? -1 : 1;
}
