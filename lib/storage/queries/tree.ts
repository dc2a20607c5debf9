import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

import { isErrno } from '../../common/errors.js';
import type { EntryLine, EntryType } from '../../turku/protocol/queries.js';
import type { PathPattern } from '../../turku/path-pattern.js';
import type { PathState } from './changes.js';

/**
 * Reading a link-dest snapshot's tree for the queries without ever following a symlink stored in
 * it: each component of a requested path is lstat'ed, and a stored `x -> /` is reported as a link,
 * never entered (so `list-files s x/etc` cannot read the storage's own /etc).
 */

export class QueryRefusal extends Error {
  override name = 'QueryRefusal';
}

/** Where `parts` leads inside `root`: a directory to list, or one other entry (shown alone). */
export type Resolved = { readonly dir: string } | { readonly file: string; readonly stats: Stats };

export async function resolveInside(root: string, parts: readonly string[]): Promise<Resolved> {
  let current = root;
  for (const [index, part] of parts.entries()) {
    const shown = parts.slice(0, index + 1).join('/');
    const next = join(current, part);
    let stats: Stats;
    try {
      stats = await lstat(next);
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR'))
        throw new QueryRefusal(`no "${shown}" in the snapshot`);
      throw error;
    }
    if (stats.isSymbolicLink()) {
      if (index === parts.length - 1) return { file: next, stats };
      throw new QueryRefusal(`"${shown}" is a symbolic link in the snapshot; links are not followed`);
    }
    if (!stats.isDirectory()) {
      if (index === parts.length - 1) return { file: next, stats };
      throw new QueryRefusal(`"${shown}" is not a directory`);
    }
    current = next;
  }
  return { dir: current };
}

export function entryType(stats: Stats | Dirent): EntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  return 'other';
}

const TYPE_LETTER: Record<EntryType, string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  fifo: 'p',
  socket: 's',
  char: 'c',
  block: 'b',
  other: '?',
};

/** `ls -l`'s mode column, e.g. `drwxr-sr-x`, `-rwsr-xr-x`, `drwxrwxrwt`. */
export function modeString(type: EntryType, mode: number): string {
  const bit = (mask: number, letter: string) => ((mode & mask) !== 0 ? letter : '-');
  const special = (exec: number, flag: number, on: string, off: string) => {
    const x = (mode & exec) !== 0;
    if ((mode & flag) === 0) return x ? 'x' : '-';
    return x ? on : off;
  };
  return (
    TYPE_LETTER[type] +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't', 'T')
  );
}

export async function entryLine(name: string, path: string, stats: Stats): Promise<EntryLine> {
  const type = entryType(stats);
  const line: EntryLine = {
    type: 'entry',
    name,
    entry: type,
    size: stats.size,
    mode: modeString(type, stats.mode),
    mtime: stats.mtime.toISOString(),
  };
  if (type === 'symlink') return { ...line, target: await readlink(path).catch(() => '?') };
  return line;
}

/** A directory's entries: the first `limit` by name, lstat'ed, and how many more there are. */
export async function listDirectory(dir: string, limit: number): Promise<{ entries: EntryLine[]; more: number }> {
  const names = (await readdir(dir)).sort();
  const entries: EntryLine[] = [];
  for (const name of names.slice(0, limit)) {
    const path = join(dir, name);
    const stats = await lstat(path).catch(() => undefined);
    if (stats !== undefined) entries.push(await entryLine(name, path, stats));
  }
  return { entries, more: Math.max(0, names.length - limit) };
}

/** Stops a walk: true once the time allowed is over. */
export type Expired = () => boolean;

/**
 * Walks `root` (never through a symlink) and calls `visit` with each entry's path relative to
 * the snapshot's top; resolves false when `expired` stopped it.
 */
export async function walk(
  root: string,
  start: readonly string[],
  options: { readonly maxDepth: number; readonly expired: Expired },
  visit: (relative: string, dirent: Dirent, absolute: string) => Promise<void> | void,
): Promise<boolean> {
  let first: Resolved;
  try {
    first = await resolveInside(root, start);
  } catch (error) {
    if (error instanceof QueryRefusal) return true;
    throw error;
  }
  if (!('dir' in first)) return true;
  const stack: { dir: string; relative: string; depth: number }[] = [
    { dir: first.dir, relative: start.join('/'), depth: start.length },
  ];
  let visited = 0;
  while (stack.length > 0) {
    const { dir, relative, depth } = stack.pop()!;
    if (depth >= options.maxDepth) continue;
    const dirents = await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[]);
    for (const dirent of dirents) {
      if (++visited % 256 === 0 && options.expired()) return false;
      const path = relative === '' ? dirent.name : `${relative}/${dirent.name}`;
      const absolute = join(dir, dirent.name);
      await visit(path, dirent, absolute);
      // readdir's types come from the directory itself: a symlink is never a directory here.
      if (dirent.isDirectory()) stack.push({ dir: absolute, relative: path, depth: depth + 1 });
    }
  }
  return !options.expired();
}

/** The matching paths of one link-dest snapshot, with what `find` compares. */
export async function matchingPaths(
  root: string,
  pattern: PathPattern,
  expired: Expired,
): Promise<{ present: Map<string, PathState>; complete: boolean }> {
  const present = new Map<string, PathState>();
  const complete = await walk(
    root,
    pattern.prefix,
    { maxDepth: pattern.maxDepth, expired },
    async (path, _dirent, abs) => {
      if (!pattern.matches(path)) return;
      const stats = await lstat(abs).catch(() => undefined);
      if (stats === undefined) return;
      present.set(path, { entry: entryType(stats), size: stats.size, mtime: stats.mtime.toISOString() });
    },
  );
  return { present, complete };
}

/** Bytes and count of the regular files of a snapshot; undefined when the time ran out. */
export async function treeTotals(root: string, expired: Expired): Promise<{ size: number; files: number } | undefined> {
  let size = 0;
  let files = 0;
  const complete = await walk(root, [], { maxDepth: Infinity, expired }, async (_path, dirent, abs) => {
    if (!dirent.isFile()) return;
    const stats = await lstat(abs).catch(() => undefined);
    if (stats === undefined) return;
    size += stats.size;
    files++;
  });
  return complete ? { size, files } : undefined;
}
