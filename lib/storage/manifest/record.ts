import { lstatSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

import { writeFileAtomic } from '../../common/atomic-write.js';
import { writeManifestBody, writeManifestLines, writeManifestTexts } from '../../common/manifest-file.js';
import { manifestEntries } from '../../common/tree-manifest.js';
import type { LiveRecording } from '../../common/tree-record-live-pool.js';
import { recordTree } from '../../common/tree-record-pool.js';
import {
  encodeEntryLine,
  type Manifest,
  type ManifestBody,
  type ManifestEntry,
  type ManifestHeader,
} from '../../turku/manifest.js';
import { encodeDelta, MAX_DELTA_DEPTH, type BaseRef } from './delta.js';
import { type EarlyHashes } from './early-hash.js';
import { deltaPath, manifestPath } from './files.js';
import { changedEntries, patchText, type ChangedEntries, type CloneChanges } from './patch.js';
import { manifestRef, readStoredManifest, storedManifestBody } from './stored.js';

/**
 * Records the manifest of a link-dest snapshot (docs/datapath.md, "Manifests and verify"). With a
 * base, a file still sharing its inode with the base's file of the same path (rsync's
 * `--link-dest` and the clone hard-link unchanged files) takes the base manifest's hash unread:
 * an incremental reads only what changed. When the backup cloned the base (link-clone.ts), the
 * dry run's list says what changed and nothing else is looked at (patch.ts), and the manifest is
 * kept as a delta on the base's (delta.ts) unless the base's ends a chain of MAX_DELTA_DEPTH
 * deltas, when it is patched into a whole one. Without a base (or
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
  /** `baseDir`'s manifest, read since the pull began (`readBaseManifest`); absent: read now. */
  readonly base?: Promise<BaseManifest | null>;
  /** Without a base: the hashes taken while rsync ran (early-hash.ts), each kept if the file is unchanged since. */
  readonly early?: EarlyHashes | null;
  /** Without a base: the directories recorded while rsync ran (tree-record-live-pool.ts), checked and taken; stopped in any case. */
  readonly live?: LiveRecording | null;
  readonly recorded: ManifestHeader['recorded'];
  readonly now: Date;
}

export interface Recorded {
  readonly path: string;
  readonly recorded: ManifestHeader['recorded'];
  /** Files (and symlinks) read and hashed. */
  readonly hashed: number;
  /** Files whose hash was taken from the base's manifest; null for a delta, which names only what changed. */
  readonly reused: number | null;
  /** The manifest's entries; a delta's: the entries it adds and those it removes. */
  readonly entries: number;
  readonly hashedBytes: number;
  /** Made from the base's manifest and the dry run's list, without walking the tree. */
  readonly patched: boolean;
  /** Of the files hashed, those hashed while rsync ran. */
  readonly early: number;
  /** The base's directory, when recorded as a delta on its manifest (delta.ts). */
  readonly deltaOn: string | null;
  /** Directories recorded while rsync ran (and still as they were after it). */
  readonly live: number;
}

/** What an incremental needs of its base's manifest: what a delta refers to and, to write a whole one, its text. */
export interface BaseManifest {
  readonly ref: BaseRef;
  /** 0 for a whole manifest; a delta's depth. */
  readonly depth: number;
  /** The whole text, read only when the new manifest is to be whole (its base ends a chain of MAX_DELTA_DEPTH deltas). */
  readonly body: ManifestBody | null;
}

export async function recordManifest(request: RecordRequest): Promise<Recorded> {
  try {
    return await recordWith(request);
  } finally {
    await request.live?.close();
  }
}

async function recordWith(request: RecordRequest): Promise<Recorded> {
  const root = join(request.snapshotsDir, request.dir);
  const path = manifestPath(request.snapshotsDir, request.dir);
  const header = (built: { hashed: number; reused: number }): ManifestHeader => ({
    snapshot: request.name,
    created: request.now.toISOString(),
    recorded: request.recorded,
    hashed: built.hashed,
    reused: built.reused,
  });
  const recorded = (
    done: ManifestHeader,
    figures: Pick<Recorded, 'entries' | 'hashedBytes' | 'patched' | 'early'> & Partial<Pick<Recorded, 'live'>>,
  ) => ({
    path,
    recorded: done.recorded,
    hashed: done.hashed,
    reused: done.reused,
    deltaOn: null,
    live: 0,
    ...figures,
  });
  const changes = request.changes ?? null;
  if (changes !== null && request.baseDir !== null) {
    const basePromise = request.base ?? readBaseManifest(request.snapshotsDir, request.baseDir);
    // The changed entries are looked at and read while the base's manifest is still being read.
    const changed = await changedEntries(root, changes);
    const base = await basePromise;
    if (base !== null && base.body === null) return writeDelta(request, base, changed);
    if (base?.body) {
      const patched = patchText(base.body, changed);
      const done = header(patched);
      await writeManifestBody(path, done, patched.body);
      return recorded(done, { entries: patched.entries, hashedBytes: patched.hashedBytes, patched: true, early: 0 });
    }
  }
  // A base without a (sound) manifest: everything is read, as without a base.
  const base =
    changes !== null || request.baseDir === null ? null : await readBase(request.snapshotsDir, request.baseDir);
  if (base === null) {
    // Everything is read (a full backup, or a base without a manifest): by whole directories, on worker threads.
    const tree = await recordTree(root, { early: request.early?.byPath() ?? null, live: request.live ?? null });
    const done = header({ hashed: tree.hashed, reused: 0 });
    await writeManifestTexts(path, done, tree.texts, tree.lineCounts);
    // Files hashed while rsync ran were read by this backup all the same, only sooner: hashed, not reused.
    return recorded(done, {
      entries: tree.entries,
      hashedBytes: tree.hashedBytes,
      patched: false,
      early: tree.early,
      live: tree.live,
    });
  }
  const built = await walkedLines(root, join(request.snapshotsDir, request.baseDir!), base);
  const done = header(built);
  await writeManifestLines(path, done, built.lines);
  return recorded(done, { entries: built.lines.length, hashedBytes: built.hashedBytes, patched: false, early: 0 });
}

/** The changes written as a delta on the base's manifest: nothing of the base's is read or written. */
async function writeDelta(request: RecordRequest, base: BaseManifest, changed: ChangedEntries): Promise<Recorded> {
  const path = deltaPath(request.snapshotsDir, request.dir);
  const text = encodeDelta({
    header: {
      snapshot: request.name,
      created: request.now.toISOString(),
      recorded: request.recorded,
      hashed: changed.hashed,
      base: base.ref,
      depth: base.depth + 1,
    },
    changed,
  });
  await writeFileAtomic(path, await promisify(gzip)(text, { level: 1 }));
  return {
    path,
    recorded: request.recorded,
    hashed: changed.hashed,
    reused: null,
    entries: changed.added.length + changed.removed.size,
    hashedBytes: changed.hashedBytes,
    patched: true,
    early: 0,
    deltaOn: base.ref.dir,
    live: 0,
  };
}

/**
 * What an incremental needs of the manifest of the snapshot `baseDir` (`BaseManifest`); null when
 * it has none or a damaged one. An incremental starts this as its pull begins (link-dest.ts): the
 * base's manifest never changes meanwhile, as the run holds the source's lock and the base is not
 * expired before the new snapshot exists. Never rejects.
 */
export async function readBaseManifest(snapshotsDir: string, baseDir: string): Promise<BaseManifest | null> {
  const found = await manifestRef(snapshotsDir, baseDir);
  if (found === null) return null;
  if (found.depth < MAX_DELTA_DEPTH) return { ...found, body: null };
  try {
    const body = await storedManifestBody(snapshotsDir, baseDir);
    return body === null ? null : { ...found, body };
  } catch {
    return null;
  }
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
    return await readStoredManifest(snapshotsDir, baseDir);
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
    const read =
      `${done.hashed} files hashed (${done.hashedBytes} bytes` +
      `${done.early > 0 ? `, ${done.early} files while rsync ran` : ''}` +
      `${done.live > 0 ? `, ${done.live} directories recorded while rsync ran` : ''})`;
    log.info(
      done.deltaOn === null
        ? `Recorded the manifest of ${request.name}: ${done.entries} entries, ${read}, ${done.reused} reused from the base` +
            `${done.patched ? " (the dry run's changes only)" : ''}, in ${Date.now() - began} ms`
        : `Recorded the manifest of ${request.name} as a delta on that of ${done.deltaOn}: ${done.entries} entries ` +
            `changed or removed, ${read}, in ${Date.now() - began} ms`,
    );
  } catch (error) {
    log.error(
      `Cannot record the manifest of ${request.name}: ${error instanceof Error ? error.message : String(error)}; ` +
        'the snapshot is kept without one',
    );
  }
}
