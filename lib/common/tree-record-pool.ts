import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { shareKit, type ShareDeps } from './tree-share-kit.js';
import {
  hashDeferred,
  recordDirectory,
  type DeferredFile,
  type DirectoryRecord,
  type EarlyHash,
} from './tree-record-share.js';

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
 * one back. The worker's code is the functions' source run with `eval`, so the workload's
 * single-file bundles need no second file.
 */

const IN_THREAD_ENTRIES = 2000;
const IN_THREAD_BYTES = 32 << 20;
const MAX_WORKERS = 4;
/** Directories given to a worker ahead of its results, so that it does not wait for the next. */
const AHEAD = 2;

/** Files of this size and more are hashed one by one, not with their directory: a directory of large files is shared out too. */
const DEFER_FROM = 1 << 20;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const shareKit = (${shareKit.toString()});
const recordDirectory = (${recordDirectory.toString()});
const hashDeferred = (${hashDeferred.toString()});
const deps = { fs: require('node:fs'), crypto: require('node:crypto') };
const kit = shareKit(deps);
const { root, early, deferFrom } = workerData;
parentPort.on('message', (job) => {
  if (job.dir !== undefined) parentPort.postMessage({ record: recordDirectory(deps, kit, { root, early, dir: job.dir, deferFrom }) });
  else parentPort.postMessage({ id: job.id, result: hashDeferred(deps, kit, root, job.file) });
});
`;

type Job = { readonly dir: string } | { readonly id: number; readonly file: DeferredFile };
type Reply =
  | { readonly record: DirectoryRecord }
  | { readonly id: number; readonly result: { readonly sha256: string } | { readonly error: string } };

export interface RecordedTree {
  /** The entries' lines in a walk's order (lib/common/tree-manifest.ts `walkTree`), by directory: each text ends with LF. */
  readonly texts: string[];
  /** Lines in each of `texts`. */
  readonly lineCounts: number[];
  readonly entries: number;
  /** Files and symlinks hashed, those whose early hash was taken among them. */
  readonly hashed: number;
  readonly hashedBytes: number;
  readonly early: number;
}

export interface RecordTreeOptions {
  /** Hashes made while rsync ran, by path relative to the root: taken for a file still the one read. */
  readonly early?: ReadonlyMap<string, EarlyHash> | null;
  /** Worker threads (default: one per core, at most 4); 0: everything here (tests). */
  readonly workers?: number;
  readonly deps?: ShareDeps;
  /** What is recorded here before the workers start (tests: none). */
  readonly inThread?: { readonly entries: number; readonly bytes: number };
}

/** The manifest lines of the tree at `root`; throws with the first thing that could not be read. */
export async function recordTree(root: string, options: RecordTreeOptions = {}): Promise<RecordedTree> {
  const early = options.early ?? null;
  const deps = options.deps ?? { fs, crypto };
  const kit = shareKit(deps);
  const records = new Map<string, DirectoryRecord>();
  const queue: string[] = [''];
  let next = 0;
  let entries = 0;
  let bytes = 0;
  const keep = (record: DirectoryRecord) => {
    if (record.error !== null) throw new Error(record.error);
    records.set(record.dir, record);
    for (const dir of record.subdirs) queue.push(dir);
  };
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
  if (next < queue.length) await onWorkers(root, early, workers, queue, next, keep, records);
  return inWalkOrder(records);
}

/**
 * Hands out the directories of `queue` from `start` on, those they hold, and the large files they
 * hold (largest first, each to a worker with nothing else to do), until none is left; then puts
 * the large files' hashes in their directories' lines.
 */
async function onWorkers(
  root: string,
  early: ReadonlyMap<string, EarlyHash> | null,
  count: number,
  queue: string[],
  start: number,
  keep: (record: DirectoryRecord) => void,
  records: Map<string, DirectoryRecord>,
): Promise<void> {
  let next = start;
  const files: { id: number; file: DeferredFile }[] = [];
  const owners: { dir: string; index: number }[] = [];
  const hashes: string[] = [];
  const workerData = { root, early, deferFrom: DEFER_FROM };
  const workers = Array.from({ length: count }, () => new Worker(WORKER, { eval: true, workerData }));
  try {
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
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
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
function inWalkOrder(records: ReadonlyMap<string, DirectoryRecord>): RecordedTree {
  const texts: string[] = [];
  const lineCounts: number[] = [];
  let entries = 0;
  let hashed = 0;
  let hashedBytes = 0;
  let early = 0;
  const stack = [''];
  while (stack.length > 0) {
    const record = records.get(stack.pop()!)!;
    if (record.entries > 0) {
      texts.push(record.text);
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
