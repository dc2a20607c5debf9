import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { writeFileAtomic } from '../common/atomic-write.js';
import { errorMessage, isErrno, UserError } from '../common/errors.js';
import { JOBS, type Role } from './jobs.js';
import { allPaths, MARKER, SYSTEMD_DIR, timerPath, type Entry } from './render.js';

/**
 * Puts a plan from render.ts on disk under a root, or takes it away, and tells systemd when
 * the root is the running system. Every step is reported as one line; a failing step throws a
 * UserError naming the path.
 */

export interface ApplyContext {
  /** Absolute host directory that the plan's paths are written under ("/" for the real system). */
  readonly root: string;
  /** Whether systemctl may run: the root is the running system and systemd is its init. */
  readonly live: boolean;
  /** Why systemctl does not run when `live` is false. */
  readonly notLiveReason: string;
  systemctl(args: readonly string[]): Promise<void>;
  report(line: string): void;
  warn(line: string): void;
}

const FILE_MODE = 0o644;
const DIRECTORY_MODE = 0o755;

/** Writes the plan, removes this role's files of the other mode, and enables the timers. */
export async function install(ctx: ApplyContext, role: Role, entries: readonly Entry[]): Promise<void> {
  for (const entry of entries) {
    if (entry.kind === 'file' && (await ownership(ctx, entry)) === 'foreign') {
      throw new UserError(`${hostPath(ctx, entry)} exists and was not written by turku-timers: move it away first`);
    }
  }
  const wanted = new Set(entries.map((entry) => entry.path));
  const { systemd, cron } = allPaths(role);
  const leaving = await ours(
    ctx,
    [...systemd, ...cron].filter((entry) => !wanted.has(entry.path)),
  );
  const leavingTimers = timersAmong(role, leaving);
  if (ctx.live && leavingTimers.length > 0) await systemctl(ctx, ['disable', '--now', ...leavingTimers]);

  let unitsChanged = false;
  for (const entry of entries) {
    if ((await put(ctx, entry)) && isUnit(entry)) unitsChanged = true;
  }
  for (const entry of leaving) {
    await take(ctx, entry);
    if (isUnit(entry)) unitsChanged = true;
  }

  const timers = timersAmong(role, entries);
  if (ctx.live) {
    if (unitsChanged) await systemctl(ctx, ['daemon-reload']);
    if (timers.length > 0) await systemctl(ctx, ['enable', '--now', ...timers]);
  } else if (timers.length > 0) {
    ctx.report(`systemctl not run (${ctx.notLiveReason}): the timers are enabled and start when systemd boots`);
  } else if (leavingTimers.length > 0) {
    ctx.report(`systemctl not run (${ctx.notLiveReason})`);
  }
}

/** Disables this role's timers and deletes every file install wrote, in any mode. */
export async function remove(ctx: ApplyContext, role: Role): Promise<void> {
  const { systemd, cron } = allPaths(role);
  const leaving = await ours(ctx, [...systemd, ...cron]);
  const timers = timersAmong(role, leaving);
  if (ctx.live && timers.length > 0) await systemctl(ctx, ['disable', '--now', ...timers]);
  for (const entry of leaving) await take(ctx, entry);
  if (leaving.length === 0) ctx.report(`nothing to remove for the ${role} under ${ctx.root}`);
  if (!leaving.some(isUnit)) return;
  if (ctx.live) await systemctl(ctx, ['daemon-reload']);
  else ctx.report(`systemctl not run (${ctx.notLiveReason})`);
}

type Ownership = 'absent' | 'ours' | 'foreign';

/** A file is ours when it starts with the marker; a link, when it points at our unit. */
async function ownership(ctx: ApplyContext, entry: Entry): Promise<Ownership> {
  const path = hostPath(ctx, entry);
  try {
    if (entry.kind === 'link') return (await readlink(path)) === entry.target ? 'ours' : 'foreign';
    return (await readFile(path, 'utf8')).startsWith(MARKER) ? 'ours' : 'foreign';
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'absent';
    if (isErrno(error, 'EINVAL') || isErrno(error, 'EISDIR')) return 'foreign';
    throw new UserError(`cannot read ${path}: ${errorMessage(error)}`);
  }
}

/** The entries present and ours; the others present are left alone with a warning. */
async function ours(ctx: ApplyContext, entries: readonly Entry[]): Promise<Entry[]> {
  const found: Entry[] = [];
  for (const entry of entries) {
    const owner = await ownership(ctx, entry);
    if (owner === 'ours') found.push(entry);
    if (owner === 'foreign') ctx.warn(`left ${hostPath(ctx, entry)} alone: it was not written by turku-timers`);
  }
  return found;
}

/** Writes one entry unless it is already as planned; true when something changed. */
async function put(ctx: ApplyContext, entry: Entry): Promise<boolean> {
  const path = hostPath(ctx, entry);
  return step('write', path, async () => {
    if (entry.kind === 'link') {
      if ((await readlinkOrUndefined(path)) === entry.target) return unchanged(ctx, path);
      await mkdir(dirname(path), { recursive: true, mode: DIRECTORY_MODE });
      const temporary = `${path}.tmp${randomUUID()}~`;
      await symlink(entry.target, temporary);
      await rename(temporary, path).catch(async (error: unknown) => {
        await rm(temporary, { force: true });
        throw error;
      });
      ctx.report(`linked ${path} -> ${entry.target}`);
      return true;
    }
    const current = await readFileOrUndefined(path);
    if (current === entry.content && ((await lstat(path)).mode & 0o7777) === FILE_MODE) return unchanged(ctx, path);
    await mkdir(dirname(path), { recursive: true, mode: DIRECTORY_MODE });
    await writeFileAtomic(path, entry.content, { mode: FILE_MODE });
    await chmod(path, FILE_MODE); // the umask may have narrowed the mode
    ctx.report(`wrote ${path}`);
    return true;
  });
}

async function take(ctx: ApplyContext, entry: Entry): Promise<void> {
  const path = hostPath(ctx, entry);
  await step('remove', path, async () => {
    await unlink(path).catch((error: unknown) => {
      if (!isErrno(error, 'ENOENT')) throw error; // systemctl disable may have removed a link already
    });
    ctx.report(`removed ${path}`);
  });
}

function unchanged(ctx: ApplyContext, path: string): false {
  ctx.report(`unchanged ${path}`);
  return false;
}

async function systemctl(ctx: ApplyContext, args: readonly string[]): Promise<void> {
  try {
    await ctx.systemctl(args);
  } catch (error) {
    throw new UserError(errorMessage(error));
  }
  ctx.report(`ran systemctl ${args.join(' ')}`);
}

async function step<T>(verb: string, path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`cannot ${verb} ${path}: ${errorMessage(error)}`);
  }
}

function hostPath(ctx: ApplyContext, entry: Entry): string {
  return join(ctx.root, entry.path);
}

/** Unit files and the links enabling them, which systemd must be told about. */
function isUnit(entry: Entry): boolean {
  return entry.path.startsWith(`${SYSTEMD_DIR}/`);
}

/** The names of the role's timer units whose unit file is among the entries. */
function timersAmong(role: Role, entries: readonly Entry[]): string[] {
  const paths = new Set(entries.filter((entry) => entry.kind === 'file').map((entry) => entry.path));
  return JOBS[role].filter((job) => paths.has(timerPath(job))).map((job) => `${job.program}.timer`);
}

async function readFileOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

async function readlinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'EINVAL')) return undefined;
    throw error;
  }
}
