import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

import { ManifestFormatError, parseManifest, parseManifestHead, type ManifestHeader } from '../turku/manifest.js';
import { errorMessage, isErrno } from './errors.js';
import { sortProblems, verifyTree, type TreeCheck, type VerifyTreeOptions } from './tree-manifest.js';
import { startVerifyWorkers, type VerifyWorkers } from './tree-verify-pool.js';

/**
 * A tree checked against a gzip'd manifest file (lib/common/manifest-file.ts; docs/datapath.md,
 * "Manifests and verify"): the storage's verify of a snapshot. A whole tree with a large manifest
 * is checked on worker threads straight from the manifest's text (tree-verify-pool.ts), the
 * workers starting while the file is read and gunzipped; a small one, or a sample, is parsed and
 * checked here (`verifyTree`), where worker start-up would cost more than it saves.
 */

/** The manifest file could not be read, gunzipped or parsed. */
export class DamagedManifestError extends Error {
  override name = 'DamagedManifestError';
}

/**
 * From this gzip'd size on (about 1,500 entries, at 40-50 bytes each), workers: below it, the
 * files are too few for the workers' start-up (tens of ms each) to pay off.
 */
const WORKERS_FROM_BYTES = 64 * 1024;

/** The manifest's header and the check; null when there is no manifest file. */
export async function verifyAgainstManifestFile(
  root: string,
  path: string,
  options: { readonly sample?: VerifyTreeOptions['sample'] } = {},
): Promise<{ header: ManifestHeader; check: TreeCheck } | null> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw new DamagedManifestError(errorMessage(error));
  }
  return verifyAgainstManifestText(root, { size: data.length, text: () => promisify(gunzip)(data) }, options);
}

/**
 * The same, given the manifest's text to come (`text`, any failure of which is a damaged manifest)
 * and the size of its gzip'd form (which decides whether workers start while it comes).
 */
export async function verifyAgainstManifestText(
  root: string,
  manifest: { readonly size: number; readonly text: () => Promise<Buffer> },
  options: { readonly sample?: VerifyTreeOptions['sample'] } = {},
): Promise<{ header: ManifestHeader; check: TreeCheck }> {
  const workers = options.sample === undefined && manifest.size >= WORKERS_FROM_BYTES ? startVerifyWorkers(root) : null;
  try {
    const text = await damagedIfThrows(manifest.text);
    if (workers !== null) return await onWorkers(text, workers);
    const parsed = await damagedIfThrows(() => Promise.resolve(parseManifest(text.toString('utf8'))));
    const sample = options.sample;
    return { header: parsed.header, check: await verifyTree(root, parsed, sample ? { sample } : {}) };
  } catch (error) {
    await workers?.stop();
    throw error;
  }
}

async function onWorkers(text: Buffer, workers: VerifyWorkers): Promise<{ header: ManifestHeader; check: TreeCheck }> {
  // The header is the first line; the workers decode the rest themselves.
  const end = text.indexOf(0x0a);
  const headerLine = text.toString('utf8', 0, end < 0 ? text.length : end);
  const { header } = await damagedIfThrows(() => Promise.resolve(parseManifestHead(headerLine)));
  const bodyStart = end < 0 ? text.length : end + 1;
  let checked;
  try {
    checked = await workers.check(text, bodyStart, 2);
  } catch (error) {
    // A damaged line is found by the line it differs from; anything else is not the manifest's fault.
    if (error instanceof ManifestFormatError) throw new DamagedManifestError(errorMessage(error));
    throw error;
  }
  return { header, check: { ...checked, complete: true, problems: sortProblems(checked.problems) } };
}

async function damagedIfThrows<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw new DamagedManifestError(errorMessage(error));
  }
}
