import { lstat, mkdir, rm } from 'node:fs/promises';

import { isErrno } from '../../common/errors.js';
import { runCommand, SAFE_PATH } from './process.js';
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
 *      size, time, mode, owner, type; entries to delete are left to step 3);
 *   2. the base is cloned into the empty working copy with hard links (`cp --archive --link`),
 *      and every itemized entry is removed from the clone, so what is left equals the source;
 *   3. the real pull runs with `--ignore-existing`: it creates what is missing and deletes what is
 *      gone, and never changes an existing entry, whose inode is shared with the base. (rsync
 *      changes a mode or owner in place; into a clone that would rewrite the base too.)
 * An entry that changes between 1 and 3 keeps its state of step 1, as if it had changed just
 * after the backup. Hard-link groups are left to `--link-dest` (see `canClone`).
 */

/** What the dry run found; paths are raw bytes relative to the tree, without a trailing `/`. */
export interface ItemizedEntry {
  readonly path: Buffer;
  readonly isDirectory: boolean;
}

// YXcstpoguax (rsync ≥ 3.0): Y the update type, X the file type, then nine attribute letters.
const ITEMIZED_LINE = /^[<>ch.]([fdLDS])[^ ]{9} (.+)$/s;

/**
 * Parses `%i %n` lines (latin1-decoded, so one character per byte). Deletion lines (`*deleting`)
 * are skipped. Null when a line is anything else: the caller must not guess what it meant.
 */
export function parseItemizedChanges(output: string): ItemizedEntry[] | null {
  const entries: ItemizedEntry[] = [];
  for (const line of output.split('\n')) {
    if (line === '' || line.startsWith('*deleting ')) continue;
    const match = ITEMIZED_LINE.exec(line);
    if (match === null) return null;
    const [, type, escaped] = match as unknown as [string, string, string];
    const name = unescapeRsyncName(escaped);
    if (name === null) return null;
    const isDirectory = type === 'd';
    const path = isDirectory && name.at(-1) === 0x2f ? name.subarray(0, -1) : name;
    if (path.length === 0 || path.equals(Buffer.from('.'))) continue; // the tree itself
    // The names come from the agent's side: one that could leave the working copy is refused.
    if (path[0] === 0x2f || path.toString('latin1').split('/').includes('..')) return null;
    entries.push({ path, isDirectory });
  }
  return entries;
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
  | { readonly kind: 'pulled'; readonly result: PullResult }
  /** Nothing of the working copy was kept: pull with `--link-dest` instead. */
  | { readonly kind: 'fallback'; readonly reason: string };

/** Steps 1–3 above; `working` must exist and be empty. */
export async function pullOntoClone(job: SnapshotJob, working: string, base: string): Promise<ClonePull> {
  const { log } = job;
  const dryRun = await pullSource(job, { destination: base, dryRun: true });
  if (!dryRun.success) return { kind: 'pulled', result: dryRun };
  const changes = parseItemizedChanges(dryRun.stdout);
  if (changes === null)
    return { kind: 'fallback', reason: 'the dry run printed a line that is not an itemized change' };

  const clone = await runCommand(['cp', '--archive', '--link', '--no-target-directory', '--', base, working], {
    env: { PATH: SAFE_PATH },
    log,
  });
  if (clone.code !== 0) {
    await emptyDirectory(working, log);
    return { kind: 'fallback', reason: `cp exited with return code ${clone.code}` };
  }
  for (const change of changes) await removeChanged(Buffer.concat([Buffer.from(`${working}/`), change.path]), change);
  log.info(`Cloned the base with hard links; ${changes.length} changed entries to pull`);
  return { kind: 'pulled', result: await pullSource(job, { destination: working, ignoreExisting: true }) };
}

/** A directory stays (it is the clone's own; rsync fixes its attributes); anything else goes. */
async function removeChanged(path: Buffer, change: ItemizedEntry): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await lstat(path)).isDirectory();
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return; // new, or under a removed entry
    throw error;
  }
  if (change.isDirectory && isDirectory) return;
  await rm(path, { recursive: true, force: true });
}

async function emptyDirectory(dir: string, log: SnapshotJob['log']): Promise<void> {
  await removeTree(dir, log);
  await mkdir(dir, { recursive: true });
}
