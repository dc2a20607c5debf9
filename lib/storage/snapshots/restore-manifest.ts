import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

import { errorMessage } from '../../common/errors.js';
import { gunzipManifest, gzipManifest } from '../../common/manifest-file.js';
import { MANIFEST_SUFFIX } from '../manifest/files.js';
import { storedManifestData } from '../manifest/stored.js';
import { parseManifest } from '../../turku/manifest.js';
import type { RestoreTree } from './restore.js';
import type { SnapshotMode } from './types.js';

/**
 * What a verified restore sends the agent (docs/datapath.md, "Verified restores"): the manifest of
 * the link-dest snapshot it pushed, gzip'd (the file as stored for a whole snapshot; for a part,
 * only the entries of that part), or why there is none.
 */

export type ManifestToSend = { readonly gz: Buffer } | { readonly reason: string };

/** Says what --verify is for when the mode keeps no manifest. */
const FOR_LINK_DEST = '--verify checks link-dest snapshots';

export async function manifestToSend(tree: RestoreTree, mode: SnapshotMode): Promise<ManifestToSend> {
  const name = tree.snapshot ?? '(mirror)';
  if (mode === 'borg') {
    return {
      reason:
        `borg mode keeps no manifest (${FOR_LINK_DEST}); borg checks its own chunks, and ` +
        '`borg check --verify-data` on the storage (its verify-snapshot action) reads every chunk of the archive',
    };
  }
  if (mode === 'none' || tree.manifestFile === undefined) {
    return { reason: `snapshot mode ${mode} keeps no manifest (${FOR_LINK_DEST})` };
  }
  let stored;
  try {
    // The file as stored when whole; a delta on the base's (lib/storage/manifest/delta.ts) made whole.
    stored = await storedManifestData(dirname(tree.manifestFile), basename(tree.manifestFile, MANIFEST_SUFFIX));
  } catch (error) {
    return { reason: `cannot read the manifest of ${name}: ${errorMessage(error)}` };
  }
  if (stored === null) {
    return {
      reason:
        `snapshot ${name} has no manifest (taken before manifests, or with the storage's manifest setting ` +
        'off; `turku-storage-admin manifest` records one)',
    };
  }
  if (tree.path === undefined)
    return { gz: 'gz' in stored ? stored.gz : await promisify(gzip)(stored.text, { level: 1 }) };
  let manifest;
  try {
    manifest = 'gz' in stored ? await gunzipManifest(stored.gz) : parseManifest(stored.text);
  } catch (error) {
    return { reason: `the manifest of ${name} is damaged: ${errorMessage(error)}` };
  }
  const part = tree.path;
  const entries = manifest.entries.filter((entry) => entry.path === part || entry.path.startsWith(`${part}/`));
  return { gz: await gzipManifest({ header: manifest.header, entries }) };
}
