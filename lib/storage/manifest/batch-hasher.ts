import { Worker } from 'node:worker_threads';

import { startNiced } from '../../common/thread-nice.js';

/**
 * One worker thread that hashes batches of files while the program goes on (early-hash.ts: the
 * files of a full backup, while rsync runs). For each file it opens it, reads and hashes the
 * content and takes `fstat` after the read: a hash comes back only when the file's identity and
 * times then are those the caller saw before (its `lstat`), so a file changed meanwhile is never
 * taken for one read whole. The code is a string run with `eval`, as in lib/common/hash-pool.ts,
 * so the workload's single-file bundles need no second file.
 *
 * The thread runs at the lowest priority (nice 19, from its creation: lib/common/thread-nice.ts
 * `startNiced`): it hashes with the CPU time that rsync, sshd and the rest leave idle, instead of
 * taking it from the pull (docs/datapath.md, "Manifests and verify", has the figures). What is still queued when rsync ends is hashed by
 * the same thread, then on a machine with nothing else to do or, on a busy storage, after more
 * urgent work: handing it to the manifest's threads instead made A's full backup slower.
 */

export interface StatKey {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** The five fields alone (a whole `BigIntStats` costs several times the memory, per file of a large tree). */
export function statKey(s: StatKey): StatKey {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

/** The hash; null: unreadable, or not the file (or not its content) the caller's stats describe. */
export type BatchResult = string | null;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, fstatSync, openSync, readSync } = require('node:fs');
const buffer = Buffer.allocUnsafe(1 << 20);
const same = (a, b) => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
parentPort.on('message', ({ id, files }) => {
  const results = files.map(({ path, before }) => {
    let fd;
    try {
      fd = openSync(path, 'r');
      const hash = createHash('sha256');
      for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null))
        hash.update(buffer.subarray(0, n));
      return same(before, fstatSync(fd, { bigint: true })) ? hash.digest('hex') : null;
    } catch {
      return null;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  });
  parentPort.postMessage({ id, results });
});
`;

/** The worker's nice value: the lowest priority there is. */
export const HASHER_NICE = 19;

export class BatchHasher {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, (results: BatchResult[]) => void>();
  private next = 0;

  /** The hashes of the files (absolute paths, with their stats before), in their order. */
  hash(files: readonly { readonly path: string; readonly before: StatKey }[]): Promise<BatchResult[]> {
    const worker = this.start();
    const id = this.next++;
    const message = {
      id,
      files: files.map(({ path, before }) => ({ path, before: statKey(before) })),
    };
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage(message);
    });
  }

  /** Ends the worker (the caller has its batches back first). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = startNiced(HASHER_NICE, () => new Worker(WORKER, { eval: true }));
    worker.on('message', ({ id, results }: { id: number; results: BatchResult[] }) => {
      this.waiting.get(id)?.(results);
      this.waiting.delete(id);
    });
    // A worker that fails leaves its batches to the manifest's walk, which reads what has no hash.
    const fail = () => {
      for (const resolve of this.waiting.values()) resolve([]);
      this.waiting.clear();
      if (this.worker === worker) this.worker = null;
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    this.worker = worker;
    return worker;
  }
}
