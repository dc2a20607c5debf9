import { mkdtemp, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { UserError } from '../../common/errors.js';
import { MANIFEST_SUFFIX, manifestPath } from '../manifest/files.js';
import { chooseAsOf, type TimedSnapshot } from '../../turku/snapshot-choice.js';
import { borgFailure, parseArchiveList, runBorg, type Archive } from './borg-cli.js';
import { byFinish, DELETE_PREFIX, isTemporaryName, LATEST, listCandidates, type Candidate } from './names.js';
import { borgRepo, snapshotsDir, workingDir } from './paths.js';
import { runLogged } from './process.js';
import { daemonTransferArgv, RSYNC_SUCCESS_CODES, rsyncEnv, type RsyncResult } from './rsync.js';
import { checkRestorePart } from './restore-part.js';
import { measureTree, ProgressRelay, type ProgressSample } from './restore-progress.js';
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
  /** `latest`, or a snapshot directory / archive name; ignored with `asOf`. */
  readonly snapshot: string;
  /** The newest snapshot taken at or before this (lib/turku/snapshot-choice.ts). */
  readonly asOf?: Date;
  /** Only this relative path of the snapshot (restore-part.ts). */
  readonly path?: string;
  readonly settings: SnapshotSettings;
  readonly log: SnapshotLog;
}

export interface RestoreTree {
  /** Push its contents. */
  readonly dir: string;
  /** The snapshot or archive chosen; null for none mode's mirror. */
  readonly snapshot: string | null;
  /** When the snapshot was taken; null when not known (none mode, a hand-named directory). */
  readonly finishedAt: Date | null;
  /** The part of `dir` to push, checked (restore-part.ts); undefined for all of it. */
  readonly path?: string;
  /** link-dest: where the snapshot's manifest would be (restore-manifest.ts); none for the others. */
  readonly manifestFile?: string;
  /** Removes a borg extraction; nothing to do for the other modes. */
  cleanup(): Promise<void>;
}

const nothingToClean = (): Promise<void> => Promise.resolve();

export async function resolveRestoreTree(request: RestoreRequest): Promise<RestoreTree> {
  const tree = await wholeTree(request);
  if (request.path === undefined) return tree;
  try {
    await checkRestorePart(tree.dir, request.path, tree.snapshot ?? 'mirror');
  } catch (error) {
    await tree.cleanup();
    throw error;
  }
  return { ...tree, path: request.path };
}

function wholeTree(request: RestoreRequest): Promise<RestoreTree> {
  switch (request.mode) {
    case 'link-dest':
      return linkDestTree(request);
    case 'none':
      return mirrorTree(request);
    case 'borg':
      return borgTree(request);
  }
}

/** The as-of choice, or the error that names the first snapshot. */
function chosenAsOf<S extends TimedSnapshot>(request: RestoreRequest, asOf: Date, snapshots: readonly S[]): S {
  const choice = chooseAsOf(snapshots, asOf);
  if (choice.chosen !== undefined) return choice.chosen;
  if (choice.first === undefined) throw noSnapshots(request);
  throw new RestoreError(
    `No snapshot of source "${request.source}" was taken at or before ${asOf.toISOString()}; ` +
      `the first is ${choice.first.name}, taken ${choice.first.finishedAt.toISOString()}`,
  );
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
  const tree = (candidate: Candidate): RestoreTree => ({
    dir: join(dir, candidate.dir),
    snapshot: candidate.name,
    finishedAt: candidate.finishedAt,
    manifestFile: manifestPath(dir, candidate.dir),
    cleanup: nothingToClean,
  });
  if (request.asOf !== undefined) return tree(chosenAsOf(request, request.asOf, candidates));
  if (request.snapshot === LATEST) {
    const newest = candidates.at(-1);
    if (newest !== undefined) return tree(newest);
    const link = join(dir, LATEST);
    if (await isDirectory(link)) {
      const target = await realpath(link);
      return {
        dir: target,
        snapshot: LATEST,
        finishedAt: null,
        manifestFile: `${target}${MANIFEST_SUFFIX}`,
        cleanup: nothingToClean,
      };
    }
    throw noSnapshots(request);
  }
  if (isPlainName(request.snapshot) && (await isDirectory(join(dir, request.snapshot)))) {
    const listed = candidates.find((candidate) => candidate.dir === request.snapshot);
    return {
      dir: join(dir, request.snapshot),
      snapshot: request.snapshot,
      finishedAt: listed?.finishedAt ?? null,
      manifestFile: manifestPath(dir, request.snapshot),
      cleanup: nothingToClean,
    };
  }
  const named = candidates.find((candidate) => candidate.name === request.snapshot);
  if (named !== undefined) return tree(named);
  throw candidates.length === 0 ? noSnapshots(request) : notFound(request);
}

/** none mode keeps only the mirror, which is "latest". */
async function mirrorTree(request: RestoreRequest): Promise<RestoreTree> {
  const mirror = workingDir(request);
  if (!(await isDirectory(mirror))) throw noSnapshots(request);
  if (request.asOf !== undefined) {
    throw new RestoreError(
      `Source "${request.source}" keeps no snapshots (snapshot mode none): nothing to choose by time`,
    );
  }
  if (request.snapshot !== LATEST) throw notFound(request);
  return { dir: mirror, snapshot: null, finishedAt: null, cleanup: nothingToClean };
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
    request.asOf !== undefined
      ? chosenAsOf(request, request.asOf, archives)
      : request.snapshot === LATEST
        ? newestArchive(archives)
        : archives.find((a) => a.name === request.snapshot);
  if (chosen === undefined) throw archives.length === 0 ? noSnapshots(request) : notFound(request);

  const scratch = await mkdtemp(join(request.machineDir, '.restore-'));
  const cleanup = async (): Promise<void> => {
    await removeTree(scratch, log);
  };
  // Only the part asked for (borg matches it as a path prefix); it was archived from `.`.
  const part = request.path === undefined ? [] : [request.path];
  const extract = await runBorg(settings, 'extract', ['--numeric-ids', `${repo}::${chosen.name}`, ...part], {
    log,
    cwd: scratch,
  });
  if (extract.code !== 0) {
    await cleanup();
    if (request.path !== undefined && extract.diagnostics.some((line) => line.includes('never matched'))) {
      throw new RestoreError(`"${request.path}" is not in snapshot ${chosen.name}`);
    }
    throw new RestoreError(borgFailure(extract));
  }
  return { dir: scratch, snapshot: chosen.name, finishedAt: chosen.finishedAt, cleanup };
}

function newestArchive(archives: readonly Archive[]): Archive | undefined {
  return [...archives].sort(byFinish).at(-1);
}

export interface RestorePush {
  readonly rsyncCommand: readonly string[];
  /** The tree whose contents are pushed. */
  readonly dir: string;
  /** Only this checked relative path of `dir`, pushed with its parents (`--relative`). */
  readonly path?: string;
  /** `rsync://<user>@127.0.0.1:<port>/<module>/` */
  readonly url: string;
  readonly password: string;
  readonly hardLinks?: boolean;
  /** `--compress` (the storage's `rsync_compress`). */
  readonly compress?: boolean;
  readonly log: SnapshotLog;
  /** Progress samples, at most one a second, and the last one at the end. */
  readonly onProgress?: (sample: ProgressSample) => void;
}

/**
 * `rsync --archive [--compress] --numeric-ids --sockopts=TCP_NODELAY [--hard-links] <dir>/ <url>`, or
 * `… --relative <dir>/./<path> <url>` for a part; 0 and 24 succeed.
 */
export function restorePushArgv(push: Omit<RestorePush, 'password' | 'log' | 'onProgress'>): string[] {
  const argv = daemonTransferArgv(push.rsyncCommand, push.compress);
  if (push.hardLinks) argv.push('--hard-links');
  const dir = push.dir.endsWith('/') ? push.dir : `${push.dir}/`;
  const from = push.path === undefined ? dir : `${dir}./${push.path}`;
  if (push.path !== undefined) argv.push('--relative');
  argv.push(from, push.url.endsWith('/') ? push.url : `${push.url}/`);
  return argv;
}

export interface RestorePushResult extends RsyncResult {
  /** The last progress sample: what was sent, and the totals when measured. */
  readonly sent: ProgressSample | undefined;
}

export async function pushRestore(push: RestorePush): Promise<RestorePushResult> {
  const onProgress = push.onProgress;
  if (onProgress === undefined) {
    const { code } = await runLogged(restorePushArgv(push), { env: rsyncEnv(push.password), log: push.log });
    return { success: RSYNC_SUCCESS_CODES.includes(code), code, sent: undefined };
  }
  const relay = new ProgressRelay(onProgress);
  // The totals are measured while rsync already sends; samples carry null totals until then.
  const measuring = measureTree(push.path === undefined ? push.dir : join(push.dir, push.path)).then(
    (totals) => relay.setTotals(totals),
    () => undefined,
  );
  const argv = restorePushArgv(push);
  const { code } = await runLogged(
    [...argv.slice(0, -2), '--info=progress2', '--no-human-readable', ...argv.slice(-2)],
    {
      env: rsyncEnv(push.password),
      log: push.log,
      takeLine: relay.takeLine,
      carriageReturnEndsLine: true,
    },
  );
  await measuring;
  return { success: RSYNC_SUCCESS_CODES.includes(code), code, sent: relay.finish() };
}
