import { join } from 'node:path';

/**
 * Where a snapshot's manifest lives (docs/datapath.md, "Manifests and verify"):
 * `<source>.snapshots/<dir>.manifest.gz` beside the sidecar, outside the snapshot's tree (which
 * holds exactly the source's files). Read and written with lib/common/manifest-file.ts.
 */

export { readManifestFile as readManifest, writeManifestFile as writeManifest } from '../../common/manifest-file.js';

export const MANIFEST_SUFFIX = '.manifest.gz';

export function manifestPath(snapshotsDir: string, dir: string): string {
  return join(snapshotsDir, `${dir}${MANIFEST_SUFFIX}`);
}
