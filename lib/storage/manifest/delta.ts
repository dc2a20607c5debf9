import {
  escapePath,
  ManifestFormatError,
  parseManifestLine,
  unescapePath,
  type ManifestHeader,
} from '../../turku/manifest.js';
import { comparePaths, type ChangedEntries } from './patch.js';

/**
 * An incremental's manifest kept as a delta on its base's (docs/datapath.md, "Manifests and
 * verify"): the entries the pull changed, and the base entries it removed, nothing else. The
 * whole manifest is the base's (itself whole or a delta) patched with it (patch.ts), made only when
 * something reads it; so a 1 % incremental neither decompresses nor compresses the other 99 %.
 *
 * Text, gzip'd as `<dir>.manifest-delta.gz` beside the snapshot:
 *   turku-manifest-delta<TAB>1<TAB><JSON header>
 *   +<an entry line of the manifest format>     an entry the pull created or changed, in walk order
 *   -<escaped path>                             a base entry removed, with everything under it
 */

export const DELTA_MAGIC = 'turku-manifest-delta';
export const DELTA_VERSION = 1;

/**
 * Deltas in a row at most: the next incremental's manifest is written whole. It bounds what one
 * damaged file can take with it, and what reading the newest manifest costs.
 */
export const MAX_DELTA_DEPTH = 16;

/** The manifest a delta applies to: the base snapshot's directory, and that manifest's own header fields. */
export interface BaseRef {
  readonly dir: string;
  readonly snapshot: string;
  readonly created: string;
}

export interface DeltaHeader extends Omit<ManifestHeader, 'reused'> {
  readonly base: BaseRef;
  /** 1 on a whole manifest, one more than its base's on a delta. */
  readonly depth: number;
}

export interface Delta {
  readonly header: DeltaHeader;
  readonly changed: ChangedEntries;
}

export function encodeDelta(delta: Delta): string {
  const { header, changed } = delta;
  const head = {
    snapshot: header.snapshot,
    created: header.created,
    recorded: header.recorded,
    hashed: header.hashed,
    base: { dir: header.base.dir, snapshot: header.base.snapshot, created: header.base.created },
    depth: header.depth,
  };
  const lines = [`${DELTA_MAGIC}\t${DELTA_VERSION}\t${JSON.stringify(head)}`];
  for (const path of [...changed.removed].sort(comparePaths)) lines.push(`-${escapePath(path)}`);
  for (const { line } of changed.added) lines.push(`+${line}`);
  return `${lines.join('\n')}\n`;
}

/** The header alone (the first line of a delta's text). */
export function parseDeltaHeader(firstLine: string): DeltaHeader {
  const [magic, version, json] = firstLine.split('\t');
  if (magic !== DELTA_MAGIC) throw new ManifestFormatError('not a turku manifest delta');
  if (version !== String(DELTA_VERSION)) throw new ManifestFormatError(`unsupported manifest delta version ${version}`);
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(json ?? '') as Record<string, unknown>;
  } catch {
    throw new ManifestFormatError('manifest delta header is not JSON');
  }
  const base = (h.base ?? {}) as Record<string, unknown>;
  const strings = [h.snapshot, h.created, base.dir, base.snapshot, base.created];
  if (
    strings.some((value) => typeof value !== 'string' || value === '') ||
    (h.recorded !== 'backup' && h.recorded !== 'after-the-fact') ||
    !Number.isSafeInteger(h.hashed) ||
    !Number.isSafeInteger(h.depth) ||
    (h.depth as number) < 1
  ) {
    throw new ManifestFormatError('manifest delta header lacks a field');
  }
  return {
    snapshot: h.snapshot as string,
    created: h.created as string,
    recorded: h.recorded,
    hashed: h.hashed as number,
    base: { dir: base.dir as string, snapshot: base.snapshot as string, created: base.created as string },
    depth: h.depth as number,
  };
}

/** A delta's text, every line checked (a delta is small: each entry line is parsed). */
export function parseDelta(text: string): Delta {
  if (!text.endsWith('\n')) throw new ManifestFormatError('manifest delta does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const header = parseDeltaHeader(lines[0]!);
  const added: { path: string; line: string }[] = [];
  const removed = new Set<string>();
  let hashedBytes = 0;
  lines.forEach((line, index) => {
    if (index === 0) return;
    if (line.startsWith('-') && line.length > 1) {
      removed.add(unescapePath(line.slice(1)));
    } else if (line.startsWith('+')) {
      const entry = parseManifestLine(line.slice(1), index + 1);
      if (added.length > 0 && comparePaths(added.at(-1)!.path, entry.path) >= 0) {
        throw new ManifestFormatError(`manifest delta line ${index + 1}: out of walk order`);
      }
      added.push({ path: entry.path, line: line.slice(1) });
      if (entry.type === 'f') hashedBytes += entry.size;
    } else {
      throw new ManifestFormatError(`manifest delta line ${index + 1}: neither an entry added nor one removed`);
    }
  });
  return { header, changed: { added, removed, hashed: header.hashed, hashedBytes } };
}

/**
 * One delta's changes followed by the next one's, as a single delta on the first one's base:
 * patching with the result is patching with the two in turn. The later one's removals take the
 * earlier one's entries under them too, and its entries replace the earlier one's of the same path.
 */
export function composeChanges(earlier: ChangedEntries, later: ChangedEntries): ChangedEntries {
  const replaced = new Set(later.added.map((entry) => entry.path));
  const kept = earlier.added.filter((entry) => !replaced.has(entry.path) && !isUnder(entry.path, later.removed));
  return {
    added: [...kept, ...later.added].sort((a, b) => comparePaths(a.path, b.path)),
    removed: new Set([...earlier.removed, ...later.removed]),
    hashed: later.hashed,
    hashedBytes: later.hashedBytes,
  };
}

/** Whether `path` or a directory above it is in `roots`. */
function isUnder(path: string, roots: ReadonlySet<string>): boolean {
  if (roots.size === 0) return false;
  for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
    if (roots.has(path.slice(0, slash))) return true;
  }
  return roots.has(path);
}

/** Regular files among a delta's entries. */
export function addedFiles(changed: ChangedEntries): number {
  let files = 0;
  for (const { line } of changed.added) if (line.charCodeAt(line.indexOf('\t') + 1) === 0x66 /* f */) files++;
  return files;
}
