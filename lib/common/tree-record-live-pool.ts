import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';

import { sizedFileName } from './rsync-sized-name.js';
import { recordWorker } from './tree-record-worker.js';
import type { DirectoryRecord, EarlyHash } from './tree-record-share.js';

/**
 * A full backup's manifest recorded by directories while rsync still transfers the rest
 * (docs/datapath.md, "Manifests and verify"; the workers' side is tree-record-live.ts).
 *
 * rsync names the entries of one directory together, each as it starts on it (`<size> <name>`,
 * lib/storage/snapshots/rsync.ts `SIZED_NAME_FORMAT`), and takes them in that order. So once it
 * names a file of a third directory, the one two back is done: that one goes to a worker, which
 * lists it and reads its small files while rsync works on. The workers run at the lowest priority
 * (nice 19, as the early hashes' thread, lib/storage/manifest/batch-hasher.ts, and under
 * SCHED_IDLE, tree-record-worker.ts): they take the CPU time the pull leaves idle, not the pull's.
 * Once rsync has ended, `recordTree` (tree-record-pool.ts) has each worker check its directories
 * (an `lstat` of each directory), takes those still as they were and records the others, with the
 * same workers. Whatever this guessed wrong (a directory rsync came back to, a temporary file
 * listed) costs a directory recorded again, never a wrong line.
 *
 * The workers start only once rsync has named `START_AFTER` files: a smaller tree is recorded
 * after rsync in this thread sooner than a worker would start. They are then sent the directories
 * done with until then too, not only those after.
 */

const START_AFTER = 2000;
const MAX_WORKERS = 4;

export interface CheckedLive {
  /** The directories still as recorded. */
  readonly records: DirectoryRecord[];
  /** The workers, for the rest of the tree (stopped by `close`); null when none was started. */
  readonly workers: Worker[] | null;
}

export class LiveRecording {
  private workers: Worker[] = [];
  /** Set once rsync has ended (the workers read it before each directory). */
  private readonly ended = new Int32Array(new SharedArrayBuffer(4));
  /** A worker failed: nothing recorded while rsync ran is taken. */
  private failed = false;
  private files = 0;
  private current: string | null = null;
  private previous: string | null = null;
  private readonly sent = new Set<string>();
  /** Directories done with, not sent yet (fewer than `startAfter` files named so far). */
  private done: string[] = [];
  private turn = 0;
  private closed = false;

  /**
   * @param root the tree rsync writes
   * @param minBytes files of this size and more are left to the early hashes (early-hash.ts)
   */
  constructor(
    private readonly root: string,
    private readonly minBytes: number,
    private readonly count = Math.max(1, Math.min(availableParallelism(), MAX_WORKERS)),
    private readonly startAfter = START_AFTER,
  ) {}

  /** One line of rsync's output (anything that is not a file's sized name is passed over). */
  offer(line: string): void {
    if (this.closed) return;
    // Directories (named as they are made), symlinks, hard links, escaped names: not a file's progress.
    const name = sizedFileName(line)?.name;
    if (name === undefined) return;
    this.files++;
    const slash = name.lastIndexOf('/');
    const dir = slash < 0 ? '' : name.slice(0, slash);
    if (dir === this.current) return;
    if (this.previous !== null) {
      // Before the workers start, the directories done with wait: once the tree is known to be large, they go too.
      this.done.push(this.previous);
      if (this.files > this.startAfter) {
        for (const done of this.done) this.send(done);
        this.done = [];
      }
    }
    this.previous = this.current;
    this.current = dir;
  }

  /** Rsync has ended: the directories the workers have not begun are left to `recordTree`. */
  pullEnded(): void {
    Atomics.store(this.ended, 0, 1);
  }

  /**
   * The directories recorded, checked against the tree now at `root` (rsync's tree, moved since or
   * not), the early hashes taken for the larger files.
   */
  async check(root: string, early: ReadonlyMap<string, EarlyHash> | null): Promise<CheckedLive> {
    this.pullEnded();
    if (this.failed) await this.close();
    if (this.workers.length === 0) return { records: [], workers: null };
    for (const worker of this.workers) worker.ref();
    const replies = await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<{ checked: DirectoryRecord[] }>((resolve, reject) => {
            worker.once('error', reject);
            worker.once('message', (reply: { checked: DirectoryRecord[] }) => {
              worker.off('error', reject);
              resolve(reply);
            });
            worker.postMessage({ check: { root, early } });
          }),
      ),
    );
    return { records: replies.flatMap((reply) => reply.checked), workers: this.workers };
  }

  /** Once the workers have recorded every directory sent so far (tests). */
  async settled(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise((resolve) => {
            worker.once('message', resolve);
            worker.postMessage({ ping: 1 });
          }),
      ),
    );
  }

  /** Stops the workers (the pull failed, or the manifest is done). */
  async close(): Promise<void> {
    this.closed = true;
    this.pullEnded();
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private send(dir: string): void {
    if (this.sent.has(dir)) return;
    this.sent.add(dir);
    if (this.workers.length === 0) {
      const live = { minBytes: this.minBytes, ended: this.ended };
      this.workers = Array.from({ length: this.count }, () => {
        const worker = recordWorker({ root: this.root, early: null }, live);
        // Not expected (the workers' code catches what a tree can throw); the manifest then reads everything after rsync.
        worker.on('error', () => (this.failed = true));
        // rsync keeps the program alive meanwhile; a run that fails before `check` must not hang on them.
        worker.unref();
        return worker;
      });
    }
    this.workers[this.turn++ % this.workers.length]!.postMessage({ live: dir });
  }
}
