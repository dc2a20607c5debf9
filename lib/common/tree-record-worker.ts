import { Worker } from 'node:worker_threads';

import { MEMBER_GZIP } from './manifest-file.js';
import { startNiced } from './thread-nice.js';
import { checkLive, recordLive } from './tree-record-live.js';
import { hashDeferred, recordDirectory, type EarlyHash } from './tree-record-share.js';
import { shareKit } from './tree-share-kit.js';

/**
 * The manifest's worker threads (docs/datapath.md, "Manifests and verify"): those `recordTree`
 * hands directories and large files to after rsync (tree-record-pool.ts), and those that record
 * directories while rsync runs (tree-record-live-pool.ts), which go on with the rest after it.
 * The worker's code is the functions' source run with `eval`, so the workload's single-file
 * bundles need no second file.
 */

/** Files of this size and more are hashed one by one, not with their directory: a directory of large files is shared out too. */
const DEFER_FROM = 1 << 20;

/**
 * The nice value of a worker started while rsync runs: the lowest priority, so that it takes only
 * the CPU time the pull leaves idle; with Linux's SCHED_IDLE policy too (thread-nice.ts).
 */
const LIVE_NICE = 19;

/**
 * A worker takes `{ dir }` (a directory to record) and `{ id, file }` (a large file to hash) from
 * `recordTree`. One started while rsync runs (tree-record-live-pool.ts) also takes
 * `{ live }` (a directory rsync is done with: recorded and kept, unless rsync has ended since, as
 * `ended[0]` tells) and then one `{ check }` (the tree's root now and the early hashes: its kept
 * directories checked, sent back as records or as stale); `{ ping }` is answered once what came
 * before it is done.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const shareKit = (${shareKit.toString()});
const recordDirectory = (${recordDirectory.toString()});
const hashDeferred = (${hashDeferred.toString()});
const recordLive = (${recordLive.toString()});
const checkLive = (${checkLive.toString()});
const deps = { fs: require('node:fs'), crypto: require('node:crypto') };
const kit = shareKit(deps);
let { root, early, deferFrom, minBytes, ended, memberGzip } = workerData;
const compress = memberGzip === null ? null : (text) => require('node:zlib').gzipSync(text, memberGzip);
const kept = [];
parentPort.on('message', (job) => {
  if (job.live !== undefined) {
    if (Atomics.load(ended, 0) !== 0) return;
    const record = recordLive(deps, kit, { root, dir: job.live, minBytes, compress });
    if (record !== null) kept.push(record);
  } else if (job.check !== undefined) {
    ({ root, early } = job.check);
    const records = [];
    const stale = [];
    for (const record of kept.splice(0)) {
      const checked = checkLive(deps, kit, { root, record, early });
      if (checked === null) stale.push(record.dir);
      else records.push(checked);
    }
    parentPort.postMessage({ checked: records, stale });
  } else if (job.ping !== undefined) parentPort.postMessage({ pong: job.ping });
  else if (job.dir !== undefined) parentPort.postMessage({ record: recordDirectory(deps, kit, { root, early, dir: job.dir, deferFrom }) });
  else parentPort.postMessage({ id: job.id, result: hashDeferred(deps, kit, root, job.file) });
});
`;

/** A worker of the manifest's pool; `live` for one started while rsync runs. */
export function recordWorker(
  data: { root: string; early: ReadonlyMap<string, EarlyHash> | null },
  live?: { minBytes: number; ended: Int32Array },
): Worker {
  const workerData = {
    ...data,
    deferFrom: DEFER_FROM,
    minBytes: live?.minBytes ?? 0,
    ended: live?.ended ?? new Int32Array(1),
    // A directory recorded while rsync runs is compressed then too, as the manifest file writes it.
    memberGzip: live === undefined ? null : MEMBER_GZIP,
  };
  const start = () => new Worker(WORKER, { eval: true, workerData });
  return live === undefined ? start() : startNiced(LIVE_NICE, start, { idlePolicy: true });
}
