/**
 * The part of a snapshot a restore may name (`--restore-path`, action `path`;
 * docs/datapath.md, "Restoring part of a source"): a relative path inside the snapshot, checked
 * the same way by the agent (before it asks) and by the storage (which alone decides what it
 * reads). Pure: the storage also refuses symbolic links on the way, on disk.
 */

/** Why `path` cannot name a part of a snapshot; undefined when it can. */
export function restorePathProblem(path: string): string | undefined {
  if (path === '') return 'it is empty';
  if (path.includes('\0')) return 'it contains a NUL character';
  if (path.startsWith('/')) return 'it is absolute; give it relative to the source, e.g. etc/ssh';
  const components = path.split('/');
  if (components.some((component) => component === '')) return 'it has an empty component (//, or a trailing /)';
  if (components.some((component) => component === '..')) return 'it contains ..';
  if (components.some((component) => component === '.')) return 'it contains .';
  return undefined;
}

/** What an operator types, tidied: one trailing slash (from shell completion) is dropped. */
export function normaliseRestorePath(path: string): string {
  return path.length > 1 && path.endsWith('/') && !path.endsWith('//') ? path.slice(0, -1) : path;
}
