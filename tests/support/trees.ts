import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Describing directory trees, to prove a backup or a restore byte-identical. */

export interface Entry {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Files: whole seconds (rsync keeps them; sub-second precision depends on the filesystem). */
  readonly mtime: number | null;
  /** sha256 of a file, target of a symlink. */
  readonly content: string | null;
  /** The first path of the tree sharing this file's inode, for hard links. */
  readonly linkGroup: string | null;
}

/** Everything rsync --archive promises to keep, by relative path; the root itself is ''. */
export async function describeTree(root: string): Promise<Record<string, Entry>> {
  const entries: Record<string, Entry> = {};
  const pathsOfInode = new Map<number, string[]>();
  const walk = async (relative: string): Promise<void> => {
    const path = relative === '' ? root : join(root, relative);
    const info = await lstat(path);
    let type: Entry['type'] = 'other';
    let content: string | null = null;
    if (info.isSymbolicLink()) {
      type = 'symlink';
      content = await readlink(path);
    } else if (info.isFile()) {
      type = 'file';
      content = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      pathsOfInode.set(info.ino, [...(pathsOfInode.get(info.ino) ?? []), relative]);
    } else if (info.isDirectory()) {
      type = 'dir';
    }
    entries[relative] = {
      type,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      mtime: type === 'file' ? Math.floor(info.mtimeMs / 1000) : null,
      content,
      linkGroup: null,
    };
    if (type === 'dir') {
      for (const name of (await readdir(path)).sort()) await walk(relative === '' ? name : join(relative, name));
    }
  };
  await walk('');
  // Links to files outside the tree (e.g. an earlier snapshot) do not count.
  for (const paths of pathsOfInode.values()) {
    if (paths.length < 2) continue;
    for (const relative of paths) entries[relative] = { ...entries[relative]!, linkGroup: paths[0]! };
  }
  return entries;
}

/** Inode numbers by relative path of the regular files. */
export async function inodes(root: string): Promise<Record<string, number>> {
  const tree = await describeTree(root);
  const result: Record<string, number> = {};
  for (const [relative, entry] of Object.entries(tree)) {
    if (entry.type === 'file') result[relative] = (await lstat(join(root, relative))).ino;
  }
  return result;
}
