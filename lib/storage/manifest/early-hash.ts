import { lstatSync, type BigIntStats, type Stats } from 'node:fs';
import { join } from 'node:path';

import { sizedFileName } from '../../common/rsync-sized-name.js';
import { type EarlyHash } from '../../common/tree-record-share.js';
import { BatchHasher, statKey, type StatKey } from './batch-hasher.js';

/**
 * Hashes the files of a full backup while rsync still transfers the rest (docs/datapath.md,
 * "Manifests and verify"), so that the manifest afterwards reads almost nothing.
 *
 * rsync names each entry, after its size (`--verbose` with lib/storage/snapshots/rsync.ts
 * `SIZED_NAME_FORMAT`), as it starts on it, and writes a file to a temporary name that it renames
 * to the real one only once the content and the times are set; the receiver takes the files in
 * the order it names them. So a named file that exists under its name is finished, and one still
 * missing when a later one is finished will not come (a file that vanished): it is dropped. The
 * finished files go, in batches, to a worker thread (batch-hasher.ts) that reads each with
 * synchronous calls and keeps a hash only when the file's device, inode, size, mtime and ctime
 * after the read are those its `lstat` here showed before; the manifest takes it only for a file
 * whose status (lib/common/tree-record-share.ts) still shows all five, so anything that touched
 * the file since is read again.
 *
 * Only files of `minBytes` and more. Small files hashed here too cost the storage more CPU in all
 * (a full backup of 50,000 files of 128 B-4 kB: 3.45 CPU-s in its node processes, against 2.07
 * when they are left to the manifest after rsync) and slowed the backup: the manifest's threads,
 * which open them after rsync anyway for their status, hash them for less.
 */

interface Early {
  readonly stats: StatKey;
  readonly sha256: string;
}

/** The smallest file hashed here; the smaller ones are left to the manifest's directories (lib/common/tree-record-live-pool.ts). */
export const EARLY_MIN_BYTES = 64 * 1024;
/** A batch goes to the worker at this many files or bytes, or as soon as the loop waits for rsync. */
const BATCH_FILES = 256;
const BATCH_BYTES = 16 << 20;
/** How far past a missing name to look for a finished one, and how long to wait before looking again. */
const LOOK_AHEAD = 64;
const POLL_MS = 50;
/** Names taken before the event loop gets a turn. */
const NAMES_PER_TURN = 256;

export class EarlyHasher {
  /** The names offered; those before `head` are done with (a queue without a copy per name taken). */
  private named: string[] = [];
  private head = 0;
  private readonly hashed = new Map<string, Early>();
  private readonly hasher = new BatchHasher();
  private batch: { path: string; stats: BigIntStats }[] = [];
  private batchBytes = 0;
  private readonly inFlight: Promise<void>[] = [];
  private running: Promise<void> = Promise.resolve();
  /** Cleared synchronously when the loop ends, so a name offered after that starts another. */
  private draining = false;
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly minBytes = EARLY_MIN_BYTES,
  ) {}

  /**
   * One line of rsync's output: an entry's size and name relative to the tree (rsync.ts
   * `SIZED_NAME_FORMAT`), or anything else. A file smaller than `minBytes` is passed over here,
   * unlooked at: on B's 50,000 small files, an `lstat` of each name cost 0.15 CPU-s while rsync ran.
   */
  offer(line: string): void {
    if (this.stopped) return;
    const file = sizedFileName(line);
    if (file === null || file.size < this.minBytes) return;
    this.named.push(file.name);
    if (!this.draining) {
      this.draining = true;
      this.running = this.drain();
    }
  }

  /** Stops (the files not yet sent are left to the manifest) and says what was hashed. */
  async finish(): Promise<EarlyHashes> {
    this.stopped = true;
    await this.running;
    await Promise.all(this.inFlight);
    await this.hasher.close();
    return new EarlyHashes(this.hashed);
  }

  /**
   * The named files in order, each once it exists; waits for the first missing one. Every name
   * costs an `lstat` (to see whether it is there yet), so the names that are ready are taken many
   * to a turn of the event loop, with the plain (not bigint) status.
   */
  private async drain(): Promise<void> {
    while (!this.stopped && this.head < this.named.length) {
      let taken = 0;
      while (taken < NAMES_PER_TURN && this.head < this.named.length) {
        const ready = this.nextReady();
        if (ready < 0) break;
        // Those before it are not coming (see above).
        const path = this.named[ready]!;
        this.head = ready + 1;
        taken++;
        const stats = this.readyStats;
        if (stats !== null && stats.isFile() && stats.size >= this.minBytes) {
          const full = statOrNull(join(this.root, path), true);
          if (full !== null && full.isFile()) this.add(path, full);
        }
      }
      this.compact();
      if (taken === 0) {
        this.send(); // what is ready is read while rsync works on the file awaited
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      // A turn for the event loop: rsync's output, the worker's results.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (!this.stopped) this.send();
    // Right as the loop ends (nothing here throws): a name offered from now on starts another.
    this.draining = false;
  }

  /** The status `nextReady` found. */
  private readyStats: Stats | null = null;

  /** The index of the first of the next `LOOK_AHEAD` names that exists (its status in `readyStats`), or -1. */
  private nextReady(): number {
    for (let i = this.head; i < this.named.length && i < this.head + LOOK_AHEAD; i++) {
      // Sync: one cheap call, where a trip through the thread pool would cost several times more.
      const stats = statOrNull(join(this.root, this.named[i]!), false);
      if (stats !== null) {
        this.readyStats = stats;
        return i;
      }
    }
    return -1;
  }

  /** Drops the names done with, once they are most of the queue. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.named.length) {
      this.named = this.named.slice(this.head);
      this.head = 0;
    }
  }

  private add(path: string, stats: BigIntStats): void {
    this.batch.push({ path, stats });
    this.batchBytes += Number(stats.size);
    if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) this.send();
  }

  private send(): void {
    if (this.batch.length === 0) return;
    const files = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const jobs = files.map(({ path, stats }) => ({ path: join(this.root, path), before: statKey(stats) }));
    const done = this.hasher.hash(jobs).then((results) => {
      files.forEach(({ path }, k) => {
        const sha256 = results[k];
        if (sha256) this.hashed.set(path, { stats: jobs[k]!.before, sha256 }); // else read again by the manifest
      });
    });
    this.inFlight.push(done);
  }
}

function statOrNull(path: string, bigint: true): BigIntStats | null;
function statOrNull(path: string, bigint: false): Stats | null;
function statOrNull(path: string, bigint: boolean): Stats | BigIntStats | null {
  try {
    return lstatSync(path, { bigint, throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // e.g. ENOTDIR: not a finished file's name
  }
}

function sameFile(a: StatKey, b: StatKey): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** What an `EarlyHasher` hashed, as the manifest's `reuse`. */
export class EarlyHashes {
  constructor(private readonly hashed: ReadonlyMap<string, Early>) {}

  get size(): number {
    return this.hashed.size;
  }

  /** All of them, for the manifest's worker threads (lib/common/tree-record-share.ts checks the identity). */
  byPath(): Map<string, EarlyHash> {
    const all = new Map<string, EarlyHash>();
    for (const [path, { stats, sha256 }] of this.hashed) all.set(path, { ...stats, sha256 });
    return all;
  }

  /** The hash of the file at `path` when it is still the file that was read (same dev, inode, size, mtime, ctime). */
  reuse(path: string, stats: BigIntStats): string | null {
    const early = this.hashed.get(path);
    return early !== undefined && sameFile(early.stats, stats) ? early.sha256 : null;
  }
}
