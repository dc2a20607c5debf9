import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';

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

/**
 * Everything rsync --archive promises to keep, by relative path; the root itself is ''. A name
 * that is not UTF-8 is keyed with its other bytes as `\xNN` (see `nameKey`).
 */
export async function describeTree(root: string): Promise<Record<string, Entry>> {
  return (await walkTree(root)).entries;
}

async function walkTree(root: string): Promise<{ entries: Record<string, Entry>; inodes: Record<string, number> }> {
  const entries: Record<string, Entry> = {};
  const inodeOf: Record<string, number> = {};
  const pathsOfInode = new Map<number, string[]>();
  const walk = async (path: Buffer, relative: string): Promise<void> => {
    const info = await lstat(path);
    let type: Entry['type'] = 'other';
    let content: string | null = null;
    if (info.isSymbolicLink()) {
      type = 'symlink';
      content = await readlink(path, 'utf8');
    } else if (info.isFile()) {
      type = 'file';
      content = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      pathsOfInode.set(info.ino, [...(pathsOfInode.get(info.ino) ?? []), relative]);
      inodeOf[relative] = info.ino;
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
    if (type !== 'dir') return;
    const names = (await readdir(path, { encoding: 'buffer' })).map((name) => ({ name, key: nameKey(name) }));
    for (const { name, key } of names.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      await walk(Buffer.concat([path, Buffer.from('/'), name]), relative === '' ? key : `${relative}/${key}`);
    }
  };
  await walk(Buffer.from(root), '');
  // Links to files outside the tree (e.g. an earlier snapshot) do not count.
  for (const paths of pathsOfInode.values()) {
    if (paths.length < 2) continue;
    for (const relative of paths) entries[relative] = { ...entries[relative]!, linkGroup: paths[0]! };
  }
  return { entries, inodes: inodeOf };
}

/** The name itself when it is UTF-8, else its printable ASCII bytes with `\xNN` for the rest. */
function nameKey(name: Buffer): string {
  const text = name.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(name)) return text;
  return [...name]
    .map((byte) =>
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

/** Inode numbers by relative path of the regular files. */
export async function inodes(root: string): Promise<Record<string, number>> {
  return (await walkTree(root)).inodes;
}
