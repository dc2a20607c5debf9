import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

import { errorMessage } from '../common/errors.js';
import { verifyTree } from '../common/tree-manifest.js';
import { escapePath, parseManifest, type Manifest, type TreeProblem } from '../turku/manifest.js';
import type { RestoreDone } from '../turku/protocol/restore-report.js';
import { restorePathProblem } from '../turku/restore-path.js';

/**
 * `--verify` (docs/datapath.md, "Verified restores"): the restored files, checked against the
 * manifest the storage sent on the session (lib/turku/protocol/restore-manifest.ts) before they
 * leave the staging directory. The staging directory holds exactly what the storage pushed, so
 * the target's own files are never looked at, and `extra` means an entry the storage pushed that
 * its manifest does not list.
 *
 * The manifest comes from the storage and is not trusted: bounded in size, parsed strictly, every
 * path relative without `.` or `..`, and the restored part reached through real directories
 * only, so that no manifest makes the agent read anything outside the staging directory.
 */

/** At most this much gzip'd manifest is taken (about 2.5 million entries). */
export const MAX_MANIFEST_GZ_BYTES = 128 << 20;
/** ... and at most this much once gunzip'd (a string of it must fit in V8). */
export const MAX_MANIFEST_TEXT_BYTES = 384 << 20;
/** Problems listed one by one; the rest are counted. */
export const SHOWN_PROBLEMS = 20;

export const NO_MANIFEST =
  'this storage sent no manifest (an original Turku storage, or a snapshot recorded before manifests, or borg mode)';

export type ReceivedManifest = { readonly gz: Buffer } | { readonly reason: string };

/** Collects the manifest lines' bytes, up to the bound. */
export class ManifestCollector {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private tooLarge = false;

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > MAX_MANIFEST_GZ_BYTES) {
      this.tooLarge = true;
      this.chunks.length = 0;
    } else this.chunks.push(chunk);
  }

  /** The gzip'd manifest, if the done line says one was sent and all of it arrived. */
  received(done: RestoreDone | undefined): ReceivedManifest {
    const sent = done?.manifest;
    if (sent === undefined) return { reason: NO_MANIFEST };
    const { bytes, sha256, reason } = sent;
    if (typeof bytes !== 'number' || typeof sha256 !== 'string') {
      return { reason: `the storage sent no manifest: ${printable(String(reason))}` };
    }
    if (this.tooLarge) return { reason: `the manifest is larger than ${MAX_MANIFEST_GZ_BYTES} bytes gzip'd` };
    const gz = Buffer.concat(this.chunks);
    if (gz.length !== bytes || createHash('sha256').update(gz).digest('hex') !== sha256) {
      return { reason: `the manifest did not arrive whole (${gz.length} of ${bytes} bytes)` };
    }
    return { gz };
  }
}

export interface VerifyOutcome {
  readonly ok: boolean;
  /** For stdout: the verdict, then the problems, if any. */
  readonly text: string;
  /** The one-line reason when not ok. */
  readonly error?: string;
}

/**
 * Checks `staging` (or the part at `path` under it) against the received manifest. Not ok when
 * there is no usable manifest or any problem; never throws (the restored files are kept whatever
 * happens to the check).
 */
export async function verifyRestored(
  staging: string,
  received: ReceivedManifest,
  path: string | undefined,
): Promise<VerifyOutcome> {
  return verifyOrThrow(staging, received, path).catch((error: unknown) =>
    notVerified(`the check failed: ${printable(errorMessage(error))}`),
  );
}

async function verifyOrThrow(
  staging: string,
  received: ReceivedManifest,
  path: string | undefined,
): Promise<VerifyOutcome> {
  if ('reason' in received) return notVerified(received.reason);
  let manifest: Manifest;
  try {
    manifest = await readReceived(received.gz);
  } catch (error) {
    return notVerified(`the storage's manifest is unusable: ${printable(errorMessage(error))}`);
  }
  const through = path === undefined ? undefined : await linkOnTheWay(staging, path);
  if (through !== undefined) return notVerified(through);
  const check = await verifyTree(staging, manifest, path === undefined ? {} : { subPath: path });
  const { snapshot, recorded } = manifest.header;
  const of = `the manifest of ${printable(snapshot)}${recorded === 'after-the-fact' ? ' (recorded after the fact)' : ''}`;
  if (check.problems.length === 0) {
    const entries = manifest.entries.filter(
      (e) => path === undefined || e.path === path || e.path.startsWith(`${path}/`),
    );
    return {
      ok: true,
      text: `Verified against ${of}: ${entries.length} entries match, ${check.checkedFiles} files and symlinks hashed (${check.checkedBytes} bytes)\n`,
    };
  }
  const count = check.problems.length;
  return {
    ok: false,
    text: problemsText(check.problems, `Verify found ${count} ${count === 1 ? 'problem' : 'problems'} against ${of}:`),
    error: `The restored files do not match the snapshot's manifest: ${count} ${count === 1 ? 'problem' : 'problems'} (listed on stdout)`,
  };
}

export function notVerified(reason: string): VerifyOutcome {
  return { ok: false, text: `Not verified: ${reason}\n`, error: `Restored, but not verified: ${reason}` };
}

/** Gunzip within the bound, parse strictly, and refuse any path that could lead out of the tree. */
export async function readReceived(gz: Buffer): Promise<Manifest> {
  let text: Buffer;
  try {
    text = await promisify(gunzip)(gz, { maxOutputLength: MAX_MANIFEST_TEXT_BYTES });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`larger than ${MAX_MANIFEST_TEXT_BYTES} bytes unpacked`, { cause: error });
    }
    throw new Error(`not gzip data (${errorMessage(error)})`, { cause: error });
  }
  const manifest = parseManifest(text.toString('utf8'));
  for (const entry of manifest.entries) {
    const problem = restorePathProblem(entry.path);
    if (problem !== undefined) throw new Error(`entry "${printable(entry.path)}": ${problem}`);
  }
  return manifest;
}

/** The first directory on the way to `path` under `root` that is not a real directory. */
async function linkOnTheWay(root: string, path: string): Promise<string | undefined> {
  const components = path.split('/').slice(0, -1);
  for (let i = 1; i <= components.length; i++) {
    const shown = components.slice(0, i).join('/');
    const stats = await lstat(join(root, shown)).catch(() => undefined);
    if (stats !== undefined && !stats.isDirectory()) {
      return `"${printable(shown)}" on the way to the restored path is not a directory`;
    }
  }
  return undefined;
}

/** The first SHOWN_PROBLEMS problems, one a line, and how many more there are. */
export function problemsText(problems: readonly TreeProblem[], heading: string): string {
  const lines = [heading];
  for (const problem of problems.slice(0, SHOWN_PROBLEMS)) {
    lines.push(`  ${problem.kind} ${printable(escapePath(problem.path))}: ${printable(problem.detail)}`);
  }
  if (problems.length > SHOWN_PROBLEMS) lines.push(`  … and ${problems.length - SHOWN_PROBLEMS} more`);
  return `${lines.join('\n')}\n`;
}

/** Text from the storage or a restored name, without control characters (no terminal escapes). */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what goes
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
