import type { ShareDeps, ShareKit } from './tree-share-kit.js';

/**
 * One worker's share of a full verify on worker threads (tree-verify-pool.ts; docs/datapath.md,
 * "Manifests and verify"): the walk, the hashing and the comparison of whole directories at once,
 * on the manifest's text as it is, so that no thread builds an object per entry.
 *
 * Every worker gets the whole text, groups its lines by parent directory, and shares the
 * directories out between the workers by their bytes and entries, the same way in each (largest
 * first, to the least loaded), so no thread hands out work. For each of its directories it lists
 * the entries on disk (`readdir`, then `lstat`), hashes the files and symlinks whose type and
 * size agree with the manifest (a file of up to 1 MiB with one read sized by the manifest, plus a
 * byte to see growth), writes each entry's line as the manifest would and compares the two lines.
 * Only the lines that differ go back: the main thread parses them and says what differs, with the
 * same code as the single-threaded verify (a line that equals the line made from the disk is valid
 * by construction, so a damaged line is always among them).
 *
 * `verifyShare` runs as the source text of a worker (tree-verify-pool.ts), so it must stay
 * self-contained: no reference to anything outside it but its parameters and the language's globals.
 * What it shares with the recording's workers (lines, escapes, hashing) comes as `kit`
 * (tree-share-kit.ts).
 */

export interface ShareInput {
  /** The tree's root, absolute. */
  readonly root: string;
  /** The manifest's entry lines (the text after its header line). */
  readonly body: string;
  readonly share: number;
  readonly shares: number;
}

export type { ShareDeps };

/**
 * An entry line of the manifest and the line made from the disk that differ: `expected` null for
 * an entry not in the manifest, `found` null for one not on disk; `lineNumber` counts from the
 * body's first line (1).
 */
export interface LineDifference {
  readonly lineNumber: number | null;
  readonly expected: string | null;
  readonly found: string | null;
}

export interface ShareResult {
  readonly checkedFiles: number;
  readonly checkedBytes: number;
  readonly differences: LineDifference[];
  /** Paths (not escaped) that could not be read, and why. */
  readonly unreadable: { readonly path: string; readonly detail: string; readonly directory: boolean }[];
}

export function verifyShare(deps: ShareDeps, kit: ShareKit, input: ShareInput): ShareResult {
  const { fs } = deps;
  const { escape, unescape, typeOf, lineOf, hashOpen, hashLink, OPEN_FLAGS, message, code } = kit;
  /** What listing and opening an entry costs beside its bytes, for sharing the directories out. */
  const ENTRY_COST = 64 * 1024;
  const lines = input.body.split('\n');
  if (lines.at(-1) === '') lines.pop();

  // The directories (by escaped path) and the lines of their entries, in the manifest's order.
  interface Group {
    readonly path: string;
    readonly lines: number[];
    cost: number;
  }
  const groups = new Map<string, Group>();
  const groupOf = (path: string) => {
    let group = groups.get(path);
    if (group === undefined) groups.set(path, (group = { path, lines: [], cost: ENTRY_COST }));
    return group;
  };
  // Lines of one directory come together (a walk's order): the previous line's group is tried first.
  let group = groupOf('');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const tab = line.indexOf('\t');
    const end = tab < 0 ? line.length : tab;
    const slash = line.lastIndexOf('/', end - 1);
    if ((slash < 0 ? 0 : slash) !== group.path.length || !line.startsWith(group.path))
      group = groupOf(slash < 0 ? '' : line.slice(0, slash));
    group.lines.push(i);
    const sizeStart = line.indexOf('\t', tab + 1) + 1;
    group.cost += ENTRY_COST + (Number(line.slice(sizeStart, line.indexOf('\t', sizeStart))) || 0);
    if (line[tab + 1] === 'd') groupOf(line.slice(0, end));
  }
  const all = [...groups.values()];
  const loads: number[] = new Array<number>(input.shares).fill(0);
  const mine: Group[] = [];
  for (const group of [...all].sort((a, b) => b.cost - a.cost)) {
    const least = loads.indexOf(Math.min(...loads));
    loads[least]! += group.cost;
    if (least === input.share) mine.push(group);
  }

  let checkedFiles = 0;
  let checkedBytes = 0;
  const differences: LineDifference[] = [];
  const unreadable: ShareResult['unreadable'] = [];
  const onDisk = (path: string) => (path === '' ? input.root : `${input.root}/${path}`);

  /** Whether `path` and every directory above it are directories, not symlinks (as a walk from the root finds them). */
  const realDirs = new Map<string, boolean>([['', true]]);
  const isRealDir = (path: string): boolean => {
    let real = realDirs.get(path);
    if (real === undefined) {
      const slash = path.lastIndexOf('/');
      real = isRealDir(slash < 0 ? '' : path.slice(0, slash));
      if (real) {
        try {
          real = fs.lstatSync(onDisk(unescape(path)), { bigint: true }).isDirectory();
        } catch {
          real = false;
        }
      }
      realDirs.set(path, real);
    }
    return real;
  };

  /** Lists a directory; null (and the reason noted) when it cannot be read. */
  const list = (plain: string): string[] | null => {
    try {
      return fs.readdirSync(onDisk(plain));
    } catch (error) {
      unreadable.push({ path: plain, detail: message(error), directory: true });
      return null;
    }
  };

  /** Everything under a directory the manifest does not have: extra, as a walk finds it. */
  const walkExtra = (path: string, plain: string): void => {
    for (const name of list(plain) ?? []) {
      const child = `${path}/${escape(name)}`;
      const childPlain = `${plain}/${name}`;
      let stats;
      try {
        stats = fs.lstatSync(onDisk(childPlain), { bigint: true });
      } catch (error) {
        if (code(error) !== 'ENOENT') unreadable.push({ path: childPlain, detail: message(error), directory: false });
        continue;
      }
      const type = typeOf(stats);
      differences.push({ lineNumber: null, expected: null, found: lineOf(child, type, stats, null) });
      if (type === 'd') walkExtra(child, childPlain);
    }
  };

  for (const group of mine) {
    const prefix = group.path === '' ? 0 : group.path.length + 1;
    const expected = new Map<string, number>();
    for (const i of group.lines) {
      const line = lines[i]!;
      expected.set(line.slice(prefix, line.indexOf('\t')), i);
    }
    const plainDir = unescape(group.path);
    const missing = () => {
      for (const i of expected.values()) differences.push({ lineNumber: i + 1, expected: lines[i]!, found: null });
    };
    if (!isRealDir(group.path)) {
      missing();
      continue;
    }
    let names: string[];
    try {
      names = fs.readdirSync(onDisk(plainDir));
    } catch (error) {
      // Gone since its parent's listing (which says so): its entries are missing.
      if (group.path !== '' && (code(error) === 'ENOENT' || code(error) === 'ENOTDIR')) missing();
      else unreadable.push({ path: plainDir, detail: message(error), directory: true });
      continue;
    }
    for (const name of names) {
      const escaped = escape(name);
      const path = group.path === '' ? escaped : `${group.path}/${escaped}`;
      const plain = group.path === '' ? name : `${plainDir}/${name}`;
      const i = expected.get(escaped);
      const want = i === undefined ? undefined : lines[i]!;
      const fields = want?.split('\t');
      let fd = -1;
      let stats;
      // A file the manifest has as a file is opened first, its status taken from the open file (OPEN_FLAGS).
      if (fields !== undefined && fields[1] === 'f' && fields[5] !== '-') {
        try {
          fd = fs.openSync(onDisk(plain), OPEN_FLAGS);
          stats = fs.fstatSync(fd, { bigint: true });
        } catch {
          // A symlink now, gone, unreadable: the lstat below tells.
        }
      }
      try {
        if (stats === undefined) {
          try {
            stats = fs.lstatSync(onDisk(plain), { bigint: true });
          } catch (error) {
            if (code(error) !== 'ENOENT') {
              expected.delete(escaped);
              unreadable.push({ path: plain, detail: message(error), directory: false });
            }
            continue;
          }
        }
        const type = typeOf(stats);
        if (i === undefined || want === undefined || fields === undefined) {
          differences.push({ lineNumber: null, expected: null, found: lineOf(path, type, stats, null) });
          if (type === 'd') walkExtra(path, plain);
          continue;
        }
        expected.delete(escaped);
        let sha: string | null = null;
        if (fields[1] === type && fields[5] !== '-' && (type !== 'f' || fields[2] === String(stats.size))) {
          try {
            if (type === 'l') sha = hashLink(onDisk(plain));
            else {
              if (fd < 0) fd = fs.openSync(onDisk(plain), OPEN_FLAGS);
              sha = hashOpen(fd, Number(stats.size));
            }
          } catch (error) {
            unreadable.push({ path: plain, detail: message(error), directory: false });
            continue;
          }
          checkedFiles++;
          if (type === 'f') checkedBytes += Number(stats.size);
        }
        const found = lineOf(path, type, stats, sha);
        if (found !== want) differences.push({ lineNumber: i + 1, expected: want, found });
        // A directory the manifest has as something else: a walk goes into it, and all it holds is extra.
        if (type === 'd' && fields[1] !== 'd') walkExtra(path, plain);
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
    }
    missing();
  }
  return { checkedFiles, checkedBytes, differences, unreadable };
}
