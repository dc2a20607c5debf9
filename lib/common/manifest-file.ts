import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, gzip, gzipSync } from 'node:zlib';

import {
  encodeEntryLine,
  encodeHeaderLine,
  encodeManifest,
  parseManifest,
  type Manifest,
  type ManifestHeader,
} from '../turku/manifest.js';
import { writeFileAtomic } from './atomic-write.js';
import { isErrno } from './errors.js';

/**
 * A manifest as a file (docs/datapath.md, "Manifests and verify"): the text of
 * lib/turku/manifest.ts, gzip'd. The storage keeps one beside each snapshot; an agent given one
 * (restore `--verify`) reads it the same way.
 */

/**
 * Level 1: most of a manifest is hex digests, which no level shrinks much; the time is what counts.
 * A 4 KiB window (some 35 lines back, where the repeats of a path's directories are) instead of
 * 32 KiB: on a manifest of 50,000 small files it took about a quarter less CPU and made the file
 * 7 % smaller. Any gzip reader reads it (the window size is the writer's choice).
 */
export const MEMBER_GZIP = { level: 1, windowBits: 12 } as const;
const GZIP_OPTIONS = { ...MEMBER_GZIP, chunkSize: 1 << 20 }; // a member's output in one piece (see below)
/**
 * zlib gives its output in pieces of `chunkSize` bytes, each a trip from the thread pool to this
 * thread and back, so a decompression stalls whenever this thread is busy (an incremental looks
 * at its changed entries meanwhile, which was to hide it): with zlib's 16 KiB, the 2 MB manifest
 * of 50,000 files took some 350 trips. A piece of four times the compressed size (a manifest's
 * text is about 2.7 times it) takes it in one; bounded, as a manifest's size is not.
 */
const gunzipOptions = (compressed: number) => ({
  chunkSize: Math.min(Math.max(compressed * 4, 64 << 10), 64 << 20),
});
/** Lines per gzip member (about 1 MB of text for short paths): each costs a header and a fresh dictionary. */
const LINES_PER_MEMBER = 8192;
/** The same in characters, for a text not split into lines. */
const MEMBER_CHARS = 1 << 20;
/** Members compressed at once, on the thread pool. */
const MEMBERS_AT_ONCE = Math.max(2, availableParallelism());
/**
 * A piece shorter than this is compressed on the calling thread, and the output is written in
 * chunks of at least `WRITE_BYTES`: a manifest whose directories came compressed already (recorded
 * while rsync ran) has small pieces between them, and a trip to the thread pool for each piece's
 * compression and each write took some 20 ms of B's 50,000-file manifest.
 */
const IN_THREAD_CHARS = 64 << 10;
const WRITE_BYTES = 1 << 20;

export async function gzipManifest(manifest: Manifest): Promise<Buffer> {
  return promisify(gzip)(encodeManifest(manifest), GZIP_OPTIONS);
}

export async function gunzipManifest(data: Uint8Array): Promise<Manifest> {
  return parseManifest(await gunzipText(data));
}

/** A manifest file's content decompressed (on the thread pool), unchecked. */
export async function gunzipText(data: Uint8Array): Promise<string> {
  return (await promisify(gunzip)(data, gunzipOptions(data.length))).toString('utf8');
}

/** Written atomically (a temporary file, then a rename). */
export async function writeManifestFile(path: string, manifest: Manifest): Promise<void> {
  await writeManifestLines(
    path,
    manifest.header,
    manifest.entries.map((entry) => encodeEntryLine(entry)),
  );
}

/**
 * The manifest of `header` and its entries' lines (lib/turku/manifest.ts `encodeEntryLine`, or
 * lines copied from another manifest), written atomically. The text is compressed in pieces, each
 * a gzip member of its own, several at once on the thread pool (one core compressing the whole
 * text took longer than everything else an incremental's manifest costs); gzip readers
 * (`gunzip`, zlib, Python's gzip) read concatenated members as one text.
 */
export async function writeManifestLines(
  path: string,
  header: ManifestHeader,
  lines: readonly string[],
): Promise<void> {
  await writeFileAtomic(path, Readable.from(gzipMembers(header, lines)));
}

/**
 * The manifest of `header` and entry lines given as texts of whole lines (each ending with LF;
 * lib/common/tree-record-pool.ts gives a directory's lines as one), `lineCounts[i]` lines in
 * `texts[i]`: written as `writeManifestLines` writes, the texts joined into members of about
 * `LINES_PER_MEMBER` lines without being split. A text given as a gzip member already (made with
 * `MEMBER_GZIP`) is written as it is, a member of its own.
 */
export async function writeManifestTexts(
  path: string,
  header: ManifestHeader,
  texts: readonly (string | Uint8Array)[],
  lineCounts: readonly number[],
): Promise<void> {
  const pieces = function* (): Generator<string | Uint8Array> {
    let piece = `${encodeHeaderLine(header)}\n`;
    let lines = 0;
    for (const [i, text] of texts.entries()) {
      if (typeof text !== 'string') {
        if (piece !== '') yield piece;
        yield text;
        piece = '';
        lines = 0;
        continue;
      }
      piece += text;
      lines += lineCounts[i]!;
      if (lines >= LINES_PER_MEMBER) {
        yield piece;
        piece = '';
        lines = 0;
      }
    }
    if (piece !== '') yield piece;
  };
  await writeFileAtomic(path, Readable.from(gzipPieces(pieces())));
}

/**
 * The manifest of `header` and its entry lines given as one text (each line ending with LF; an
 * incremental's manifest patched from its base's text, lib/storage/manifest/patch.ts), written as
 * `writeManifestLines` writes, in members of about `MEMBER_CHARS` characters cut at line ends.
 */
export async function writeManifestBody(path: string, header: ManifestHeader, body: string): Promise<void> {
  const pieces = function* (): Generator<string> {
    let start = 0;
    let piece = `${encodeHeaderLine(header)}\n`;
    while (start < body.length) {
      const cut = body.indexOf('\n', start + MEMBER_CHARS - piece.length - 1);
      const end = cut < 0 ? body.length : cut + 1;
      yield piece + body.slice(start, end);
      piece = '';
      start = end;
    }
    if (piece !== '') yield piece;
  };
  await writeFileAtomic(path, Readable.from(gzipPieces(pieces())));
}

/** The members in order, at most `MEMBERS_AT_ONCE` compressing ahead of the one written. */
async function* gzipMembers(header: ManifestHeader, lines: readonly string[]): AsyncGenerator<Uint8Array> {
  const pieces = function* (): Generator<string> {
    yield `${encodeHeaderLine(header)}\n${lines.slice(0, LINES_PER_MEMBER).join('\n')}${lines.length > 0 ? '\n' : ''}`;
    for (let start = LINES_PER_MEMBER; start < lines.length; start += LINES_PER_MEMBER) {
      yield `${lines.slice(start, start + LINES_PER_MEMBER).join('\n')}\n`;
    }
  };
  yield* gzipPieces(pieces());
}

/**
 * Each piece a gzip member (one given as bytes is one already), at most `MEMBERS_AT_ONCE`
 * compressing ahead of the one written, in chunks of at least `WRITE_BYTES`.
 */
async function* gzipPieces(pieces: Iterable<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  const compress = promisify(gzip);
  const inFlight: Promise<Uint8Array>[] = [];
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  const hold = (member: Uint8Array): Uint8Array | null => {
    held.push(member);
    heldBytes += member.length;
    if (heldBytes < WRITE_BYTES) return null;
    const chunk = held.length === 1 ? member : Buffer.concat(held);
    held = [];
    heldBytes = 0;
    return chunk;
  };
  for (const piece of pieces) {
    if (inFlight.length >= MEMBERS_AT_ONCE) {
      const chunk = hold(await inFlight.shift()!);
      if (chunk !== null) yield chunk;
    }
    let member: Promise<Uint8Array>;
    if (typeof piece !== 'string') member = Promise.resolve(piece);
    else if (piece.length < IN_THREAD_CHARS) member = Promise.resolve(gzipSync(piece, MEMBER_GZIP));
    else {
      member = compress(piece, GZIP_OPTIONS);
      member.catch(() => undefined); // awaited in turn; an early failure must not go unhandled meanwhile
    }
    inFlight.push(member);
  }
  for (const member of inFlight) {
    const chunk = hold(await member);
    if (chunk !== null) yield chunk;
  }
  if (held.length > 0) yield Buffer.concat(held);
}

/** The manifest, or null when there is no such file; a damaged one throws. */
export async function readManifestFile(path: string): Promise<Manifest | null> {
  const text = await readManifestText(path);
  return text === null ? null : parseManifest(text);
}

/** A manifest file's text, unchecked, or null when there is no such file; one that is not gzip throws. */
export async function readManifestText(path: string): Promise<string | null> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
  return gunzipText(data);
}
