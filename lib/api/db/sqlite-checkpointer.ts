import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints of the serving SQLite database, off the event loop. A checkpoint copies the
 * pages the WAL has gathered back into the database file and syncs both: for a thousand pages
 * (SQLite's automatic checkpoint) 10-35 ms on a small machine, during which a checkpoint run by a
 * commit on the event loop held up every request. Here a worker thread with its own connection
 * runs a PASSIVE checkpoint (it never waits for or blocks the API's writes) at most every
 * `CHECKPOINT_INTERVAL_MS` after commits, and the serving connection runs none of its own.
 *
 * A PASSIVE checkpoint under steady writes never completes: commits add pages while it copies, and
 * SQLite starts the WAL over only when a write begins after a checkpoint that copied every page.
 * So once the WAL holds `RESTART_PAGES`, the connection's owner holds back new transactions for
 * one checkpoint between two commits (`completeCheckpoint`): the worker copies what the last
 * commits added (its previous checkpoint copied the rest) and the next write starts the WAL over.
 * The event loop keeps serving meanwhile; only database work waits.
 *
 * A worker starved of CPU (a busy machine) finishes its checkpoints late, and the serving
 * connection's own checkpoint is skipped while the worker's runs: the WAL would grow with every
 * commit meanwhile. So once the WAL file is past its bound (`walPastBound`), writes also wait for a
 * late checkpoint to finish and then for a completion, as they would for SQLite's own checkpoint.
 */

export const CHECKPOINT_INTERVAL_MS = 250;
/** WAL pages (4 KiB) past which the next checkpoint is completed: the WAL stays near 16 MiB. */
export const RESTART_PAGES = 4096;
/**
 * A completion after which the WAL did not start over (an admin command was reading an older
 * snapshot) is tried again this much later, not between every two commits.
 */
export const COMPLETION_RETRY_MS = 1000;

/**
 * The worker's V8 heap: it holds one connection and a few small messages. Its own database
 * connection's page cache is small too; a checkpoint reads the WAL, not the cache.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, codeRangeSizeMb: 8, stackSizeMb: 1 };

// The worker's code as text: the API ships as one bundled file, so there is no module to point to.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { timeout: 5000 });
db.exec('PRAGMA cache_size = -256');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.on('message', (message) => {
  if (message === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  parentPort.postMessage({ log: checkpoint.get().log });
});
`;

/** What a PASSIVE checkpoint reports; `log`: the pages in the WAL when it started. */
interface CheckpointResult {
  readonly log: number;
}

export interface Checkpointer {
  /**
   * After a commit: a checkpoint starts unless one runs, or (while the WAL is small) one ran less
   * than the interval ago.
   */
  afterCommit(): void;
  /**
   * Between two commits: a checkpoint to complete, when the WAL has grown past `RESTART_PAGES`;
   * the promise settles once it has run, and no write may begin before. Undefined: none is due.
   */
  completeCheckpoint(): Promise<void> | undefined;
  stop(): Promise<void>;
}

/** Starts the worker for the database at `path`; `onFailure` runs once if it stops working. */
export function startCheckpointer(
  path: string,
  onFailure: () => void,
  restartPages: number = RESTART_PAGES,
  walPastBound: () => boolean = () => false,
): Checkpointer {
  const worker = new Worker(WORKER, { eval: true, workerData: { path }, resourceLimits: WORKER_LIMITS });
  worker.unref();
  let running: (() => void) | undefined;
  let lastStart = 0;
  /** No completion before this time (a failed one was just tried). */
  let completionNotBefore = 0;
  /** The WAL's pages when the last completion ran; fewer since: the WAL started over. */
  let completedAt = Number.POSITIVE_INFINITY;
  let completionDue = false;
  /** The WAL was past an eighth of `restartPages` at the last checkpoint: the next one follows at once. */
  let growing = false;
  let failed = false;
  const fail = () => {
    if (failed) return;
    failed = true;
    running?.();
    running = undefined;
    onFailure();
  };
  let completing = false;
  const start = (whenDone: () => void = () => undefined, completion = false) => {
    running = whenDone;
    completing = completion;
    lastStart = Date.now();
    worker.postMessage('checkpoint');
  };
  worker.on('message', (result: CheckpointResult) => {
    const done = running;
    running = undefined;
    if (completing) {
      completedAt = result.log;
      completionNotBefore = Date.now() + COMPLETION_RETRY_MS;
    } else if (result.log < completedAt) {
      completedAt = Number.POSITIVE_INFINITY;
      completionNotBefore = 0;
    }
    // Even a checkpoint that copied every page it found is followed by commits that added more:
    // only one run while no write can begin lets the next write start the WAL over.
    completionDue = result.log >= restartPages;
    growing = result.log >= restartPages / 8;
    done?.();
  });
  worker.on('error', fail);
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      fail();
      resolve();
    }),
  );
  return {
    afterCommit() {
      if (failed || running !== undefined) return;
      // A completion is due: the commit's owner asks for it next (completeCheckpoint).
      if (completionDue && Date.now() >= completionNotBefore) return;
      if (!growing && Date.now() - lastStart < CHECKPOINT_INTERVAL_MS) return;
      start();
    },
    completeCheckpoint() {
      if (failed) return undefined;
      if (running !== undefined) {
        if (!walPastBound()) return undefined;
        // A late checkpoint and a WAL at its bound: writes wait for it, then for a completion.
        const late = running;
        return new Promise<void>((resolve) => {
          running = () => {
            late();
            if (failed || Date.now() < completionNotBefore) resolve();
            else start(resolve, true);
          };
        });
      }
      if (!completionDue && !walPastBound()) return undefined;
      if (Date.now() < completionNotBefore) return undefined;
      completionDue = false;
      return new Promise<void>((resolve) => start(resolve, true));
    },
    async stop() {
      failed = true;
      running?.();
      running = undefined;
      // Waited for as a live handle: unreferenced, a process with nothing else left to do would
      // exit before the worker does, and whatever the caller does after the stop (closing the
      // main connection, which removes the WAL) would never run.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
