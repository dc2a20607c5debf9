import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';

import { encodeManifest, parseManifest, type Manifest } from '../turku/manifest.js';
import { writeFileAtomic } from './atomic-write.js';
import { isErrno } from './errors.js';

/**
 * A manifest as a file (docs/datapath.md, "Manifests and verify"): the text of
 * lib/turku/manifest.ts, gzip'd. The storage keeps one beside each snapshot; an agent given one
 * (restore `--verify`) reads it the same way.
 */

export async function gzipManifest(manifest: Manifest): Promise<Buffer> {
  // Level 1: most of a manifest is hex digests, which no level shrinks much; the time is what counts.
  return promisify(gzip)(encodeManifest(manifest), { level: 1 });
}

export async function gunzipManifest(data: Uint8Array): Promise<Manifest> {
  return parseManifest((await promisify(gunzip)(data)).toString('utf8'));
}

/** Written atomically (a temporary file, then a rename). */
export async function writeManifestFile(path: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(path, await gzipManifest(manifest));
}

/** The manifest, or null when there is no such file; a damaged one throws. */
export async function readManifestFile(path: string): Promise<Manifest | null> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
  return gunzipManifest(data);
}
