import * as z from 'zod';

import { RESTORE_REPORT_VERSION } from './restore-report.js';

/**
 * [NEW] The snapshot's manifest, sent to an agent that asked for a verified restore
 * (`restore.verify`; docs/datapath.md, "Verified restores"). After a successful push our storage
 * writes the manifest of what it pushed (the whole snapshot, or only the entries of the restored
 * part), gzip'd as lib/common/manifest-file.ts writes it, base64 in chunks, one line each, on the
 * session's stdout like the progress lines:
 *
 *   turku-restore-manifest {"version":1,"data":"H4sIAAAAAAAA…"}
 *
 * and then says in the done line's `manifest` key what it sent: `{"bytes":N,"sha256":"…"}` of the
 * gzip'd whole, or `{"reason":"…"}` when it has none to send (borg and none modes, a snapshot
 * taken before manifests). An agent that did not ask never sees these lines.
 */

export const RESTORE_MANIFEST_PREFIX = 'turku-restore-manifest ';
/** Decoded bytes per line: 48 KiB, 64 KiB of base64. */
export const MANIFEST_CHUNK_BYTES = 48 * 1024;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const RestoreManifestChunk = z.looseObject({
  version: z.number().int().min(1),
  data: z
    .string()
    .max(4 * Math.ceil(MANIFEST_CHUNK_BYTES / 3))
    .regex(BASE64),
});

/** The lines carrying `gz`, each ending with a newline. */
export function encodeManifestChunks(gz: Uint8Array): string[] {
  const lines: string[] = [];
  for (let at = 0; at < gz.length; at += MANIFEST_CHUNK_BYTES) {
    const data = Buffer.from(gz.subarray(at, at + MANIFEST_CHUNK_BYTES)).toString('base64');
    lines.push(`${RESTORE_MANIFEST_PREFIX}${JSON.stringify({ version: RESTORE_REPORT_VERSION, data })}\n`);
  }
  return lines;
}

/** The bytes a manifest line carries; undefined for any other line or a malformed one. */
export function parseManifestChunk(line: string): Buffer | undefined {
  const text = line.replace(/\r?\n$/, '');
  if (!text.startsWith(RESTORE_MANIFEST_PREFIX)) return undefined;
  try {
    const parsed = RestoreManifestChunk.safeParse(JSON.parse(text.slice(RESTORE_MANIFEST_PREFIX.length)));
    return parsed.success ? Buffer.from(parsed.data.data, 'base64') : undefined;
  } catch {
    return undefined;
  }
}

/** True when `line` starts like a manifest line (a malformed one is then dropped, not shown). */
export function isManifestLine(line: string): boolean {
  return line.startsWith(RESTORE_MANIFEST_PREFIX);
}
