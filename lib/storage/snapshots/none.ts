import { mkdir } from 'node:fs/promises';

import { workingDir } from './paths.js';
import { pullSource, rsyncFailure, rsyncNote } from './rsync.js';
import { type SnapshotJob, type SnapshotOutcome } from './types.js';

/**
 * none mode (docs/datapath.md, "Snapshot modes"): a mirror, rewritten in place; no snapshots, no
 * retention.
 */
export async function runNone(job: SnapshotJob): Promise<SnapshotOutcome> {
  const mirror = workingDir(job);
  await mkdir(mirror, { recursive: true });
  await job.beforePull?.();
  const rsync = await pullSource(job, { destination: mirror, inplace: true });
  if (!rsync.success)
    return { success: false, snapshot: null, summary: rsyncFailure(rsync, job.volume ?? job.machineDir) };
  return { success: true, snapshot: null, summary: rsyncNote(rsync) || null };
}
