import type { BigIntStats } from 'node:fs';

import type { DirectoryRecord, EarlyHash } from './tree-record-share.js';
import type { ShareDeps, ShareKit } from './tree-share-kit.js';

/**
 * One directory of a full backup's manifest, recorded while rsync still transfers the rest of
 * the tree (docs/datapath.md, "Manifests and verify"), then checked once rsync has ended: the
 * small files are read with the CPU time rsync leaves idle, and afterwards the directory costs one
 * `lstat`, not an `open`, a read and a `close` per file.
 *
 * `recordLive` lists the directory and takes each entry's status; it hashes the files under
 * `minBytes` and the symlinks, and leaves the larger files to the early hashes (early-hash.ts).
 * When that makes every line (no subdirectory, no larger file), it compresses them too, into the
 * gzip member the manifest file takes as it is (`LiveRecord.member`): nearly all of a tree of many
 * small files, whose compression then no longer waits for rsync's end either.
 * It keeps the directory's ctime, taken before the listing and found the same after it.
 * `checkLive` takes the directory's status again: another ctime, and nothing of the record is
 * taken (the caller records the directory anew). An entry created, removed or renamed in a
 * directory changes its ctime, and rsync writes each file under a temporary name that it renames
 * over the real one once its content, times and mode are set: so a directory whose ctime is the
 * one recorded holds the files recorded, as they were. (A file changed in place would go unseen:
 * rsync does not do that without `--inplace` or `--append`, which the storage never passes.)
 * A change within one tick of the file system's clock could leave the ctime as it was, so a
 * directory is listed only once its ctime is `SETTLED_MS` old. Subdirectories' lines are made
 * from their `lstat` at the check, as rsync sets a directory's times once it is done with it; a
 * larger file's, from its early hash where its status is the one hashed, else it is read then.
 *
 * Both run as the source text of the manifest's workers (tree-record-pool.ts), so they must stay
 * self-contained: no reference to anything outside them but their parameters and the language's
 * globals (hence the constants inside them).
 */

/** A directory as `recordLive` saw it, kept by its worker until the check. */
export interface LiveRecord {
  readonly dir: string;
  /** Its entries' names, sorted as a walk sorts them. */
  readonly names: string[];
  /** Per entry: its size, its type, and its line (null: to make at the check; none when `member` holds them all). */
  readonly sizes: Float64Array;
  readonly types: string[];
  readonly lines: (string | null)[];
  /**
   * The directory's lines as one gzip member (as lib/common/manifest-file.ts writes a manifest),
   * made while rsync still runs when every line could be made at the listing (no subdirectory, no
   * larger file) and there are enough of them: at the check, the directory costs its `lstat` alone.
   */
  readonly member: Uint8Array | null;
  /** Bytes read. */
  readonly readBytes: number;
  /** The directory's ctime while it was listed: any entry added, removed or renamed over since changes it. */
  readonly ctimeNs: bigint;
}

/** Null when the directory cannot be listed or an entry not read (it is recorded after rsync, as any other). */
export function recordLive(
  deps: ShareDeps,
  kit: ShareKit,
  input: {
    readonly root: string;
    readonly dir: string;
    readonly minBytes: number;
    /** A text as a gzip member; null: none is made. */
    readonly compress: ((text: string) => Uint8Array) | null;
  },
): LiveRecord | null {
  const { fs } = deps;
  const { escape, typeOf, lineOf, hashOpen, hashLink, OPEN_FLAGS } = kit;
  const { root, dir, minBytes, compress } = input;
  // Fewer lines would cost more in a member of their own (a header, a fresh dictionary) than in the manifest's.
  const MEMBER_MIN_LINES = 16;
  const onDisk = (name: string) => (dir === '' ? `${root}/${name}` : `${root}/${dir}/${name}`);
  const prefix = dir === '' ? '' : `${escape(dir)}/`;
  const dirPath = dir === '' ? root : `${root}/${dir}`;
  let listed;
  let before;
  try {
    // Longer than any tick of a file system's clock (at most 10 ms: HZ=100).
    const SETTLED_MS = 20;
    before = fs.lstatSync(dirPath, { bigint: true });
    const waitMs = SETTLED_MS - Number((BigInt(Date.now()) * 1000000n - before.ctimeNs) / 1000000n);
    if (waitMs > 0) {
      // Only this worker waits (rsync, which is past the directory, does not).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, waitMs + 1);
      before = fs.lstatSync(dirPath, { bigint: true });
      if (Number((BigInt(Date.now()) * 1000000n - before.ctimeNs) / 1000000n) < SETTLED_MS) return null;
    }
    listed = fs.readdirSync(dirPath, { withFileTypes: true });
  } catch {
    return null;
  }
  listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names: string[] = [];
  // A number per entry, not its whole status: a tree's records are kept until rsync ends.
  const sizes = new Float64Array(listed.length);
  const small = BigInt(minBytes);
  const types: string[] = [];
  const lines: (string | null)[] = [];
  let readBytes = 0;
  for (const dirent of listed) {
    let fd = -1;
    try {
      let status: BigIntStats | undefined;
      if (dirent.isFile()) {
        try {
          fd = fs.openSync(onDisk(dirent.name), OPEN_FLAGS);
          status = fs.fstatSync(fd, { bigint: true });
        } catch {
          // Not a file any more, or gone: the lstat below tells.
        }
      }
      status ??= fs.lstatSync(onDisk(dirent.name), { bigint: true });
      const type = typeOf(status);
      let line: string | null = null;
      if (type === 'f' && status.size < small) {
        if (fd < 0) fd = fs.openSync(onDisk(dirent.name), OPEN_FLAGS);
        line = lineOf(prefix + escape(dirent.name), type, status, hashOpen(fd, Number(status.size)));
        readBytes += Number(status.size);
      } else if (type === 'l') line = lineOf(prefix + escape(dirent.name), type, status, hashLink(onDisk(dirent.name)));
      sizes[names.length] = Number(status.size);
      names.push(dirent.name);
      types.push(type);
      lines.push(line);
    } catch {
      return null;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }
  try {
    if (fs.lstatSync(dirPath, { bigint: true }).ctimeNs !== before.ctimeNs) return null;
  } catch {
    return null;
  }
  if (compress !== null && lines.length >= MEMBER_MIN_LINES && lines.every((line) => line !== null)) {
    // Its own copy of the bytes: a view into a larger buffer would cross threads whole.
    const member = new Uint8Array(compress(`${lines.join('\n')}\n`));
    return { dir, names, sizes, types, lines: [], member, readBytes, ctimeNs: before.ctimeNs };
  }
  return { dir, names, sizes, types, lines, member: null, readBytes, ctimeNs: before.ctimeNs };
}

/**
 * The record's directory as it is now, under `root` (the tree may have been moved since): its
 * recorded lines, its subdirectories' made now, its larger files' from `early` where the file is
 * the one hashed (else read now). Null when the directory's ctime is no longer the one recorded,
 * or something cannot be read: the caller records it anew, which says what went wrong.
 */
export function checkLive(
  deps: ShareDeps,
  kit: ShareKit,
  input: { readonly root: string; readonly record: LiveRecord; readonly early: ReadonlyMap<string, EarlyHash> | null },
): DirectoryRecord | null {
  const { fs } = deps;
  const { escape, typeOf, lineOf, hashOpen, hashLink, OPEN_FLAGS } = kit;
  const { root, record, early } = input;
  const { dir, names } = record;
  const onDisk = (name: string) => (dir === '' ? `${root}/${name}` : `${root}/${dir}/${name}`);
  const prefix = dir === '' ? '' : `${escape(dir)}/`;
  const sameAsEarly = (a: EarlyHash, b: BigIntStats) =>
    a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
  try {
    if (fs.lstatSync(dir === '' ? root : `${root}/${dir}`, { bigint: true }).ctimeNs !== record.ctimeNs) return null;
  } catch {
    return null;
  }
  if (record.member !== null) {
    // Small files and symlinks only, each line made at the listing.
    let bytes = 0;
    for (let i = 0; i < names.length; i++) bytes += record.sizes[i]!;
    return {
      dir,
      text: '',
      member: record.member,
      entries: names.length,
      subdirs: [],
      hashed: names.length,
      hashedBytes: bytes,
      readBytes: record.readBytes,
      early: 0,
      error: null,
      overBudget: false,
      deferred: [],
    };
  }
  let text = '';
  let hashed = 0;
  let hashedBytes = 0;
  let readBytes = record.readBytes;
  let earlyTaken = 0;
  const subdirs: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const path = prefix + escape(name);
    let fd = -1;
    try {
      const recorded = record.lines[i] ?? null;
      if (recorded !== null) {
        // A small file or a symlink: as it was listed, since the directory is.
        hashed++;
        hashedBytes += record.sizes[i]!;
        text += `${recorded}\n`;
        continue;
      }
      const status = fs.lstatSync(onDisk(name), { bigint: true });
      const type = typeOf(status);
      if (type !== record.types[i]) return null;
      // A subdirectory, a larger file, anything else: as it is now.
      let sha: string | null = null;
      let seen = status;
      if (type === 'f') {
        const known = early?.get(dir === '' ? name : `${dir}/${name}`);
        if (known !== undefined && sameAsEarly(known, status)) {
          sha = known.sha256;
          earlyTaken++;
        } else {
          fd = fs.openSync(onDisk(name), OPEN_FLAGS);
          // Its status from the open file, the one read: it may have changed since the lstat.
          seen = fs.fstatSync(fd, { bigint: true });
          if (typeOf(seen) !== 'f') return null;
          sha = hashOpen(fd, Number(seen.size));
          readBytes += Number(seen.size);
        }
      } else if (type === 'l') sha = hashLink(onDisk(name));
      if (type === 'd') subdirs.push(dir === '' ? name : `${dir}/${name}`);
      if (type === 'f' || type === 'l') {
        hashed++;
        hashedBytes += Number(seen.size);
      }
      text += `${lineOf(path, type, seen, sha)}\n`;
    } catch {
      return null;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }
  return {
    dir,
    text,
    entries: names.length,
    subdirs,
    hashed,
    hashedBytes,
    readBytes,
    early: earlyTaken,
    error: null,
    overBudget: false,
    deferred: [],
  };
}
