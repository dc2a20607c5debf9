import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';

import type { LiveRecording } from './tree-record-live-pool.js';
import { recordWorker } from './tree-record-worker.js';
import { shareKit, type ShareDeps } from './tree-share-kit.js';
import { recordDirectory, type DeferredFile, type DirectoryRecord, type EarlyHash } from './tree-record-share.js';

/**
 * A whole tree's manifest lines, recorded by directories (docs/datapath.md, "Manifests and
 * verify"): each directory is listed, its entries' status taken and its files hashed by one
 * thread at once (tree-record-share.ts), which gives back the directory's lines as text and its
 * subdirectories. The main thread only hands out directories and puts their texts in a walk's
 * order; it walks nothing and builds no object per entry.
 *
 * The first directories are recorded here, with synchronous calls, until they come to
 * `IN_THREAD_ENTRIES` entries (not counting the files whose early hash is taken: an `lstat` each)
 * or `IN_THREAD_BYTES` read: a small tree is done before worker threads (tens of ms each to start)
 * would be; the rest goes to a worker per core, each given the next directory as soon as it sends
 * one back (tree-record-worker.ts).
 */

const IN_THREAD_ENTRIES = 2000;
const IN_THREAD_BYTES = 32 << 20;
const MAX_WORKERS = 4;
/** Directories given to a worker ahead of its results, so that it does not wait for the next. */
const AHEAD = 2;

type Job = { readonly dir: string } | { readonly id: number; readonly file: DeferredFile };
type Reply =
  | { readonly record: DirectoryRecord }
  | { readonly id: number; readonly result: { readonly sha256: string } | { readonly error: string } };

export interface RecordedTree {
  /**
   * The entries' lines in a walk's order (lib/common/tree-manifest.ts `walkTree`), by directory:
   * each a text ending with LF, or such lines as one gzip member (a directory recorded while rsync
   * ran, tree-record-live.ts); lib/common/manifest-file.ts `writeManifestTexts` writes either.
   */
  readonly texts: (string | Uint8Array)[];
  /** Lines in each of `texts`. */
  readonly lineCounts: number[];
  readonly entries: number;
  /** Files and symlinks hashed, those whose early hash was taken among them. */
  readonly hashed: number;
  readonly hashedBytes: number;
  readonly early: number;
  /** Directories taken as recorded while rsync ran (`live`). */
  readonly live: number;
}

export interface RecordTreeOptions {
  /** Hashes made while rsync ran, by path relative to the root: taken for a file still the one read. */
  readonly early?: ReadonlyMap<string, EarlyHash> | null;
  /** Worker threads (default: one per core, at most 4); 0: everything here (tests). */
  readonly workers?: number;
  readonly deps?: ShareDeps;
  /** What is recorded here before the workers start (tests: none). */
  readonly inThread?: { readonly entries: number; readonly bytes: number };
  /** The directories recorded while rsync ran, checked first; its workers then record the rest (and are stopped). */
  readonly live?: LiveRecording | null;
}

/** The manifest lines of the tree at `root`; throws with the first thing that could not be read. */
export async function recordTree(root: string, options: RecordTreeOptions = {}): Promise<RecordedTree> {
  const early = options.early ?? null;
  const deps = options.deps ?? { fs, crypto };
  const kit = shareKit(deps);
  const live = options.live ?? null;
  try {
    const checked = live === null ? null : await live.check(root, early);
    // Recorded while rsync ran and still as they were: taken as they come up in the walk.
    const ready = new Map((checked?.records ?? []).map((record) => [record.dir, record]));
    const records = new Map<string, DirectoryRecord>();
    const queue: string[] = [];
    let taken = 0;
    const visit = (dir: string) => {
      const record = ready.get(dir);
      if (record === undefined) queue.push(dir);
      else {
        taken++;
        keep(record);
      }
    };
    const keep = (record: DirectoryRecord) => {
      if (record.error !== null) throw new Error(record.error);
      records.set(record.dir, record);
      for (const dir of record.subdirs) visit(dir);
    };
    visit('');
    let next = 0;
    let entries = 0;
    let bytes = 0;
    const workers = options.workers ?? Math.max(1, Math.min(availableParallelism(), MAX_WORKERS));
    const inThread = options.inThread ?? { entries: IN_THREAD_ENTRIES, bytes: IN_THREAD_BYTES };
    while (next < queue.length) {
      const budget = workers === 0 ? undefined : { entries: inThread.entries - entries, bytes: inThread.bytes - bytes };
      const record = recordDirectory(deps, kit, { root, dir: queue[next]!, early, ...(budget ? { budget } : {}) });
      if (record.overBudget) break;
      next++;
      keep(record);
      // What took work: an early hash taken costs an lstat, not a read.
      entries += record.entries - record.early;
      bytes += record.readBytes;
    }
    if (next < queue.length) {
      // The live recording's workers go on with the rest (`live.close` stops them); else, new ones.
      const liveWorkers = checked?.workers ?? null;
      const pool = liveWorkers ?? Array.from({ length: workers }, () => recordWorker({ root, early }));
      try {
        await onWorkers(pool, queue, next, keep, records);
      } finally {
        if (liveWorkers === null) await Promise.all(pool.map((worker) => worker.terminate()));
      }
    }
    return { ...inWalkOrder(records), live: taken };
  } finally {
    await live?.close();
  }
}

/**
 * Hands out the directories of `queue` from `start` on, those they hold, and the large files they
 * hold (largest first, each to a worker with nothing else to do), until none is left; then puts
 * the large files' hashes in their directories' lines.
 */
async function onWorkers(
  workers: readonly Worker[],
  queue: string[],
  start: number,
  keep: (record: DirectoryRecord) => void,
  records: Map<string, DirectoryRecord>,
): Promise<void> {
  let next = start;
  const files: { id: number; file: DeferredFile }[] = [];
  const owners: { dir: string; index: number }[] = [];
  const hashes: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let pending = 0;
    const send = (worker: Worker, inFlight: { n: number }, job: Job) => {
      worker.postMessage(job);
      inFlight.n++;
      pending++;
    };
    const feed = (worker: Worker, inFlight: { n: number }) => {
      while (inFlight.n < AHEAD && next < queue.length) send(worker, inFlight, { dir: queue[next++]! });
      if (inFlight.n === 0 && files.length > 0) {
        const largest = files.reduce((max, job, i) => (job.file.size > files[max]!.file.size ? i : max), 0);
        send(worker, inFlight, files.splice(largest, 1)[0]!);
      }
      if (pending === 0) resolve();
    };
    const states = workers.map((worker) => ({ worker, inFlight: { n: 0 } }));
    for (const { worker, inFlight } of states) {
      worker.on('message', (reply: Reply) => {
        inFlight.n--;
        pending--;
        const error = 'record' in reply ? reply.record.error : 'error' in reply.result ? reply.result.error : null;
        if (error !== null) {
          reject(new Error(error));
          return;
        }
        if ('record' in reply) {
          keep(reply.record);
          reply.record.deferred.forEach((file, index) => {
            files.push({ id: owners.length, file });
            owners.push({ dir: reply.record.dir, index });
          });
        } else if ('sha256' in reply.result) hashes[reply.id] = reply.result.sha256;
        // Its subdirectories and large files may be for any worker that waits.
        for (const state of states) feed(state.worker, state.inFlight);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`manifest worker exited with status ${code}`)));
    }
    for (const { worker, inFlight } of states) feed(worker, inFlight);
  });
  // Each directory's `\0<index>\0` placeholders, replaced by the hashes.
  const byDir = new Map<string, string[]>();
  owners.forEach(({ dir, index }, id) => {
    let dirHashes = byDir.get(dir);
    if (dirHashes === undefined) byDir.set(dir, (dirHashes = []));
    dirHashes[index] = hashes[id]!;
  });
  for (const [dir, dirHashes] of byDir) {
    const record = records.get(dir)!;
    records.set(dir, { ...record, text: record.text.replace(/\0(\d+)\0/g, (_, i: string) => dirHashes[Number(i)]!) });
  }
}

/** Each directory's lines, then its subdirectories' in name order, depth first: a walk's order. */
function inWalkOrder(records: ReadonlyMap<string, DirectoryRecord>): Omit<RecordedTree, 'live'> {
  const texts: (string | Uint8Array)[] = [];
  const lineCounts: number[] = [];
  let entries = 0;
  let hashed = 0;
  let hashedBytes = 0;
  let early = 0;
  const stack = [''];
  while (stack.length > 0) {
    const record = records.get(stack.pop()!)!;
    if (record.entries > 0) {
      texts.push(record.member ?? record.text);
      lineCounts.push(record.entries);
    }
    entries += record.entries;
    hashed += record.hashed;
    hashedBytes += record.hashedBytes;
    early += record.early;
    for (let i = record.subdirs.length - 1; i >= 0; i--) stack.push(record.subdirs[i]!);
  }
  return { texts, lineCounts, entries, hashed, hashedBytes, early };
}
