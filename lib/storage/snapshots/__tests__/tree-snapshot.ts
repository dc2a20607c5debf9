import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';

/**
 * A tree as bytes and numbers, for comparing a snapshot with what rsync makes: every name is
 * read as a Buffer (keyed by hex, so names that are not UTF-8 compare exactly), and every entry
 * gives its type, mode, owner, mtime (nanoseconds), size, content digest or symlink target, and
 * its hard-link group inside the tree.
 */

export interface TreeEntry {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: string;
  readonly size: number;
  /** sha256 of a file's bytes; a symlink's target in hex. */
  readonly content: string | null;
  /** The first path (in walk order) of the tree with this inode, when another path shares it. */
  readonly linkGroup: string | null;
}

export interface TreeSnapshot {
  /** By path key: `\xNN`-free hex of the relative path bytes ('' is the root). */
  readonly entries: Record<string, TreeEntry>;
  /** Inode of each non-directory, by path key. */
  readonly inodes: Record<string, bigint>;
}

/** A readable form of a path key, for failure messages. */
export function showPath(key: string): string {
  return JSON.stringify(Buffer.from(key, 'hex').toString('latin1'));
}

export async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const entries: Record<string, TreeEntry> = {};
  const inodes: Record<string, bigint> = {};
  const byInode = new Map<bigint, string[]>();
  const walk = async (path: Buffer, relative: Buffer): Promise<void> => {
    const info = await lstat(path, { bigint: true });
    const key = relative.toString('hex');
    let type: TreeEntry['type'] = 'other';
    let content: string | null = null;
    if (info.isSymbolicLink()) {
      type = 'symlink';
      content = (await readlink(path, { encoding: 'buffer' })).toString('hex');
    } else if (info.isFile()) {
      type = 'file';
      content = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
    } else if (info.isDirectory()) {
      type = 'dir';
    }
    if (type !== 'dir') {
      inodes[key] = info.ino;
      byInode.set(info.ino, [...(byInode.get(info.ino) ?? []), key]);
    }
    entries[key] = {
      path: relative.toString('latin1'),
      type,
      mode: Number(info.mode & 0o7777n),
      uid: Number(info.uid),
      gid: Number(info.gid),
      mtimeNs: info.mtimeNs.toString(),
      size: type === 'dir' ? 0 : Number(info.size),
      content,
      linkGroup: null,
    };
    if (type !== 'dir') return;
    const names = (await readdir(path, { encoding: 'buffer' })).sort((a, b) => Buffer.compare(a, b));
    for (const name of names) {
      const child = relative.length === 0 ? name : Buffer.concat([relative, Buffer.from('/'), name]);
      await walk(Buffer.concat([path, Buffer.from('/'), name]), child);
    }
  };
  await walk(Buffer.from(root), Buffer.alloc(0));
  for (const keys of byInode.values()) {
    if (keys.length < 2) continue;
    for (const key of keys) entries[key] = { ...entries[key]!, linkGroup: keys[0]! };
  }
  return { entries, inodes };
}

/** The non-directories of `tree` that are the very inode `base` has at the same path. */
export function sharedWith(tree: TreeSnapshot, base: TreeSnapshot): string[] {
  return Object.keys(tree.inodes)
    .filter((key) => base.inodes[key] === tree.inodes[key])
    .sort();
}
