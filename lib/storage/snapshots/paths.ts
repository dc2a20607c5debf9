import { join } from 'node:path';

import { type SnapshotJob } from './types.js';

/** Where a source lives in its machine directory (docs/datapath.md, "Snapshots on disk"). */

type Where = Pick<SnapshotJob, 'machineDir' | 'source'>;

/** link-dest's working copy; none's mirror; borg's delta basis. */
export function workingDir(job: Where): string {
  return join(job.machineDir, job.source);
}

export function snapshotsDir(job: Where): string {
  return join(job.machineDir, `${job.source}.snapshots`);
}

export function borgRepo(job: Where): string {
  return join(job.machineDir, `${job.source}.borg`);
}
