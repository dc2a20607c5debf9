import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { isErrno } from '../../common/errors.js';
import { runLogged, SAFE_PATH } from './process.js';
import { pullSource, type PullResult } from './rsync.js';
import { removeTree } from './snapshot-dir.js';
import { type SnapshotJob } from './types.js';

/**
 * The link-dest snapshot of a run with a base, made without rsync's `--link-dest`.
 *
 * rsync 3.4 and later open every component of the base's absolute path, one by one and without
 * following symlinks, for every file they consider linking: on the storage's paths that is a
 * dozen opens per file, and 50,000 unchanged files took 3.6–6 s where linking them takes 0.4 s.
 * The same tree, linked by `cp` instead:
 *   1. a dry run against the base itemizes every entry that differs from the source (content,
 *      size, time, mode, owner, type) and every entry to delete;
 *   2. the base is cloned into the empty working copy with hard links (`cp --archive --link`,
 *      while the dry run runs); every itemized entry but a directory, and every entry to delete,
 *      is removed from the clone;
 *   3. the real pull fetches only the itemized entries and the directories above them and above
 *      the deleted ones (`--files-from`), with `--ignore-existing`: it creates what was removed
 *      and sets the attributes of those directories (the clone's own), and never changes an
 *      entry whose inode is shared with the base. (rsync changes a mode or owner in place; into
 *      a clone that would rewrite the base too.) Then, if the tree's own attributes changed or
 *      one of its entries did, a pull of the tree alone (`--dirs --exclude=*`) sets them. With
 *      nothing itemized, there is no step 3.
 * The snapshot is the source as the dry run saw it: an entry that changes after it is in the next
 * backup. Hard-link groups are left to `--link-dest` (see `canClone`).
 */

/** An entry the dry run found; its path is raw bytes relative to the tree, without a trailing `/`. */
export interface ItemizedEntry {
  readonly path: Buffer;
  readonly isDirectory: boolean;
}

export interface ItemizedChanges {
  /** Entries to fetch: new, or different in content, size, time, mode, owner or type. */
  readonly changed: readonly ItemizedEntry[];
  /** Entries to delete (gone from the source, or excluded). */
  readonly deleted: readonly Buffer[];
}

// YXcstpoguax (rsync ≥ 3.0): Y the update type, X the file type, then nine attribute letters;
// a deletion is `*deleting` padded to the same eleven characters.
const ITEMIZED_LINE = /^(?:[<>ch.]([fdLDS])[^ ]{9}|(\*deleting {2})) (.+)$/s;

/**
 * Parses `%i %n` lines (latin1-decoded, so one character per byte). Null when a line is anything
 * else, or a name could leave the tree: the caller must not guess what it meant.
 */
export function parseItemizedChanges(output: string): ItemizedChanges | null {
  const changed: ItemizedEntry[] = [];
  const deleted: Buffer[] = [];
  for (const line of output.split('\n')) {
    if (line === '') continue;
    const match = ITEMIZED_LINE.exec(line);
    if (match === null) return null;
    const [, type, deletion, escaped] = match as unknown as [string, string | undefined, string | undefined, string];
    const name = unescapeRsyncName(escaped);
    if (name === null) return null;
    const path = name.at(-1) === 0x2f ? name.subarray(0, -1) : name;
    if (path.length === 0 || path.equals(Buffer.from('.'))) {
      // The tree itself: its mode, owner or time changed. Kept as a change, so that step 3 runs
      // even when nothing else did (it is always in the list, but without a change no pull ran).
      if (deletion === undefined && type === 'd') changed.push({ path: Buffer.from('.'), isDirectory: true });
      continue;
    }
    // The names come from the agent's side: one that could leave the working copy is refused.
    if (path[0] === 0x2f || path.toString('latin1').split('/').includes('..')) return null;
    if (deletion !== undefined) deleted.push(path);
    else changed.push({ path, isDirectory: type === 'd' });
  }
  return { changed, deleted };
}

/**
 * The `--files-from` list of step 3, NUL-separated: the changed entries and every directory
 * above them or above a deleted entry (their times and modes are the source's again). Empty when
 * only the tree itself changed.
 *   - The tree itself (`.`) is never listed: rsync reads `.` (or `dir/.`) in such a list as "this
 *     directory's entries, one level down", and sends them ignoring every filter rule, so an
 *     excluded entry at the top of the source came back into each snapshot. Its attributes are
 *     set by a pass of their own (`touchesTree`).
 *   - A directory deleted with its contents is not listed as their parent: the source no longer
 *     has it, and a name the source lacks fails the whole pull (rsync code 23).
 */
export function filesFromList(changes: ItemizedChanges): Buffer {
  return Buffer.concat(listedPaths(changes).flatMap((name) => [name, Buffer.from([0])]));
}

/** The entries of `filesFromList`, each once: what step 3 creates or sets the attributes of. */
export function listedPaths(changes: ItemizedChanges): Buffer[] {
  const names = new Map<string, Buffer>();
  const gone = new Set(changes.deleted.map((path) => path.toString('latin1')));
  const add = (path: Buffer) => names.set(path.toString('latin1'), path);
  const addParents = (path: Buffer) => {
    for (let slash = path.lastIndexOf(0x2f); slash > 0; slash = path.lastIndexOf(0x2f, slash - 1)) {
      const parent = path.subarray(0, slash);
      if (!gone.has(parent.toString('latin1'))) add(parent);
    }
  };
  for (const entry of changes.changed) {
    if (isTree(entry.path)) continue;
    add(entry.path);
    addParents(entry.path);
  }
  for (const path of changes.deleted) addParents(path);
  return [...names.values()];
}

/**
 * Whether the tree's own attributes need setting after step 3: it was itemized, or the clone
 * removes or step 3 adds one of its entries (which changes its time).
 */
export function touchesTree(changes: ItemizedChanges): boolean {
  const topLevel = (path: Buffer) => isTree(path) || !path.includes(0x2f);
  return changes.changed.some((entry) => topLevel(entry.path)) || changes.deleted.some(topLevel);
}

function isTree(path: Buffer): boolean {
  return path.equals(Buffer.from('.'));
}

/**
 * rsync prints a control character (and, outside a UTF-8 locale, any byte over 0x7f) as `\#ooo`;
 * a literal backslash is escaped that way only where it would otherwise read as such an escape.
 * Null for an escape that is not three octal digits of a byte.
 */
export function unescapeRsyncName(escaped: string): Buffer | null {
  const raw = Buffer.from(escaped, 'latin1');
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x23 && i + 4 < raw.length) {
      const digits = raw.subarray(i + 2, i + 5).toString('latin1');
      if (/^[0-7]{3}$/.test(digits)) {
        const value = parseInt(digits, 8);
        if (value > 0xff) return null;
        bytes.push(value);
        i += 4;
        continue;
      }
    }
    bytes.push(raw[i]!);
  }
  return Buffer.from(bytes);
}

/**
 * Hard-link groups inside the source: a clone keeps the base's groups, and the dry run does not
 * say when the source split one, so those runs keep rsync's own `--link-dest`.
 */
export function canClone(job: SnapshotJob): boolean {
  return !(job.settings.preserveHardLinks || job.descriptor.preserve_hard_links);
}

export type ClonePull =
  /** `changes`: the dry run's, when the clone was kept (the manifest reads only those entries). */
  | { readonly kind: 'pulled'; readonly result: PullResult; readonly changes?: ItemizedChanges }
  /** Nothing of the working copy was kept: pull with `--link-dest` instead. */
  | { readonly kind: 'fallback'; readonly reason: string };

/**
 * Steps 1–3 above; `working` must exist and be empty. The clone does not depend on the dry run,
 * so `cp` runs while the dry run does (one is the file system's work, the other mostly rsync's).
 */
export async function pullOntoClone(job: SnapshotJob, working: string, base: string): Promise<ClonePull> {
  const { log } = job;
  const cloning = runLogged(['cp', '--archive', '--link', '--no-target-directory', '--', base, working], {
    env: { PATH: SAFE_PATH },
    log,
  });
  const dryRun = await pullSource(job, { destination: base, dryRun: true });
  const clone = await cloning;
  const changes = dryRun.success ? parseItemizedChanges(dryRun.stdout) : null;
  if (!dryRun.success || changes === null || clone.code !== 0) {
    await emptyDirectory(working, log);
    if (!dryRun.success) return { kind: 'pulled', result: dryRun };
    const reason =
      changes === null
        ? 'the dry run printed a line that is not an itemized change'
        : `cp exited with return code ${clone.code}`;
    return { kind: 'fallback', reason };
  }
  for (const path of changes.deleted) {
    const target = await inClone(working, path);
    if (target !== null) await rm(target, { recursive: true, force: true });
  }
  for (const change of changes.changed) {
    const target = await inClone(working, change.path);
    if (target !== null) await removeChanged(target, change);
  }
  log.info(
    `Cloned the base with hard links; ${changes.changed.length} changed and ${changes.deleted.length} deleted entries`,
  );
  const list = filesFromList(changes);
  const pulled = list.length > 0 ? await pullListed(job, working, list) : undefined;
  if (pulled !== undefined && !pulled.success) return { kind: 'pulled', result: pulled };
  let result: PullResult = pulled ?? { success: true, code: 0, stdout: '' };
  if (touchesTree(changes)) {
    // The tree's own mode, owner and times, last: step 3's creations change its time.
    result = afterEachOther(result, await pullSource(job, { destination: working, treeOnly: true }));
  }
  return { kind: 'pulled', result, changes };
}

/**
 * Two pulls that ran one after the other, as one: the second's failure, else a success that keeps
 * the first's code 24 and its lines (files vanished in step 3 must still be said in the summary).
 */
export function afterEachOther(first: PullResult, second: PullResult): PullResult {
  if (!first.success || !second.success) return first.success ? second : first;
  const diagnostics = [...(first.diagnostics ?? []), ...(second.diagnostics ?? [])];
  const code = first.code !== 0 ? first.code : second.code;
  return { success: true, code, stdout: second.stdout, diagnostics };
}

/** Step 3; the list lives in a private temp dir, removed in every case. */
async function pullListed(job: SnapshotJob, working: string, list: Buffer): Promise<PullResult> {
  const dir = await mkdtemp(join(tmpdir(), 'turku-files-from-'));
  try {
    const filesFrom = join(dir, 'files');
    await writeFile(filesFrom, list, { mode: 0o600, flag: 'wx' });
    return await pullSource(job, { destination: working, ignoreExisting: true, filesFrom, exactTimes: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `<working>/<path>` when every directory above it in the clone is a real directory, else null:
 * then the entry is not in the clone, and a symlink on the way (the base's, about to be
 * replaced) must not lead the removal out of it.
 */
export async function inClone(working: string, path: Buffer): Promise<Buffer | null> {
  let dir = Buffer.from(working);
  const parts = path.toString('latin1').split('/');
  for (const part of parts.slice(0, -1)) {
    dir = Buffer.concat([dir, Buffer.from(`/${part}`, 'latin1')]);
    try {
      if (!(await lstat(dir)).isDirectory()) return null;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }
  return Buffer.concat([Buffer.from(`${working}/`), path]);
}

/** A directory stays (it is the clone's own; rsync fixes its attributes); anything else goes. */
async function removeChanged(path: Buffer, change: ItemizedEntry): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await lstat(path)).isDirectory();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return; // new
    throw error;
  }
  if (change.isDirectory && isDirectory) return;
  await rm(path, { recursive: true, force: true });
}

async function emptyDirectory(dir: string, log: SnapshotJob['log']): Promise<void> {
  await removeTree(dir, log);
  await mkdir(dir, { recursive: true });
}
