import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';

import {
  compareEntry,
  type Manifest,
  type ManifestEntry,
  type ManifestEntryType,
  type TreeProblem,
} from '../turku/manifest.js';
import { errorMessage, isErrno } from './errors.js';
import { hashMany, type HashJob, type HashResult } from './hash-pool.js';

/**
 * Walks a tree and hashes its files into manifest entries, and checks a tree against a manifest
 * (docs/datapath.md, "Manifests and verify"). The storage records and verifies snapshots with it;
 * a restore can check what it restored with `verifyTree(target, manifest, { subPath })`.
 *
 * Hashing is Node's SHA-256 (OpenSSL, with the CPU's SHA instructions where present) over 1 MiB
 * reads: on worker threads, one per core, when there is much to read (hash-pool.ts); else here,
 * with synchronous reads: for a few files (an incremental's changes) a trip through the thread
 * pool per read cost several times the reading (20 files of 2 MB: 21-30 ms against 3-7 ms).
 */

const READ_SIZE = 1 << 20;

export interface WalkedEntry {
  readonly path: string;
  readonly stats: BigIntStats;
}

/**
 * Every entry under `root/start` (not `root` itself), parents before children, names sorted.
 * Synchronous calls: a walk is one `lstat` per entry, and a round trip through the thread pool for
 * each costs several times the call itself.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- async for its callers, sync inside for speed
export async function walkTree(
  root: string,
  options: { readonly start?: string; readonly onUnreadable?: (path: string, error: unknown) => void } = {},
): Promise<WalkedEntry[]> {
  const walked: WalkedEntry[] = [];
  const pending: string[] = [options.start ?? ''];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let names: string[];
    try {
      names = readdirSync(join(root, dir)).sort();
    } catch (error) {
      if (options.onUnreadable === undefined) throw error;
      options.onUnreadable(dir, error);
      continue;
    }
    const children: string[] = [];
    for (const name of names) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const stats = lstatSync(join(root, path), { bigint: true });
      walked.push({ path, stats });
      if (stats.isDirectory()) children.push(path);
    }
    pending.push(...children.reverse());
  }
  return walked;
}

export function entryType(stats: BigIntStats): ManifestEntryType {
  if (stats.isFile()) return 'f';
  if (stats.isDirectory()) return 'd';
  if (stats.isSymbolicLink()) return 'l';
  return 'o';
}

/** The entry without its hash: what lstat says. */
export function describe(path: string, stats: BigIntStats, sha256: string | null = null): ManifestEntry {
  const type = entryType(stats);
  return {
    path,
    type,
    size: type === 'd' ? 0 : Number(stats.size),
    mode: Number(stats.mode & 0o7777n),
    mtimeNs: String(stats.mtimeNs),
    sha256,
  };
}

/** SHA-256 of a file's content, or of a symlink's target; reads with `buffer`. */
export async function hashEntry(path: string, type: ManifestEntryType, buffer: Buffer): Promise<string> {
  const hash = createHash('sha256');
  if (type === 'l') return hash.update(await readlink(path, { encoding: 'buffer' })).digest('hex');
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/** `hashEntry` with synchronous calls. */
function hashEntrySync(path: string, symlink: boolean, buffer: Buffer): string {
  const hash = createHash('sha256');
  if (symlink) return hash.update(readlinkSync(path, { encoding: 'buffer' })).digest('hex');
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** From here on, worker threads (hash-pool.ts) pay for their start-up (tens of ms each). */
const POOL_BYTES = 32 << 20;
const POOL_FILES = 2000;

/** The hashes of `jobs` in their order: on worker threads when there is much to read, else here. */
export async function hashAll(jobs: readonly HashJob[]): Promise<HashResult[]> {
  const bytes = jobs.reduce((sum, job) => sum + job.size, 0);
  if (bytes >= POOL_BYTES || jobs.length >= POOL_FILES) return hashMany(jobs);
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  return jobs.map((job) => {
    try {
      return { sha256: hashEntrySync(job.path, job.symlink, buffer) };
    } catch (error) {
      return { error: errorMessage(error) };
    }
  });
}

export interface BuiltEntries {
  readonly entries: ManifestEntry[];
  /** Files and symlinks read and hashed. */
  readonly hashed: number;
  readonly hashedBytes: number;
  /** Files whose hash `reuse` gave. */
  readonly reused: number;
}

/**
 * The manifest entries of a tree. `reuse` may give a file's hash without reading it (the storage:
 * the base snapshot's entry for a file sharing its inode).
 */
export async function manifestEntries(
  root: string,
  options: { readonly reuse?: (path: string, stats: BigIntStats) => Promise<string | null> } = {},
): Promise<BuiltEntries> {
  const walked = await walkTree(root);
  const entries: ManifestEntry[] = walked.map(({ path, stats }) => describe(path, stats));
  let reused = 0;
  const toHash: number[] = [];
  for (const [i, entry] of entries.entries()) {
    if (entry.type !== 'f' && entry.type !== 'l') continue;
    const known = entry.type === 'f' && options.reuse ? await options.reuse(entry.path, walked[i]!.stats) : null;
    if (known === null) toHash.push(i);
    else {
      entries[i] = { ...entry, sha256: known };
      reused++;
    }
  }
  const jobs = toHash.map((i) => jobOf(root, entries[i]!));
  const hashes = await hashAll(jobs);
  let hashedBytes = 0;
  toHash.forEach((i, k) => {
    const result = hashes[k]!;
    if ('error' in result) throw new Error(`${entries[i]!.path}: ${result.error}`);
    entries[i] = { ...entries[i]!, sha256: result.sha256 };
    hashedBytes += entries[i].size;
  });
  const hashed = toHash.length;
  return { entries, hashed, hashedBytes, reused };
}

export interface TreeCheck {
  readonly checkedFiles: number;
  readonly checkedBytes: number;
  /** False when only a sample was checked. */
  readonly complete: boolean;
  readonly problems: TreeProblem[];
}

export interface VerifyTreeOptions {
  /** Only this part of the manifest, found at the same relative path under `root` (a partial restore). */
  readonly subPath?: string;
  /** Only a random sample of the files of at most this many bytes; no search for extra entries. */
  readonly sample?: { readonly maxBytes: number; readonly random?: () => number };
}

/**
 * Checks the tree at `root` against `manifest`: every content, size or metadata change, missing
 * and extra entry (or, with `sample`, the sampled files only). Nothing on an intact tree.
 */
export async function verifyTree(
  root: string,
  manifest: Manifest,
  options: VerifyTreeOptions = {},
): Promise<TreeCheck> {
  const subPath = options.subPath?.replace(/^\/+|\/+$/g, '') ?? '';
  const inScope = (path: string) => subPath === '' || path === subPath || path.startsWith(`${subPath}/`);
  const expected = new Map(manifest.entries.filter((e) => inScope(e.path)).map((e) => [e.path, e]));
  if (options.sample !== undefined) return verifySample(root, [...expected.values()], options.sample);

  const problems: TreeProblem[] = [];
  const unreadableDirs: string[] = [];
  const onUnreadable = (path: string, error: unknown) => {
    unreadableDirs.push(path);
    problems.push({ path, kind: 'unreadable', detail: errorMessage(error) });
  };
  const walked: WalkedEntry[] = [];
  if (subPath !== '') {
    const top = await lstat(join(root, subPath), { bigint: true }).catch((error: unknown) => {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    });
    if (top !== null) walked.push({ path: subPath, stats: top });
  }
  if (subPath === '' || walked[0]?.stats.isDirectory()) {
    walked.push(...(await walkTree(root, { start: subPath, onUnreadable })));
  }

  const toHash: { walked: WalkedEntry; want: ManifestEntry }[] = [];
  for (const entry of walked) {
    const want = expected.get(entry.path);
    expected.delete(entry.path);
    const found = describe(entry.path, entry.stats);
    if (want === undefined) {
      problems.push({
        path: entry.path,
        kind: 'extra',
        detail: `not in the manifest (${found.type}, ${found.size} bytes)`,
      });
    } else if (want.type === found.type && want.sha256 !== null && (want.type !== 'f' || want.size === found.size)) {
      toHash.push({ walked: entry, want });
    } else {
      const problem = compareEntry(want, found);
      if (problem !== null) problems.push(problem);
    }
  }
  const hashed = await checkHashes(root, toHash, problems);
  const under = (path: string) => unreadableDirs.some((dir) => dir === '' || path.startsWith(`${dir}/`));
  for (const want of expected.values()) {
    if (!under(want.path))
      problems.push({ path: want.path, kind: 'missing', detail: `${want.type}, ${want.size} bytes` });
  }
  return { ...hashed, complete: true, problems: sortProblems(problems) };
}

async function verifySample(
  root: string,
  candidates: readonly ManifestEntry[],
  sample: NonNullable<VerifyTreeOptions['sample']>,
): Promise<TreeCheck> {
  const random = sample.random ?? Math.random;
  const files = candidates.filter((e) => e.type === 'f');
  for (let i = files.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [files[i], files[j]] = [files[j]!, files[i]!];
  }
  const problems: TreeProblem[] = [];
  const toHash: { walked: WalkedEntry; want: ManifestEntry }[] = [];
  let budget = sample.maxBytes;
  for (const want of files) {
    if (want.size > budget) continue;
    budget -= want.size;
    let stats: BigIntStats;
    try {
      stats = await lstat(join(root, want.path), { bigint: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT'))
        problems.push({ path: want.path, kind: 'missing', detail: `f, ${want.size} bytes` });
      else problems.push({ path: want.path, kind: 'unreadable', detail: errorMessage(error) });
      continue;
    }
    const found = describe(want.path, stats);
    if (found.type === 'f' && found.size === want.size) toHash.push({ walked: { path: want.path, stats }, want });
    else problems.push(compareEntry(want, found)!);
  }
  const hashed = await checkHashes(root, toHash, problems);
  return { ...hashed, complete: false, problems: sortProblems(problems) };
}

async function checkHashes(
  root: string,
  items: readonly { walked: WalkedEntry; want: ManifestEntry }[],
  problems: TreeProblem[],
): Promise<{ checkedFiles: number; checkedBytes: number }> {
  let checkedFiles = 0;
  let checkedBytes = 0;
  const found = items.map(({ walked }) => describe(walked.path, walked.stats));
  const hashes = await hashAll(found.map((entry) => jobOf(root, entry)));
  items.forEach(({ want }, k) => {
    const result = hashes[k]!;
    const entry = found[k]!;
    if ('error' in result) {
      problems.push({ path: entry.path, kind: 'unreadable', detail: result.error });
      return;
    }
    checkedFiles++;
    checkedBytes += entry.type === 'f' ? entry.size : 0;
    const problem = compareEntry(want, { ...entry, sha256: result.sha256 });
    if (problem !== null) problems.push(problem);
  });
  return { checkedFiles, checkedBytes };
}

function jobOf(root: string, entry: ManifestEntry): HashJob {
  return { path: join(root, entry.path), symlink: entry.type === 'l', size: entry.size };
}

/** By path, then kind: the order every verify reports in. */
export function sortProblems(problems: TreeProblem[]): TreeProblem[] {
  return problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : 1));
}
