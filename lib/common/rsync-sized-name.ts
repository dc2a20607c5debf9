/**
 * A line of rsync's output in the storage's sized-name format (`--out-format=%l %n%L`,
 * lib/storage/snapshots/rsync.ts `SIZED_NAME_FORMAT`), printed as rsync starts on an entry: the
 * entry's size as listed, a space, its name relative to the tree, then what `%L` adds. The file's
 * own `lstat` decides all the same; this only says which names are worth one.
 *
 * Null for anything that is not a regular file's name as it is on disk: rsync's other messages, a
 * directory (its name ends with `/`), a symlink (` -> ` and its target) or a hard link to an entry
 * named before (` => ` and that entry), and a name rsync escaped (`\#` and three octal digits, for
 * a byte it does not print as is). A file whose name merely contains one of those is passed over
 * too: the manifest records it after rsync, as any other.
 */
export interface SizedName {
  readonly size: number;
  readonly name: string;
}

const SIZED_NAME = /^(\d+) (.+)$/s;

export function sizedFileName(line: string): SizedName | null {
  const sized = SIZED_NAME.exec(line);
  if (sized === null) return null;
  const name = sized[2]!;
  if (name.endsWith('/') || name.includes(' -> ') || name.includes(' => ') || name.includes('\\#')) return null;
  return { size: Number(sized[1]), name };
}
