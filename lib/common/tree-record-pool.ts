import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { shareKit, type ShareDeps } from './tree-share-kit.js';
import { recordDirectory, type DirectoryRecord, type EarlyHash } from './tree-record-share.js';

/**
 * A whole tree's manifest lines, recorded by directories (docs/datapath.md, "Manifests and
 * verify"): each directory is listed, its entries' status taken and its files hashed by one
 * thread at once (tree-record-share.ts), which gives back the directory's lines as text and its
 * subdirectories. The main thread only hands out directories and puts their texts in a walk's
 * order; it walks nothing and builds no object per entry.
 *
 * The first directories are recorded here, with synchronous calls, until they come to
 * `IN_THREAD_ENTRIES` entries or `IN_THREAD_BYTES` hashed: a small tree is done before worker
 * threads (tens of ms each to start) would be; the rest goes to a worker per core, each given the
 * next directory as soon as it sends one back. The worker's code is the functions' source run
 * with `eval`, so the workload's single-file bundles need no second file.
 */

const IN_THREAD_ENTRIES = 2000;
const IN_THREAD_BYTES = 32 << 20;
const MAX_WORKERS = 4;
/** Directories given to a worker ahead of its results, so that it does not wait for the next. */
const AHEAD = 2;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const shareKit = (${shareKit.toString()});
const recordDirectory = (${recordDirectory.toString()});
const deps = { fs: require('node:fs'), crypto: require('node:crypto') };
const kit = shareKit(deps);
parentPort.on('message', (dir) => {
  parentPort.postMessage(recordDirectory(deps, kit, { root: workerData.root, early: workerData.early, dir }));
});
`;

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
  while (next < queue.length) {
    const budget = workers === 0 ? undefined : { entries: IN_THREAD_ENTRIES - entries, bytes: IN_THREAD_BYTES - bytes };
    const record = recordDirectory(deps, kit, { root, dir: queue[next]!, early, ...(budget ? { budget } : {}) });
    if (record.overBudget) break;
    next++;
    keep(record);
    entries += record.entries;
    bytes += record.hashedBytes;
  }
  if (next < queue.length) await onWorkers(root, early, workers, queue, next, keep);
  return inWalkOrder(records);
}

/** Hands out the directories of `queue` from `next` on, and those they hold, until none is left. */
async function onWorkers(
  root: string,
  early: ReadonlyMap<string, EarlyHash> | null,
  count: number,
  queue: string[],
  start: number,
  keep: (record: DirectoryRecord) => void,
): Promise<void> {
  let next = start;
  const workers = Array.from({ length: count }, () => new Worker(WORKER, { eval: true, workerData: { root, early } }));
  try {
    await new Promise<void>((resolve, reject) => {
      let pending = 0;
      const feed = (worker: Worker, inFlight: { n: number }) => {
        while (inFlight.n < AHEAD && next < queue.length) {
          worker.postMessage(queue[next++]);
          inFlight.n++;
          pending++;
        }
        if (pending === 0) resolve();
      };
      const states = workers.map((worker) => ({ worker, inFlight: { n: 0 } }));
      for (const { worker, inFlight } of states) {
        worker.on('message', (record: DirectoryRecord) => {
          inFlight.n--;
          pending--;
          if (record.error !== null) {
            reject(new Error(record.error));
            return;
          }
          keep(record);
          // Its subdirectories may be for any worker that waits.
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
