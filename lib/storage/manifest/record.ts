import { lstatSync, readFileSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';

import { gunzipText, writeManifestBody, writeManifestLines, writeManifestTexts } from '../../common/manifest-file.js';
import { manifestEntries } from '../../common/tree-manifest.js';
import { recordTree } from '../../common/tree-record-pool.js';
import {
  encodeEntryLine,
  manifestBody,
  type Manifest,
  type ManifestBody,
  type ManifestEntry,
  type ManifestHeader,
} from '../../turku/manifest.js';
import { manifestPath, readManifest } from './files.js';
import { type EarlyHashes } from './early-hash.js';
import { changedEntries, patchText, type CloneChanges, type PatchedText } from './patch.js';

/**
 * Records the manifest of a link-dest snapshot (docs/datapath.md, "Manifests and verify"). With a
 * base, a file still sharing its inode with the base's file of the same path (rsync's
 * `--link-dest` and the clone hard-link unchanged files) takes the base manifest's hash unread:
 * an incremental reads only what changed. When the backup cloned the base (link-clone.ts), the
 * dry run's list says what changed and nothing else is looked at (patch.ts). Without a base (or
 * with one without a manifest), the tree is recorded by whole directories on worker threads
 * (lib/common/tree-record-pool.ts), taking the hashes made while rsync ran (early-hash.ts).
 */

export interface RecordRequest {
  readonly snapshotsDir: string;
  /** The snapshot's directory in `snapshotsDir`. */
  readonly dir: string;
  /** Its name (the sidecar's). */
  readonly name: string;
  /** The base snapshot's directory, whose manifest (if any) gives the unchanged files' hashes. */
  readonly baseDir: string | null;
  /** What the pull changed in a hard-link clone of `baseDir`; absent: the tree is walked. */
  readonly changes?: CloneChanges | null;
  /** `baseDir`'s manifest, read since the pull began (`readBaseBody`); absent: read now. */
  readonly baseBody?: Promise<ManifestBody | null>;
  /** Without a base: the hashes taken while rsync ran (early-hash.ts), each kept if the file is unchanged since. */
  readonly early?: EarlyHashes | null;
  readonly recorded: ManifestHeader['recorded'];
  readonly now: Date;
}

export interface Recorded {
  readonly path: string;
  readonly header: ManifestHeader;
  readonly entries: number;
  readonly hashedBytes: number;
  /** Made from the base's manifest and the dry run's list, without walking the tree. */
  readonly patched: boolean;
  /** Of the files hashed, those hashed while rsync ran. */
  readonly early: number;
}

export async function recordManifest(request: RecordRequest): Promise<Recorded> {
  const root = join(request.snapshotsDir, request.dir);
  const path = manifestPath(request.snapshotsDir, request.dir);
  const header = (built: { hashed: number; reused: number }): ManifestHeader => ({
    snapshot: request.name,
    created: request.now.toISOString(),
    recorded: request.recorded,
    hashed: built.hashed,
    reused: built.reused,
  });
  const changes = request.changes ?? null;
  if (changes !== null && request.baseDir !== null) {
    const baseBody = request.baseBody ?? readBaseBody(request.snapshotsDir, request.baseDir);
    const patched = await patchedFromBase(root, baseBody, changes);
    if (patched !== null) {
      const done = header(patched);
      await writeManifestBody(path, done, patched.body);
      return {
        path,
        header: done,
        entries: patched.entries,
        hashedBytes: patched.hashedBytes,
        patched: true,
        early: 0,
      };
    }
  }
  // A base without a (sound) manifest: everything is read, as without a base.
  const base =
    changes !== null || request.baseDir === null ? null : await readBase(request.snapshotsDir, request.baseDir);
  if (base === null) {
    // Everything is read (a full backup, or a base without a manifest): by whole directories, on worker threads.
    const tree = await recordTree(root, { early: request.early?.byPath() ?? null });
    const done = header({ hashed: tree.hashed, reused: 0 });
    await writeManifestTexts(path, done, tree.texts, tree.lineCounts);
    // Files hashed while rsync ran were read by this backup all the same, only sooner: hashed, not reused.
    return {
      path,
      header: done,
      entries: tree.entries,
      hashedBytes: tree.hashedBytes,
      patched: false,
      early: tree.early,
    };
  }
  const built = await walkedLines(root, join(request.snapshotsDir, request.baseDir!), base);
  const done = header(built);
  await writeManifestLines(path, done, built.lines);
  return {
    path,
    header: done,
    entries: built.lines.length,
    hashedBytes: built.hashedBytes,
    patched: false,
    early: 0,
  };
}

/**
 * The manifest of the snapshot `baseDir`, read, decompressed (on the thread pool) and its shape
 * checked; null when it has none or a damaged one. An incremental starts this as its pull begins
 * (link-dest.ts), so that the base's manifest is ready when the pull ends: it never changes
 * meanwhile, as the run holds the source's lock and the base is not expired before the new
 * snapshot exists. Never rejects.
 */
export async function readBaseBody(snapshotsDir: string, baseDir: string): Promise<ManifestBody | null> {
  let data: Buffer;
  try {
    data = readFileSync(manifestPath(snapshotsDir, baseDir)); // sync: one read, so that the decompression starts now
  } catch {
    return null;
  }
  try {
    return manifestBody(await gunzipText(data));
  } catch {
    return null;
  }
}

/**
 * The manifest patched from the base's and the dry run's changes (patch.ts); null when the base
 * has no manifest or a damaged one. The changed entries are looked at and read here while the
 * base's is still being read.
 */
async function patchedFromBase(
  root: string,
  baseBody: Promise<ManifestBody | null>,
  changes: CloneChanges,
): Promise<PatchedText | null> {
  const changed = await changedEntries(root, changes);
  const base = await baseBody;
  return base === null ? null : patchText(base, changed);
}

/** The tree walked, the files still sharing their inode with the base's taking its hashes. */
async function walkedLines(
  root: string,
  baseRoot: string,
  base: Manifest,
): Promise<{ lines: string[]; hashed: number; hashedBytes: number; reused: number }> {
  const walked = await manifestEntries(root, { reuse: reuseFromBase(baseRoot, base) });
  return { ...walked, lines: walked.entries.map((entry) => encodeEntryLine(entry)) };
}

/**
 * The base's hash of a file that is the same inode as the base's file at that path, with the size
 * and mtime the base's manifest recorded (else the file is read). Only hard-linked files can
 * qualify, so a file with one link costs nothing more.
 */
function reuseFromBase(baseRoot: string, base: Manifest): (path: string, stats: BigIntStats) => Promise<string | null> {
  const byPath = new Map<string, ManifestEntry>(base.entries.map((e) => [e.path, e]));
  // eslint-disable-next-line @typescript-eslint/require-await -- the caller's interface is async
  return async (path, stats) => {
    if (stats.nlink < 2n) return null;
    const known = byPath.get(path);
    if (known === undefined || known.type !== 'f' || known.sha256 === null) return null;
    if (BigInt(known.size) !== stats.size || known.mtimeNs !== String(stats.mtimeNs)) return null;
    let there: BigIntStats;
    try {
      there = lstatSync(join(baseRoot, path), { bigint: true }); // sync: one cheap call per file
    } catch {
      return null;
    }
    return there.ino === stats.ino && there.dev === stats.dev ? known.sha256 : null;
  };
}

/** The base's manifest; null when it has none or a damaged one (then everything is hashed). */
async function readBase(snapshotsDir: string, baseDir: string): Promise<Manifest | null> {
  try {
    return await readManifest(manifestPath(snapshotsDir, baseDir));
  } catch {
    return null;
  }
}

/**
 * The backup's step after the sidecar (and before anything makes the snapshot immutable): a
 * failure is logged and the snapshot kept, only without a manifest (verify then says so).
 */
export async function manifestAfterBackup(
  request: Omit<RecordRequest, 'recorded'>,
  log: { info(message: string): void; error(message: string): void },
): Promise<void> {
  const began = Date.now();
  try {
    const done = await recordManifest({ ...request, recorded: 'backup' });
    const { hashed, reused } = done.header;
    log.info(
      `Recorded the manifest of ${request.name}: ${done.entries} entries, ${hashed} files hashed ` +
        `(${done.hashedBytes} bytes${done.early > 0 ? `, ${done.early} files while rsync ran` : ''}), ` +
        `${reused} reused from the base` +
        `${done.patched ? " (the dry run's changes only)" : ''}, in ${Date.now() - began} ms`,
    );
  } catch (error) {
    log.error(
      `Cannot record the manifest of ${request.name}: ${error instanceof Error ? error.message : String(error)}; ` +
        'the snapshot is kept without one',
    );
  }
}
