import type * as Crypto from 'node:crypto';
import type * as Fs from 'node:fs';

/**
 * What the worker threads that read a tree by whole directories share (docs/datapath.md,
 * "Manifests and verify"): the verify's (tree-verify-share.ts) and the recording's
 * (tree-record-share.ts). A manifest line made from an entry's status, a path's escapes, the
 * hashing of an open file.
 *
 * `shareKit` runs as the source text of a worker (tree-verify-pool.ts, tree-record-pool.ts), so it
 * must stay self-contained: no reference to anything outside it but its parameters and the
 * language's globals. Its lines are those of lib/turku/manifest.ts `encodeEntryLine` (the tests
 * compare them).
 */

export interface ShareDeps {
  readonly fs: typeof Fs;
  readonly crypto: typeof Crypto;
}

export interface ShareKit {
  /** A path's text in a manifest line: `\`, TAB, LF and CR escaped. */
  readonly escape: (name: string) => string;
  readonly unescape: (text: string) => string;
  readonly typeOf: (stats: Fs.BigIntStats) => 'f' | 'd' | 'l' | 'o';
  /** The entry's manifest line (`path` already escaped). */
  readonly lineOf: (path: string, type: string, stats: Fs.BigIntStats, sha: string | null) => string;
  /** The SHA-256 of an open regular file of `size` bytes (by its status). */
  readonly hashOpen: (fd: number, size: number) => string;
  /** The SHA-256 of a symlink's target. */
  readonly hashLink: (path: string) => string;
  /**
   * For opening a file before anything else and taking its status from the open file: one lookup
   * of its path, not two (lstat, then open). Not through a symlink (ELOOP), and a fifo put in its
   * place does not block.
   */
  readonly OPEN_FLAGS: number;
  readonly message: (error: unknown) => string;
  readonly code: (error: unknown) => unknown;
}

export function shareKit(deps: ShareDeps): ShareKit {
  const { fs, crypto } = deps;
  const READ_SIZE = 1 << 20;
  const buffer = Buffer.allocUnsafe(READ_SIZE);
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fs.constants;
  return {
    escape: (name) =>
      /[\\\t\n\r]/.test(name)
        ? name.replace(/[\\\t\n\r]/g, (c) => ({ '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c] ?? '\\\\')
        : name,
    unescape: (text) =>
      text.includes('\\') ? text.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c) : text,
    typeOf: (stats) => (stats.isFile() ? 'f' : stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : 'o'),
    lineOf: (path, type, stats, sha) =>
      `${path}\t${type}\t${type === 'd' ? 0 : stats.size}\t${(stats.mode & 0o7777n).toString(8)}\t${stats.mtimeNs}\t${sha ?? '-'}`,
    hashOpen: (fd, size) => {
      let hash: Crypto.Hash;
      if (size < READ_SIZE) {
        const n = fs.readSync(fd, buffer, 0, size + 1, null);
        // A regular file's read returns less than asked only at its end.
        if (n <= size) return crypto.hash('sha256', buffer.subarray(0, n), 'hex');
        hash = crypto.createHash('sha256').update(buffer.subarray(0, n));
      } else hash = crypto.createHash('sha256');
      for (let n = fs.readSync(fd, buffer, 0, READ_SIZE, null); n > 0; n = fs.readSync(fd, buffer, 0, READ_SIZE, null))
        hash.update(buffer.subarray(0, n));
      return hash.digest('hex');
    },
    hashLink: (path) => crypto.hash('sha256', fs.readlinkSync(path, { encoding: 'buffer' }), 'hex'),
    OPEN_FLAGS: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
    // Duck-typed, as errorMessage (errors.ts): Node's errors may come from another realm.
    message: (error) => {
      const text = (error as { message?: unknown } | null)?.message;
      return typeof text === 'string' ? text : String(error);
    },
    code: (error) => (error as { code?: unknown } | null)?.code,
  };
}
