import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of many files (or symlink targets) at once, on worker threads: each worker reads its
 * share of the files with 1 MiB synchronous reads and hashes them with OpenSSL, so every core
 * hashes and small files cost no round trip through the event loop. The code is a string run
 * with `eval`, so the workload's single-file bundles need no second file.
 */

export interface HashJob {
  /** Absolute. */
  readonly path: string;
  readonly symlink: boolean;
  readonly size: number;
}

export type HashResult = { readonly sha256: string } | { readonly error: string };

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync, readlinkSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(1 << 20);
const results = workerData.map(({ path, symlink }) => {
  try {
    const hash = createHash('sha256');
    if (symlink) return { sha256: hash.update(readlinkSync(path, { encoding: 'buffer' })).digest('hex') };
    const fd = openSync(path, 'r');
    try {
      for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null))
        hash.update(buffer.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    return { sha256: hash.digest('hex') };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
});
parentPort.postMessage(results);
`;

/** What opening and reading a file costs beside its bytes, for sharing the work out evenly. */
const PER_FILE_BYTES = 64 * 1024;
const MAX_WORKERS = 4;

/** The hashes of `jobs`, in their order. */
export async function hashMany(jobs: readonly HashJob[]): Promise<HashResult[]> {
  if (jobs.length === 0) return [];
  const count = Math.max(1, Math.min(availableParallelism(), MAX_WORKERS, jobs.length));
  const shares: { indexes: number[]; load: number }[] = Array.from({ length: count }, () => ({ indexes: [], load: 0 }));
  // Largest first, each to the least loaded worker.
  const order = jobs.map((_, i) => i).sort((a, b) => jobs[b]!.size - jobs[a]!.size);
  for (const i of order) {
    const share = shares.reduce((least, candidate) => (candidate.load < least.load ? candidate : least));
    share.indexes.push(i);
    share.load += jobs[i]!.size + PER_FILE_BYTES;
  }
  const results: HashResult[] = new Array<HashResult>(jobs.length);
  await Promise.all(
    shares.map(async ({ indexes }) => {
      const data = indexes.map((i) => ({ path: jobs[i]!.path, symlink: jobs[i]!.symlink }));
      const hashed = await runWorker(data);
      indexes.forEach((i, k) => (results[i] = hashed[k]!));
    }),
  );
  return results;
}

function runWorker(data: readonly { path: string; symlink: boolean }[]): Promise<HashResult[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: data });
    worker.once('message', (results: HashResult[]) => resolve(results));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`hash worker exited with status ${code}`)));
  });
}
