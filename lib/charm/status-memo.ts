// The status memo: the unit status this unit last set, kept in its charm directory so a hook whose
// final status equals it can leave out the `status-set` (docs/charm-runtime.md, "The status
// memo"). A no-op hook then spawns no tool at all and never loads node:child_process.
//
// Safety comes from three rules: the memo is taken (moved aside, then read) when a hook starts and
// put back only when the hook succeeded, so a failed hook always leaves none; it is trusted
// for an hour at most; and anything odd about it (missing directory, foreign owner, loose mode,
// bad content, an I/O error) means "not trusted", never an error. Plain synchronous node:fs: it is
// loaded before any bundle runs, and these are a handful of system calls.
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { STATUS_NAMES, type StatusName } from './tool-types.js';

/**
 * The memo's file name in the charm directory (root-owned, kept across upgrades). It names the
 * unit: on Juju every unit has its own charm directory, but a test substrate may share one.
 */
export function statusMemoFile(unit: string): string {
  return `.turku-status-${unit.replace(/\//g, '-')}.json`;
}
/** How long a remembered status is trusted: an operator's own `status-set` is corrected within it. */
export const STATUS_MEMO_MAX_AGE_MS = 60 * 60 * 1000;
const MAX_MEMO_BYTES = 64 * 1024;

export interface UnitStatus {
  status: StatusName;
  message: string;
}

/** What the memo holds: the unit it belongs to, the status, and when `status-set` really ran. */
export interface StatusMemo extends UnitStatus {
  unit: string;
  /** Milliseconds since the epoch of the last real `status-set` (a skip keeps the old time). */
  setAt: number;
}

// Around these Juju sets a status of its own (installing, unknown after start, terminated) or the
// charm directory is replaced; leadership and storage changes are rare. They always set.
const ALWAYS_SET_HOOKS = new Set([
  'install',
  'start',
  'upgrade-charm',
  'stop',
  'remove',
  'leader-elected',
  'pre-series-upgrade',
  'post-series-upgrade',
]);

/** Whether a hook may leave out an unchanged final status (never for the lifecycle hooks above). */
export function hookMaySkipStatus(hookName: string): boolean {
  return !ALWAYS_SET_HOOKS.has(hookName) && !/-storage-/.test(hookName);
}

/** Whether `memo` says the unit already shows `final`, set less than an hour before `now`. */
export function memoShows(memo: StatusMemo | undefined, unit: string, final: UnitStatus, now: number): boolean {
  if (memo === undefined || memo.unit !== unit) return false;
  const age = now - memo.setAt;
  return memo.status === final.status && memo.message === final.message && age >= 0 && age < STATUS_MEMO_MAX_AGE_MS;
}

/** The memo in `text`, or undefined when it is not one this runtime wrote. */
export function parseStatusMemo(text: string): StatusMemo | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { v, unit, status, message, setAt } = value as Record<string, unknown>;
  if (v !== 1 || typeof unit !== 'string' || typeof message !== 'string') return undefined;
  if (typeof status !== 'string' || !(STATUS_NAMES as readonly string[]).includes(status)) return undefined;
  if (typeof setAt !== 'number' || !Number.isFinite(setAt)) return undefined;
  return { unit, status: status as StatusName, message, setAt };
}

function memoPath(charmDir: string, unit: string): string | undefined {
  return charmDir === '' || unit === '' ? undefined : join(charmDir, statusMemoFile(unit));
}

/** Reads a regular file of ours (this uid, no group or other bits, small), not following links. */
function readOwnFile(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const stat = fstatSync(fd);
    const ours = stat.isFile() && stat.uid === process.getuid?.() && (stat.mode & 0o077) === 0;
    return ours && stat.size <= MAX_MEMO_BYTES ? readFileSync(fd, 'utf8') : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function removed(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Where a hook keeps the memo it took: never read as a memo, only put back or removed. */
const takenPath = (path: string): string => `${path}.taken`;

/**
 * Takes the memo at hook start: moves the file aside, then reads it, so a hook that then fails
 * leaves no memo. Undefined when there is none, it cannot be trusted, or it could not be moved.
 * Moving it (and, after a skip, back) costs a tenth of writing a new one.
 */
export function takeStatusMemo(charmDir: string, unit: string): StatusMemo | undefined {
  const path = memoPath(charmDir, unit);
  if (path === undefined) return undefined;
  try {
    renameSync(path, takenPath(path));
  } catch (error) {
    // Whatever stands there and cannot be moved must not outlive this hook either.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') removed(path);
    return undefined;
  }
  const text = readOwnFile(takenPath(path));
  return text === undefined ? undefined : parseStatusMemo(text);
}

/** After a hook that succeeded without setting the status: the memo it took, unchanged, back in place. */
export function restoreStatusMemo(charmDir: string, unit: string): void {
  const path = memoPath(charmDir, unit);
  if (path === undefined) return;
  try {
    renameSync(takenPath(path), path);
  } catch {
    // No memo then: the next hook sets the status.
  }
}

/** Removes the memo (an action about to set a status, a process failing late); errors are ignored. */
export function dropStatusMemo(charmDir: string, unit: string): void {
  const path = memoPath(charmDir, unit);
  if (path !== undefined) removed(path);
}

/**
 * After a hook that succeeded and set the status: writes the memo atomically (0600 temporary file,
 * then rename) and removes the one it took; any error leaves no memo.
 */
export function saveStatusMemo(charmDir: string, memo: StatusMemo): void {
  const path = memoPath(charmDir, memo.unit);
  if (path === undefined) return;
  removed(takenPath(path));
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    removed(temporary);
    writeFileSync(temporary, JSON.stringify({ v: 1, ...memo }), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch {
    removed(temporary);
  }
}
