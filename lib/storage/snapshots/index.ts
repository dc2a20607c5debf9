/**
 * The storage's snapshot engines (docs/datapath.md, "Pulling with rsync" to "Retention on the
 * storage") and its restore helpers (docs/datapath.md, "Restores").
 *
 *   runSnapshotMode(mode, job): Promise<SnapshotOutcome>
 *     Pulls `job.remote.url` (rsync://user@127.0.0.1:P/source/) into `job.machineDir` and makes
 *     the snapshot of `mode`, then applies the descriptor's retention. It does not throw:
 *     any failure (rsync or borg exit status, a full disk, ...) is `success: false` with a
 *     summary, and never touches an earlier snapshot or `latest`.
 *       link-dest  snapshot = new directory name; summary = `Base snapshot: …⏎` + retention lines
 *       none       snapshot = summary = null
 *       borg       snapshot = archive name; summary = `Archive stats: …⏎` + retention lines
 *                  (a borg list/delete/compact failure after the archive is made still names it)
 *     The caller holds the machine's lock and has validated the source name.
 *
 *   resolveRestoreTree(request): Promise<RestoreTree>   the directory to push for `latest` or a name
 *   pushRestore(push): Promise<RsyncResult>             rsync it into the agent's restore module
 */
import { errorMessage } from '../../common/errors.js';
import { runBorgMode } from './borg.js';
import { runLinkDest } from './link-dest.js';
import { runNone } from './none.js';
import { type SnapshotJob, type SnapshotMode, type SnapshotOutcome } from './types.js';

export type { SnapshotJob, SnapshotLog, SnapshotMode, SnapshotOutcome, SnapshotSettings } from './types.js';
export { rsyncUrl, type RsyncResult } from './rsync.js';
export {
  pushRestore,
  resolveRestoreTree,
  RestoreError,
  type RestorePush,
  type RestoreRequest,
  type RestoreTree,
} from './restore.js';
export { manifestToSend } from './restore-manifest.js';

const ENGINES: Record<SnapshotMode, (job: SnapshotJob) => Promise<SnapshotOutcome>> = {
  'link-dest': runLinkDest,
  none: runNone,
  borg: runBorgMode,
};

export async function runSnapshotMode(mode: SnapshotMode, job: SnapshotJob): Promise<SnapshotOutcome> {
  try {
    return await ENGINES[mode](job);
  } catch (error) {
    // E.g. the machine directory unwritable or full before anything was made: report, don't crash the session.
    job.log.error(`${mode} snapshot of ${job.source} failed: ${error instanceof Error ? error.stack : String(error)}`);
    return { success: false, snapshot: null, summary: `Snapshot failed: ${errorMessage(error)}` };
  }
}
