import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';

import { errorMessage, isErrno } from '../../common/errors.js';
import { gunzipText, writeManifestBody } from '../../common/manifest-file.js';
import {
  encodeHeaderLine,
  manifestBody,
  parseManifest,
  parseManifestHead,
  type Manifest,
  type ManifestBody,
  type ManifestHeader,
} from '../../turku/manifest.js';
import { addedFiles, composeChanges, parseDelta, parseDeltaHeader, type BaseRef, type Delta } from './delta.js';
import { DELTA_SUFFIX, deltaPath, manifestPath } from './files.js';
import { patchText } from './patch.js';

/**
 * A snapshot's manifest as stored (docs/datapath.md, "Manifests and verify"): a whole one
 * (`<dir>.manifest.gz`), or a delta on its base's (`<dir>.manifest-delta.gz`, delta.ts) made whole
 * here when read. Where both are (a crash while a delta was being made whole), the whole one is
 * the manifest. Before a snapshot is deleted, the deltas on its manifest are made whole.
 */

/** A manifest that cannot be read: a damaged file, or a delta whose chain of bases is broken. */
export class StoredManifestError extends Error {
  override name = 'StoredManifestError';
}

/** Deltas followed back at most before the chain is taken as broken (it is never longer than MAX_DELTA_DEPTH). */
const CHAIN_LIMIT = 256;

/**
 * The whole manifest as it comes: the stored file itself (`gz`) when it is whole, a delta's text
 * made whole (`text`); null when it has none.
 */
export async function storedManifestData(
  snapshotsDir: string,
  dir: string,
): Promise<{ gz: Buffer } | { text: string } | null> {
  const whole = await readIfThere(manifestPath(snapshotsDir, dir));
  if (whole !== null) return { gz: whole };
  const delta = await readDelta(snapshotsDir, dir);
  if (delta === null) return wholeSince(snapshotsDir, dir);
  let made;
  try {
    made = await madeWhole(snapshotsDir, dir, delta);
  } catch (error) {
    const since = await wholeSince(snapshotsDir, dir);
    if (since === null) throw error;
    return since;
  }
  return { text: `${encodeHeaderLine(made.header)}\n${made.body}` };
}

/**
 * The whole manifest written meanwhile, if any: the delta was made whole as its base was being
 * deleted (which removes the base's manifest only after).
 */
async function wholeSince(snapshotsDir: string, dir: string): Promise<{ gz: Buffer } | null> {
  const whole = await readIfThere(manifestPath(snapshotsDir, dir));
  return whole === null ? null : { gz: whole };
}

/** The snapshot's manifest as a whole text, or null when it has none. */
export async function storedManifestText(snapshotsDir: string, dir: string): Promise<string | null> {
  const data = await storedManifestData(snapshotsDir, dir);
  if (data === null) return null;
  if ('text' in data) return data.text;
  return damagedIfThrows(`the manifest of ${dir}`, () => gunzipText(data.gz));
}

/** The same, parsed; null when it has none. */
export async function readStoredManifest(snapshotsDir: string, dir: string): Promise<Manifest | null> {
  const text = await storedManifestText(snapshotsDir, dir);
  return text === null ? null : damagedIfThrows(`the manifest of ${dir}`, () => Promise.resolve(parseManifest(text)));
}

/** The same, checked for patching (lib/turku/manifest.ts `manifestBody`); null when it has none. */
export async function storedManifestBody(snapshotsDir: string, dir: string): Promise<ManifestBody | null> {
  const text = await storedManifestText(snapshotsDir, dir);
  return text === null ? null : damagedIfThrows(`the manifest of ${dir}`, () => Promise.resolve(manifestBody(text)));
}

/**
 * For verify (lib/common/manifest-file-verify.ts `verifyAgainstManifestText`): the manifest's text
 * to come and its gzip'd size; null when it has none. A delta is made whole first, its size
 * taken as a whole manifest's would be (a manifest's text is about three times its gzip'd size).
 */
export async function storedManifestSource(
  snapshotsDir: string,
  dir: string,
): Promise<{ size: number; text: () => Promise<Buffer> } | null> {
  const data = await storedManifestData(snapshotsDir, dir);
  if (data === null) return null;
  if ('gz' in data) return { size: data.gz.length, text: () => promisify(gunzip)(data.gz) };
  const text = Buffer.from(data.text);
  return { size: Math.ceil(text.length / 3), text: () => Promise.resolve(text) };
}

export async function hasStoredManifest(snapshotsDir: string, dir: string): Promise<boolean> {
  for (const path of [manifestPath(snapshotsDir, dir), deltaPath(snapshotsDir, dir)]) {
    try {
      await lstat(path);
      return true;
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) return true; // there, if unreadable: verify says so
    }
  }
  return false;
}

/**
 * What a delta on this snapshot's manifest refers to, read from the manifest's first line only (a
 * whole one is not decompressed further), and its depth (0 for a whole one); null when it has no
 * manifest or one whose first line is damaged. Never rejects.
 */
export async function manifestRef(snapshotsDir: string, dir: string): Promise<{ ref: BaseRef; depth: number } | null> {
  try {
    const whole = await readIfThere(manifestPath(snapshotsDir, dir));
    if (whole !== null) {
      const { header } = parseManifestHead(await firstLine(whole));
      return { ref: { dir, snapshot: header.snapshot, created: header.created }, depth: 0 };
    }
    const delta = await readIfThere(deltaPath(snapshotsDir, dir));
    if (delta === null) return null;
    const header = parseDeltaHeader(await firstLine(delta));
    return { ref: { dir, snapshot: header.snapshot, created: header.created }, depth: header.depth };
  } catch {
    return null;
  }
}

/**
 * Before `victimDir` is deleted: every delta on its manifest made whole (written as a whole
 * manifest, then the delta removed). False when one could not be written (the victim must stay,
 * or the manifest would be lost); a chain already broken is logged and lost all the same.
 */
export async function wholeDependents(
  snapshotsDir: string,
  victimDir: string,
  log: { error(message: string): void; info(message: string): void },
): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(snapshotsDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return true;
    throw error;
  }
  for (const name of names) {
    if (!name.endsWith(DELTA_SUFFIX)) continue;
    const dir = name.slice(0, -DELTA_SUFFIX.length);
    let delta: Delta | null;
    try {
      delta = await readDelta(snapshotsDir, dir);
    } catch (error) {
      log.error(`The manifest delta of ${dir} is damaged: ${errorMessage(error)}`);
      continue;
    }
    if (delta === null || delta.header.base.dir !== victimDir) continue;
    let made;
    try {
      made = await madeWhole(snapshotsDir, dir, delta);
    } catch (error) {
      log.error(`Cannot make the manifest of ${dir} whole before ${victimDir} goes: ${errorMessage(error)}`);
      continue;
    }
    try {
      await writeManifestBody(manifestPath(snapshotsDir, dir), made.header, made.body);
      await rm(deltaPath(snapshotsDir, dir), { force: true });
    } catch (error) {
      log.error(`Cannot write the whole manifest of ${dir}: ${errorMessage(error)}`);
      return false;
    }
    log.info(`Made the manifest of ${dir} whole, as its base ${victimDir} goes`);
  }
  return true;
}

/** A delta on the base's manifest followed back to a whole one, and the whole one patched with them all at once. */
async function madeWhole(
  snapshotsDir: string,
  dir: string,
  delta: Delta,
): Promise<{ header: ManifestHeader; body: string }> {
  const chain: Delta[] = [delta];
  let base: ManifestBody | null = null;
  for (let current = delta; base === null;) {
    const { base: ref } = current.header;
    if (chain.length > CHAIN_LIMIT) throw new StoredManifestError(`the manifest of ${dir}: its deltas do not end`);
    const whole = await readIfThere(manifestPath(snapshotsDir, ref.dir));
    let found: { snapshot: string; created: string };
    if (whole !== null) {
      base = await damagedIfThrows(`the manifest of ${ref.dir}`, async () => manifestBody(await gunzipText(whole)));
      found = base.header;
    } else {
      const older = await readDelta(snapshotsDir, ref.dir);
      if (older === null) {
        throw new StoredManifestError(`the manifest of ${dir} is a delta on that of ${ref.dir}, which has none`);
      }
      chain.push(older);
      found = older.header;
      current = older;
    }
    if (found.snapshot !== ref.snapshot || found.created !== ref.created) {
      throw new StoredManifestError(
        `the manifest of ${dir} is a delta on that of ${ref.dir} made ${ref.created}, which is now another (made ${found.created})`,
      );
    }
  }
  const changes = chain.reverse().map((each) => each.changed);
  const all = changes.reduce((earlier, later) => composeChanges(earlier, later));
  const patched = patchText(base, all);
  // Files the snapshot took unread from its own base: all its files but those its delta brought.
  const reused = patched.reused + addedFiles(all) - addedFiles(delta.changed);
  const { snapshot, created, recorded, hashed } = delta.header;
  return { header: { snapshot, created, recorded, hashed, reused }, body: patched.body };
}

async function readDelta(snapshotsDir: string, dir: string): Promise<Delta | null> {
  const data = await readIfThere(deltaPath(snapshotsDir, dir));
  if (data === null) return null;
  return damagedIfThrows(`the manifest delta of ${dir}`, async () => parseDelta(await gunzipText(data)));
}

async function readIfThere(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw new StoredManifestError(`${path}: ${errorMessage(error)}`);
  }
}

/** The first line of a gzip'd text, decompressing no further than it. */
async function firstLine(data: Buffer): Promise<string> {
  const gunzip = createGunzip();
  gunzip.end(data);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of gunzip) {
      const piece = chunk as Buffer;
      const end = piece.indexOf(0x0a);
      if (end >= 0) return Buffer.concat([...chunks, piece.subarray(0, end)]).toString('utf8');
      chunks.push(piece);
    }
  } finally {
    gunzip.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function damagedIfThrows<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof StoredManifestError) throw error;
    throw new StoredManifestError(`${what} is damaged: ${errorMessage(error)}`);
  }
}
