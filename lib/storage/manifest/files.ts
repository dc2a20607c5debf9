import { join } from 'node:path';

/**
 * Where a snapshot's manifest lives (docs/datapath.md, "Manifests and verify"):
 * `<source>.snapshots/<dir>.manifest.gz` beside the sidecar, outside the snapshot's tree (which
 * holds exactly the source's files), read and written with lib/common/manifest-file.ts; or, for
 * an incremental, `<dir>.manifest-delta.gz`, a delta on its base's (delta.ts, stored.ts).
 */

export { readManifestFile as readManifest, writeManifestFile as writeManifest } from '../../common/manifest-file.js';

export const MANIFEST_SUFFIX = '.manifest.gz';
export const DELTA_SUFFIX = '.manifest-delta.gz';

export function manifestPath(snapshotsDir: string, dir: string): string {
  return join(snapshotsDir, `${dir}${MANIFEST_SUFFIX}`);
}

export function deltaPath(snapshotsDir: string, dir: string): string {
  return join(snapshotsDir, `${dir}${DELTA_SUFFIX}`);
}
