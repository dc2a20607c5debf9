import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import { compareEntry, parseManifestLine, type ManifestEntry, type TreeProblem } from '../turku/manifest.js';
import { shareKit, type ShareDeps } from './tree-share-kit.js';
import { verifyShare, type ShareResult } from './tree-verify-share.js';

/**
 * A full verify of a large tree on worker threads, one per core (docs/datapath.md, "Manifests and
 * verify"): each worker walks, hashes and compares its share of the directories straight from the
 * manifest's text (tree-verify-share.ts), so the main thread neither parses the manifest nor walks
 * the tree; it only says what the differing lines mean. The worker's code is `verifyShare`'s
 * source run with `eval`, so the workload's single-file bundles need no second file.
 */

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const shareKit = (${shareKit.toString()});
const verifyShare = (${verifyShare.toString()});
parentPort.once('message', ({ data, bodyStart }) => {
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8', bodyStart);
  const deps = { fs: require('node:fs'), crypto: require('node:crypto') };
  parentPort.postMessage(verifyShare(deps, shareKit(deps), { ...workerData, body }));
});
`;

const MAX_WORKERS = 4;

export interface PoolCheck {
  readonly checkedFiles: number;
  readonly checkedBytes: number;
  readonly problems: TreeProblem[];
}

export interface VerifyWorkers {
  /**
   * `root` against the manifest whose text is `data` (UTF-8), its entry lines from byte
   * `bodyStart` on, line `firstLineNumber` of the file (for the error of a damaged line: a
   * ManifestFormatError). Unsorted problems.
   */
  check(data: Uint8Array, bodyStart: number, firstLineNumber: number): Promise<PoolCheck>;
  /** Ends the workers (a manifest found damaged before `check`). */
  stop(): Promise<void>;
}

/**
 * Starts the workers for a verify of `root`, before the manifest is read: they start (tens of
 * ms each) while the main thread reads and gunzips it.
 */
export function startVerifyWorkers(root: string, shares = defaultShares()): VerifyWorkers {
  const workers = Array.from({ length: shares }, (_, share) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { root, share, shares } });
    const result = new Promise<ShareResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`verify worker exited with status ${code}`)));
    });
    result.catch(() => undefined); // Waited for by check(); not when stopped.
    return { worker, result };
  });
  return {
    async check(data, bodyStart, firstLineNumber) {
      // One copy the workers share, not one each: a manifest of a million entries is over 100 MB.
      const shared = new Uint8Array(new SharedArrayBuffer(data.length));
      shared.set(data);
      for (const { worker } of workers) worker.postMessage({ data: shared, bodyStart });
      return merge(await Promise.all(workers.map(({ result }) => result)), firstLineNumber);
    },
    async stop() {
      await Promise.all(workers.map(({ worker }) => worker.terminate()));
    },
  };
}

/** `startVerifyWorkers(...).check` with the shares run here, one after the other (tests). */
export function verifyInThread(
  root: string,
  body: string,
  firstLineNumber: number,
  shares: number,
  deps: ShareDeps = { fs, crypto },
): PoolCheck {
  const results = Array.from({ length: shares }, (_, share) =>
    verifyShare(deps, shareKit(deps), { root, body, share, shares }),
  );
  return merge(results, firstLineNumber);
}

function defaultShares(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_WORKERS));
}

function merge(results: readonly ShareResult[], firstLineNumber: number): PoolCheck {
  let checkedFiles = 0;
  let checkedBytes = 0;
  const problems: TreeProblem[] = [];
  const unreadableDirs: string[] = [];
  for (const result of results) {
    checkedFiles += result.checkedFiles;
    checkedBytes += result.checkedBytes;
    for (const { path, detail, directory } of result.unreadable) {
      problems.push({ path, kind: 'unreadable', detail });
      if (directory) unreadableDirs.push(path);
    }
    for (const { lineNumber, expected, found } of result.differences) {
      const want = expected === null ? null : parseManifestLine(expected, firstLineNumber + lineNumber! - 1);
      const seen = found === null ? null : parseManifestLine(found, 0);
      const problem = describeDifference(want, seen);
      if (problem !== null) problems.push(problem);
    }
  }
  // What lies under a directory that could not be listed is not reported (a walk does not get there).
  const under = (path: string) => unreadableDirs.some((dir) => dir === '' || path.startsWith(`${dir}/`));
  return {
    checkedFiles,
    checkedBytes,
    problems: unreadableDirs.length === 0 ? problems : problems.filter((p) => p.path === '' || !under(p.path)),
  };
}

function describeDifference(want: ManifestEntry | null, found: ManifestEntry | null): TreeProblem | null {
  if (want === null && found !== null)
    return { path: found.path, kind: 'extra', detail: `not in the manifest (${found.type}, ${found.size} bytes)` };
  if (want !== null && found === null)
    return { path: want.path, kind: 'missing', detail: `${want.type}, ${want.size} bytes` };
  return want !== null && found !== null ? compareEntry(want, found) : null;
}
