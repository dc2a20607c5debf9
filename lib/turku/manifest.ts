/**
 * The manifest of a snapshot (docs/datapath.md, "Manifests and verify"): one line per entry of the
 * tree with its type, size, mode, mtime and, for files, the SHA-256 of the content (for a symlink,
 * of its target). Pure: encoding and parsing only; the storage gzips the text and keeps it beside
 * the snapshot, and a restore can check a restored tree against it (lib/common/tree-manifest.ts).
 *
 * Text, version 1: a header line `turku-manifest<TAB>1<TAB><JSON header>`, then one line per entry,
 * `<path><TAB><type><TAB><size><TAB><mode, octal><TAB><mtime, ns since the epoch><TAB><sha256 or ->`,
 * paths relative to the tree's root with `\`, TAB, LF and CR escaped as `\\`, `\t`, `\n`, `\r`.
 */

export const MANIFEST_MAGIC = 'turku-manifest';
export const MANIFEST_VERSION = 1;

/** `f` regular file, `d` directory, `l` symlink, `o` anything else (fifo, socket, device). */
export type ManifestEntryType = 'f' | 'd' | 'l' | 'o';

export interface ManifestEntry {
  /** Relative to the tree's root, `/`-separated, never empty (the root itself is not listed). */
  readonly path: string;
  readonly type: ManifestEntryType;
  readonly size: number;
  /** Permission bits (`st_mode & 0o7777`). */
  readonly mode: number;
  /** Nanoseconds since the epoch, as a decimal string (too large for a double's precision). */
  readonly mtimeNs: string;
  /** Files and symlinks: lowercase hex; null for the others. */
  readonly sha256: string | null;
}

export interface ManifestHeader {
  /** The snapshot's name. */
  readonly snapshot: string;
  /** When the manifest was made, ISO 8601. */
  readonly created: string;
  /**
   * `backup`: made by the backup that created the snapshot; `after-the-fact`: made later from the
   * snapshot as it then was (it cannot prove the snapshot was intact before).
   */
  readonly recorded: 'backup' | 'after-the-fact';
  /** Files (and symlinks) whose content was read and hashed. */
  readonly hashed: number;
  /** Files whose hash was taken from the base snapshot's manifest (same inode). */
  readonly reused: number;
}

export interface Manifest {
  readonly header: ManifestHeader;
  readonly entries: readonly ManifestEntry[];
}

export class ManifestFormatError extends Error {}

const TYPES = new Set<string>(['f', 'd', 'l', 'o']);
const SHA256 = /^[0-9a-f]{64}$/;

export function encodeManifest(manifest: Manifest): string {
  const lines = [encodeHeaderLine(manifest.header)];
  for (const e of manifest.entries) lines.push(encodeEntryLine(e));
  return `${lines.join('\n')}\n`;
}

export function encodeHeaderLine(header: ManifestHeader): string {
  return `${MANIFEST_MAGIC}\t${MANIFEST_VERSION}\t${JSON.stringify(header)}`;
}

/** One entry's line, without its LF. */
export function encodeEntryLine(e: ManifestEntry): string {
  return `${escapePath(e.path)}\t${e.type}\t${e.size}\t${e.mode.toString(8)}\t${e.mtimeNs}\t${e.sha256 ?? '-'}`;
}

export function parseManifest(text: string): Manifest {
  const { header, bodyStart } = parseManifestHead(text);
  const lines = text.slice(bodyStart).split('\n');
  if (lines.at(-1) === '') lines.pop();
  const entries = lines.map((line, index) => parseManifestLine(line, index + 2));
  return { header, entries };
}

/** The header of a manifest's text, and where its entry lines start. */
export function parseManifestHead(text: string): { header: ManifestHeader; bodyStart: number } {
  const end = text.indexOf('\n');
  const [magic, version, headerJson] = (end < 0 ? text : text.slice(0, end)).split('\t');
  if (magic !== MANIFEST_MAGIC) throw new ManifestFormatError('not a turku manifest');
  if (version !== String(MANIFEST_VERSION)) throw new ManifestFormatError(`unsupported manifest version ${version}`);
  return { header: parseHeader(headerJson ?? ''), bodyStart: end < 0 ? text.length : end + 1 };
}

/**
 * A manifest's text checked for patching (lib/storage/manifest/patch.ts), which copies the lines
 * of unchanged entries into another manifest as they are, without splitting the text into lines
 * or decoding and encoding them again. Each line is checked for its shape only (six fields, a
 * known type, `-` or 64 characters for the digest, the path's escapes), not digit by digit as
 * `parseManifest` does: the lines copied are our own encoder's, read back from a gzip file whose
 * CRC holds, and a line damaged all the same is still caught where a manifest is used
 * (`parseManifest` rejects the whole manifest).
 */
export interface ManifestBody {
  readonly header: ManifestHeader;
  readonly text: string;
  /** Where the first entry line starts in `text` (its end when there is none). */
  readonly bodyStart: number;
  /** Entry lines, and regular files among them. */
  readonly lines: number;
  readonly files: number;
}

export function manifestBody(text: string): ManifestBody {
  if (text !== '' && !text.endsWith('\n')) throw new ManifestFormatError('manifest does not end with a newline');
  const { header, bodyStart } = parseManifestHead(text);
  let lines = 0;
  let files = 0;
  // The next backslash, looked for again only once passed (a search per line would read the rest of the text each time).
  let backslash = text.indexOf('\\', bodyStart);
  for (let start = bodyStart; start < text.length;) {
    const end = text.indexOf('\n', start);
    lines++;
    if (!hasEntryShape(text, start, end)) throw new ManifestFormatError(`manifest line ${lines + 1}: not an entry`);
    const tab = text.indexOf('\t', start);
    if (backslash >= 0 && backslash < tab) unescapePath(text.slice(start, tab)); // a bad escape throws
    if (backslash >= 0 && backslash < end) backslash = text.indexOf('\\', end);
    if (text.charCodeAt(tab + 1) === 0x66 /* f */) files++;
    start = end + 1;
  }
  return { header, text, bodyStart, lines, files };
}

/** Whether the line from `start` to `end` (its LF) has an entry's shape. */
function hasEntryShape(text: string, start: number, end: number): boolean {
  const first = text.indexOf('\t', start);
  if (first <= start || first > end || !TYPES.has(text[first + 1]!) || text[first + 2] !== '\t') return false;
  let tab = first + 2;
  for (let field = 3; field < 6; field++) {
    const next = text.indexOf('\t', tab + 1);
    if (next <= tab + 1 || next > end) return false; // missing or empty
    tab = next;
  }
  const digest = end - tab - 1;
  const after = text.indexOf('\t', tab + 1);
  return (after < 0 || after > end) && (digest === 64 || (digest === 1 && text[tab + 1] === '-'));
}

/** The path of the entry line that starts at `start` of a checked manifest text, unescaped. */
export function pathAt(text: string, start: number): string {
  const path = text.slice(start, text.indexOf('\t', start));
  return path.includes('\\') ? unescapePath(path) : path;
}

/** The type of the entry line that starts at `start` of a checked manifest text. */
export function typeAt(text: string, start: number): ManifestEntryType {
  return text[text.indexOf('\t', start) + 1] as ManifestEntryType;
}

function parseHeader(json: string): ManifestHeader {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ManifestFormatError('manifest header is not JSON');
  }
  const h = value as Partial<Record<keyof ManifestHeader, unknown>>;
  if (
    typeof h !== 'object' ||
    h === null ||
    typeof h.snapshot !== 'string' ||
    typeof h.created !== 'string' ||
    (h.recorded !== 'backup' && h.recorded !== 'after-the-fact') ||
    typeof h.hashed !== 'number' ||
    typeof h.reused !== 'number'
  ) {
    throw new ManifestFormatError('manifest header lacks a field');
  }
  return { snapshot: h.snapshot, created: h.created, recorded: h.recorded, hashed: h.hashed, reused: h.reused };
}

/** One entry line; `lineNumber` (from 1, the header's) for the error of a bad one. */
export function parseManifestLine(line: string, lineNumber: number): ManifestEntry {
  const fields = line.split('\t');
  const [path, type, size, mode, mtimeNs, sha] = fields;
  const bad = (what: string) => new ManifestFormatError(`manifest line ${lineNumber}: ${what}`);
  if (fields.length !== 6 || path === undefined || path === '') throw bad('expected 6 fields');
  if (!TYPES.has(type!)) throw bad(`unknown type "${type}"`);
  if (!/^\d+$/.test(size!) || !/^[0-7]+$/.test(mode!) || !/^-?\d+$/.test(mtimeNs!)) throw bad('bad number');
  if (sha !== '-' && !SHA256.test(sha!)) throw bad('bad sha256');
  return {
    path: unescapePath(path),
    type: type as ManifestEntryType,
    size: Number(size),
    mode: parseInt(mode!, 8),
    mtimeNs: mtimeNs!,
    sha256: sha === '-' ? null : sha!,
  };
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const UNESCAPES: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r' };

export function escapePath(path: string): string {
  return path.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!);
}

export function unescapePath(text: string): string {
  return text.replace(/\\(.)/g, (whole, c: string) => {
    const plain = UNESCAPES[c];
    if (plain === undefined) throw new ManifestFormatError(`bad escape "${whole}" in a manifest path`);
    return plain;
  });
}

/** A problem a tree shows against its manifest (the storage's verify adds snapshot-wide kinds). */
export interface TreeProblem {
  readonly path: string;
  readonly kind: 'content' | 'size' | 'metadata' | 'missing' | 'extra' | 'unreadable';
  readonly detail: string;
}

/** What an entry found on disk differs in from its manifest entry; null when they agree. */
export function compareEntry(expected: ManifestEntry, found: ManifestEntry): TreeProblem | null {
  const at = expected.path;
  if (expected.type !== found.type) {
    return { path: at, kind: 'metadata', detail: `type ${typeName(expected.type)}, now ${typeName(found.type)}` };
  }
  if (expected.type === 'f' && expected.size !== found.size) {
    return { path: at, kind: 'size', detail: `size ${expected.size}, now ${found.size}` };
  }
  if (expected.sha256 !== null && found.sha256 !== null && expected.sha256 !== found.sha256) {
    const what = expected.type === 'l' ? 'symlink target' : 'content';
    return { path: at, kind: 'content', detail: `${what} differs (sha256 ${expected.sha256}, now ${found.sha256})` };
  }
  const changes: string[] = [];
  // A symlink's mode means nothing on Linux; a directory's mtime changes with its entries, which are
  // reported themselves.
  if (expected.type !== 'l' && expected.mode !== found.mode) {
    changes.push(`mode ${expected.mode.toString(8)}, now ${found.mode.toString(8)}`);
  }
  if (expected.type === 'f' && expected.mtimeNs !== found.mtimeNs) {
    changes.push(`mtime ${nsToIso(expected.mtimeNs)}, now ${nsToIso(found.mtimeNs)}`);
  }
  return changes.length === 0 ? null : { path: at, kind: 'metadata', detail: changes.join('; ') };
}

function typeName(type: ManifestEntryType): string {
  return { f: 'file', d: 'directory', l: 'symlink', o: 'special file' }[type];
}

/** For people: an ISO time, with the nanoseconds when they are not whole milliseconds. */
export function nsToIso(ns: string): string {
  const value = BigInt(ns);
  const ms = value / 1_000_000n;
  const rest = value % 1_000_000n;
  const date = new Date(Number(ms));
  if (Number.isNaN(date.getTime())) return `${ns} ns`;
  const iso = date.toISOString();
  return rest === 0n ? iso : `${iso} (+${rest} ns)`;
}
