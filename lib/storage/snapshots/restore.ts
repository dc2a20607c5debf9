import { mkdtemp, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { UserError } from '../../common/errors.js';
import { borgFailure, parseArchiveList, runBorg, type Archive } from './borg-cli.js';
import { byFinish, DELETE_PREFIX, isTemporaryName, LATEST, listCandidates } from './names.js';
import { borgRepo, snapshotsDir, workingDir } from './paths.js';
import { runLogged } from './process.js';
import { RSYNC_SUCCESS_CODES, rsyncEnv, type RsyncResult } from './rsync.js';
import { exists, removeTree } from './snapshot-dir.js';
import { type SnapshotLog, type SnapshotMode, type SnapshotSettings } from './types.js';

/**
 * The storage's side of a scripted restore (docs/datapath.md, "Restores"): find the tree to push
 * for a snapshot selector, then push it to the agent's writable restore module through the tunnel.
 */

export class RestoreError extends UserError {
  override name = 'RestoreError';
}

export interface RestoreRequest {
  readonly machineDir: string;
  readonly source: string;
  readonly mode: SnapshotMode;
  /** `latest`, or a snapshot directory / archive name. */
  readonly snapshot: string;
  readonly settings: SnapshotSettings;
  readonly log: SnapshotLog;
}

export interface RestoreTree {
  /** Push its contents. */
  readonly dir: string;
  /** The snapshot or archive chosen; null for none mode's mirror. */
  readonly snapshot: string | null;
  /** Removes a borg extraction; nothing to do for the other modes. */
  cleanup(): Promise<void>;
}

const nothingToClean = (): Promise<void> => Promise.resolve();

export async function resolveRestoreTree(request: RestoreRequest): Promise<RestoreTree> {
  switch (request.mode) {
    case 'link-dest':
      return linkDestTree(request);
    case 'none':
      return mirrorTree(request);
    case 'borg':
      return borgTree(request);
  }
}

function notFound(request: RestoreRequest): RestoreError {
  return new RestoreError(`Snapshot "${request.snapshot}" not found for source "${request.source}"`);
}

function noSnapshots(request: RestoreRequest): RestoreError {
  return new RestoreError(`No snapshots of source "${request.source}"`);
}

/** A name must be a plain entry of `<source>.snapshots/`, not a way out of it or a half-deleted one. */
function isPlainName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !name.includes('\0') &&
    !name.startsWith(DELETE_PREFIX) &&
    !isTemporaryName(name)
  );
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `latest`: the candidate that finished last, else wherever the `latest` symlink leads. A name:
 * any directory of that name (a snapshot protected by renaming is restorable too), else the
 * candidate whose sidecar carries it.
 */
async function linkDestTree(request: RestoreRequest): Promise<RestoreTree> {
  const dir = snapshotsDir(request);
  const candidates = await listCandidates(dir, { timeZone: request.settings.timezone, log: request.log });
  if (request.snapshot === LATEST) {
    const newest = candidates.at(-1);
    if (newest !== undefined) return { dir: join(dir, newest.dir), snapshot: newest.name, cleanup: nothingToClean };
    const link = join(dir, LATEST);
    if (await isDirectory(link)) return { dir: await realpath(link), snapshot: LATEST, cleanup: nothingToClean };
    throw noSnapshots(request);
  }
  if (isPlainName(request.snapshot) && (await isDirectory(join(dir, request.snapshot)))) {
    return { dir: join(dir, request.snapshot), snapshot: request.snapshot, cleanup: nothingToClean };
  }
  const named = candidates.find((candidate) => candidate.name === request.snapshot);
  if (named !== undefined) return { dir: join(dir, named.dir), snapshot: named.name, cleanup: nothingToClean };
  throw candidates.length === 0 ? noSnapshots(request) : notFound(request);
}

/** none mode keeps only the mirror, which is "latest". */
async function mirrorTree(request: RestoreRequest): Promise<RestoreTree> {
  const mirror = workingDir(request);
  if (!(await isDirectory(mirror))) throw noSnapshots(request);
  if (request.snapshot !== LATEST) throw notFound(request);
  return { dir: mirror, snapshot: null, cleanup: nothingToClean };
}

/** Extracts the archive into a fresh `.restore-*` directory beside the source's data. */
async function borgTree(request: RestoreRequest): Promise<RestoreTree> {
  const { settings, log } = request;
  const repo = borgRepo(request);
  if (!(await exists(join(repo, 'config')).catch(() => false))) throw noSnapshots(request);
  const list = await runBorg(settings, 'list', ['--json', repo], { log, json: true });
  if (list.code !== 0) throw new RestoreError(borgFailure(list));
  const archives = parseArchiveList(list.stdout);
  const chosen =
    request.snapshot === LATEST ? newestArchive(archives) : archives.find((a) => a.name === request.snapshot);
  if (chosen === undefined) throw archives.length === 0 ? noSnapshots(request) : notFound(request);

  const scratch = await mkdtemp(join(request.machineDir, '.restore-'));
  const cleanup = async (): Promise<void> => {
    await removeTree(scratch, log);
  };
  const extract = await runBorg(settings, 'extract', ['--numeric-ids', `${repo}::${chosen.name}`], {
    log,
    cwd: scratch,
  });
  if (extract.code !== 0) {
    await cleanup();
    throw new RestoreError(borgFailure(extract));
  }
  return { dir: scratch, snapshot: chosen.name, cleanup };
}

function newestArchive(archives: readonly Archive[]): Archive | undefined {
  return [...archives].sort(byFinish).at(-1);
}

export interface RestorePush {
  readonly rsyncCommand: readonly string[];
  /** The tree whose contents are pushed. */
  readonly dir: string;
  /** `rsync://<user>@127.0.0.1:<port>/<module>/` */
  readonly url: string;
  readonly password: string;
  readonly hardLinks?: boolean;
  readonly log: SnapshotLog;
}

/** `rsync --archive --compress --numeric-ids [--hard-links] <dir>/ <url>`; 0 and 24 succeed. */
export function restorePushArgv(push: Omit<RestorePush, 'password' | 'log'>): string[] {
  const argv = [...push.rsyncCommand, '--archive', '--compress', '--numeric-ids'];
  if (push.hardLinks) argv.push('--hard-links');
  argv.push(push.dir.endsWith('/') ? push.dir : `${push.dir}/`, push.url.endsWith('/') ? push.url : `${push.url}/`);
  return argv;
}

export async function pushRestore(push: RestorePush): Promise<RsyncResult> {
  const { code } = await runLogged(restorePushArgv(push), { env: rsyncEnv(push.password), log: push.log });
  return { success: RSYNC_SUCCESS_CODES.includes(code), code };
}
