import { lstatSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

import { errorMessage, isErrno } from '../../common/errors.js';
import { describe, hashAll } from '../../common/tree-manifest.js';
import {
  encodeEntryLine,
  escapePath,
  pathAt,
  typeAt,
  type ManifestBody,
  type ManifestEntry,
} from '../../turku/manifest.js';

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

/** The entries the pull changed, looked at and read: their new lines, and the base's entries they remove. */
export interface ChangedEntries {
  /** The new lines (each without its LF) of the entries looked at, in walk order. */
  readonly added: readonly { readonly path: string; readonly line: string }[];
  /** Entries whose base entry goes and everything under it: deleted, vanished, or no longer a directory. */
  readonly removed: ReadonlySet<string>;
  readonly hashed: number;
  readonly hashedBytes: number;
}

/** The new manifest's entry lines (each ending with LF, in walk order) as one text, and what it took. */
export interface PatchedText {
  readonly body: string;
  readonly entries: number;
  readonly hashed: number;
  readonly hashedBytes: number;
  readonly reused: number;
}

/**
 * What the pull changed, looked at and read. Done before the base's manifest is needed, so that
 * the caller can have that decompressed meanwhile (on the thread pool).
 */
export async function changedEntries(root: string, changes: CloneChanges): Promise<ChangedEntries> {
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
  return { added, removed, hashed: toHash.length, hashedBytes };
}

/**
 * The base's text with the changes merged in where a walk would list them: each changed entry's
 * place found by a binary search of the base's lines (they are in walk order), the base's line
 * of the same path and those of a removed entry's subtree (a walk lists a directory's subtree in
 * one stretch) cut out, and the stretches between copied as they are. Only the lines around the
 * changes are looked at, and none is split out of the text.
 */
export function patchText(base: ManifestBody, changed: ChangedEntries): PatchedText {
  const { text, bodyStart } = base;
  const cuts: [number, number][] = [];
  const inserts: { at: number; line: string }[] = [];
  const lineEnd = (start: number) => text.indexOf('\n', start) + 1;
  // Each path's place once (a changed file is both added and removed); the added ones are in order, each searched from the last.
  const places = new Map<string, number>();
  let from = bodyStart;
  const placeOf = (path: string, ordered: boolean) => {
    let at = places.get(path);
    if (at === undefined) {
      at = firstNotBefore(text, ordered ? from : bodyStart, path);
      places.set(path, at);
    }
    if (ordered) from = at;
    return at;
  };
  /** Whether the base has a line of `path` at `at`. */
  const isAt = (at: number, path: string) => at < text.length && pathAt(text, at) === path;
  for (const { path, line } of changed.added) {
    const at = placeOf(path, true);
    inserts.push({ at, line });
    if (isAt(at, path)) cuts.push([at, lineEnd(at)]);
  }
  for (const root of changed.removed) {
    const at = placeOf(root, false);
    if (!isAt(at, root)) continue; // not in the base: nor anything under it
    cuts.push([at, lineEnd(at)]);
    if (typeAt(text, at) !== 'd') continue;
    // Its subtree: from the first line that comes after its directory's own place, while under it.
    const subtree = firstNotBefore(text, at, `${root}/\0`); // no name holds a NUL: before any of its entries
    const prefix = `${escapePath(root)}/`;
    let end = subtree;
    while (end < text.length && text.startsWith(prefix, end)) end = lineEnd(end);
    if (end > subtree) cuts.push([subtree, end]);
  }
  const merged = mergeCuts(cuts);
  let cutLines = 0;
  let cutFiles = 0;
  for (const [start, end] of merged) {
    for (let at = start; at < end; at = lineEnd(at)) {
      cutLines++;
      if (typeAt(text, at) === 'f') cutFiles++;
    }
  }

  // The base's text up to each insert's place (without what is cut), then the insert's line.
  let body = '';
  let done = bodyStart; // the base's text before this is written or cut
  let c = 0;
  const copyTo = (to: number) => {
    while (done < to) {
      while (c < merged.length && merged[c]![1] <= done) c++;
      const cut = merged[c];
      if (cut === undefined || cut[0] >= to) {
        body += text.slice(done, to);
        done = to;
      } else {
        body += text.slice(done, cut[0]);
        done = cut[1];
      }
    }
  };
  for (const { at, line } of inserts) {
    copyTo(at);
    body += `${line}\n`;
  }
  copyTo(text.length);
  return {
    body,
    entries: base.lines - cutLines + inserts.length,
    hashed: changed.hashed,
    hashedBytes: changed.hashedBytes,
    reused: base.files - cutFiles,
  };
}

/** The start of the first entry line from `bodyStart` (a line's start) on whose path does not come before `path` in a walk (the text's length if none). */
function firstNotBefore(text: string, bodyStart: number, path: string): number {
  let low = bodyStart; // a line's start: every line before it comes before `path`
  let high = text.length; // a line's start or the end: every line from it on does not
  while (low < high) {
    const middle = (low + high) >>> 1;
    const start = Math.max(low, text.lastIndexOf('\n', middle - 1) + 1);
    if (comparePaths(pathAt(text, start), path) < 0) low = text.indexOf('\n', start) + 1;
    else high = start;
  }
  return low;
}

/** The ranges sorted, those that overlap or touch made one. */
function mergeCuts(cuts: [number, number][]): [number, number][] {
  cuts.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of cuts) {
    const last = merged.at(-1);
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
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
