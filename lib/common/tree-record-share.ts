import type { ShareDeps, ShareKit } from './tree-share-kit.js';

/**
 * One directory of a tree's manifest, recorded whole by one thread (tree-record-pool.ts;
 * docs/datapath.md, "Manifests and verify"), as the verify's workers check theirs
 * (tree-verify-share.ts): it lists the directory, opens each regular file and takes its status
 * from the open file (one lookup of the path, not an `lstat` and an `open`) and hashes it, takes
 * the others' status with `lstat`, and writes the entries' manifest lines as text. A file hashed
 * while rsync ran is not opened: its `lstat` says whether it is still the file read then, whose
 * hash it takes (else it is opened and read as any other). Nothing goes back per entry but that
 * text: no object per entry crosses threads or is kept.
 *
 * `recordDirectory` runs as the source text of a worker (tree-record-pool.ts), so it must stay
 * self-contained: no reference to anything outside it but its parameters and the language's globals.
 */

/** A hash taken while rsync ran (lib/storage/manifest/early-hash.ts) and the file's identity then. */
export interface EarlyHash {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly sha256: string;
}

export interface RecordDirectoryInput {
  /** The tree's root, absolute. */
  readonly root: string;
  /** The directory, relative to the root ('' for the root), not escaped. */
  readonly dir: string;
  /** By path relative to the root (not escaped). */
  readonly early: ReadonlyMap<string, EarlyHash> | null;
  /** Given up past this many entries listed or bytes read (the main thread's first directories); none by default. */
  readonly budget?: { readonly entries: number; readonly bytes: number };
  /**
   * Files of this many bytes and more are not hashed here but listed in `deferred`, their lines
   * holding `\0<index>\0` for the hash (no path holds a NUL): the pool hashes them one by one,
   * so that a directory of large files is shared out too. None by default.
   */
  readonly deferFrom?: number;
}

/** A file whose hash the line of index `index` in `deferred` waits for. */
export interface DeferredFile {
  /** Relative to the root, not escaped. */
  readonly path: string;
  readonly size: number;
}

export interface DirectoryRecord {
  readonly dir: string;
  /** The entries' lines in name order, each ending with LF ('' when `member` holds them). */
  readonly text: string;
  /** The same lines as one gzip member, made while rsync ran (tree-record-live.ts); absent: in `text`. */
  readonly member?: Uint8Array;
  readonly entries: number;
  /** Its subdirectories (not escaped), in name order. */
  readonly subdirs: string[];
  /** Files and symlinks hashed (the early hashes taken among them). */
  readonly hashed: number;
  readonly hashedBytes: number;
  /** Of `hashedBytes`, those read here (not taken from `early`, not deferred). */
  readonly readBytes: number;
  readonly early: number;
  /** What could not be read ("path: reason"): the manifest cannot be recorded. */
  readonly error: string | null;
  /** Over the budget: nothing recorded. */
  readonly overBudget: boolean;
  readonly deferred: DeferredFile[];
}

export function recordDirectory(deps: ShareDeps, kit: ShareKit, input: RecordDirectoryInput): DirectoryRecord {
  const { fs } = deps;
  const { escape, typeOf, lineOf, hashOpen, hashLink, OPEN_FLAGS, message } = kit;
  const { dir, early, budget, deferFrom } = input;
  const onDisk = (path: string) => (path === '' ? input.root : `${input.root}/${path}`);
  const prefix = dir === '' ? '' : `${escape(dir)}/`;
  let text = '';
  let hashed = 0;
  let hashedBytes = 0;
  let readBytes = 0;
  let earlyTaken = 0;
  const subdirs: string[] = [];
  const deferred: DeferredFile[] = [];
  const record = (entries: number, error: string | null, overBudget = false): DirectoryRecord => ({
    dir,
    text: error === null && !overBudget ? text : '',
    entries: error === null && !overBudget ? entries : 0,
    subdirs: error === null && !overBudget ? subdirs : [],
    hashed,
    hashedBytes,
    readBytes,
    early: earlyTaken,
    error,
    overBudget,
    deferred,
  });

  let listed;
  try {
    listed = fs.readdirSync(onDisk(dir), { withFileTypes: true });
  } catch (error) {
    return record(0, `${dir === '' ? '.' : dir}: ${message(error)}`);
  }
  if (budget !== undefined && listed.length > budget.entries) return record(0, null, true);
  // As a walk sorts them (lib/common/tree-manifest.ts `walkTree`): by UTF-16 code units.
  listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const dirent of listed) {
    const plain = dir === '' ? dirent.name : `${dir}/${dirent.name}`;
    let fd = -1;
    try {
      let stats;
      let sha: string | null = null;
      const known = dirent.isFile() ? early?.get(plain) : undefined;
      if (known !== undefined) {
        // Hashed while rsync ran: its status alone tells whether it is still the file read then.
        const now = fs.lstatSync(onDisk(plain), { bigint: true });
        if (
          known.ino === now.ino &&
          known.dev === now.dev &&
          known.size === now.size &&
          known.mtimeNs === now.mtimeNs &&
          known.ctimeNs === now.ctimeNs &&
          typeOf(now) === 'f'
        ) {
          stats = now;
          sha = known.sha256;
          earlyTaken++;
        }
      }
      if (stats === undefined && dirent.isFile()) {
        try {
          fd = fs.openSync(onDisk(plain), OPEN_FLAGS);
          stats = fs.fstatSync(fd, { bigint: true });
        } catch {
          // Replaced since the listing (a symlink now, gone): the lstat below tells.
        }
      }
      stats ??= fs.lstatSync(onDisk(plain), { bigint: true });
      const type = typeOf(stats);
      if (type === 'f' && sha === null) {
        if (deferFrom !== undefined && Number(stats.size) >= deferFrom) {
          sha = `\0${deferred.length}\0`;
          deferred.push({ path: plain, size: Number(stats.size) });
        } else {
          if (fd < 0) fd = fs.openSync(onDisk(plain), OPEN_FLAGS);
          sha = hashOpen(fd, Number(stats.size));
          readBytes += Number(stats.size);
        }
      } else if (type === 'l') sha = hashLink(onDisk(plain));
      else if (type === 'd') subdirs.push(plain);
      if (sha !== null) {
        hashed++;
        hashedBytes += Number(stats.size);
        if (budget !== undefined && readBytes > budget.bytes) return record(0, null, true);
      }
      text += `${lineOf(prefix + escape(dirent.name), type, stats, sha)}\n`;
    } catch (error) {
      return record(0, `${plain}: ${message(error)}`);
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }
  return record(listed.length, null);
}

/** The SHA-256 of a file `recordDirectory` deferred; the error ("path: reason") when it cannot be read. */
export function hashDeferred(
  deps: ShareDeps,
  kit: ShareKit,
  root: string,
  file: DeferredFile,
): { readonly sha256: string } | { readonly error: string } {
  let fd = -1;
  try {
    fd = deps.fs.openSync(`${root}/${file.path}`, kit.OPEN_FLAGS);
    return { sha256: kit.hashOpen(fd, file.size) };
  } catch (error) {
    return { error: `${file.path}: ${kit.message(error)}` };
  } finally {
    if (fd >= 0) deps.fs.closeSync(fd);
  }
}
