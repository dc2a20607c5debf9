import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { borgArgv, borgEnv, borgFailure, parseArchiveList, runBorg, type BorgSettings } from '../snapshots/borg-cli.js';
import { byFinish, DELETE_PREFIX, isTemporaryName, LATEST, listCandidates } from '../snapshots/names.js';
import { borgRepo, snapshotsDir } from '../snapshots/paths.js';
import type { SnapshotLog, SnapshotSettings } from '../snapshots/types.js';
import { QueryRefusal, treeTotals, type Expired } from './tree.js';

/**
 * The snapshots of one source of the forced command's machine, as the queries see them: link-dest
 * snapshot directories and borg archives, oldest first (a source may have changed modes; `none`
 * keeps no snapshots).
 */

export interface StoredSnapshot {
  readonly name: string;
  readonly mode: 'link-dest' | 'borg';
  readonly finishedAt: Date;
  /** link-dest: the snapshot's directory. */
  readonly dir?: string;
  /** borg: `<repo>::<archive>`. */
  readonly location?: string;
}

export interface SourceWhere {
  readonly machineDir: string;
  readonly source: string;
  readonly settings: SnapshotSettings;
  readonly log: SnapshotLog;
}

export async function storedSnapshots(where: SourceWhere): Promise<StoredSnapshot[]> {
  const dirs = snapshotsDir(where);
  const linkDest = (await listCandidates(dirs, { timeZone: where.settings.timezone, log: where.log })).map(
    (candidate): StoredSnapshot => ({
      name: candidate.name,
      mode: 'link-dest',
      finishedAt: candidate.finishedAt,
      dir: join(dirs, candidate.dir),
    }),
  );
  const repo = borgRepo(where);
  const archives: StoredSnapshot[] = [];
  if (await isFile(join(repo, 'config'))) {
    const list = await runBorg(where.settings, 'list', ['--json', repo], { log: where.log, json: true });
    if (list.code !== 0) throw new QueryRefusal(`cannot list the borg archives: ${borgFailure(list)}`);
    for (const archive of parseArchiveList(list.stdout)) {
      archives.push({ ...archive, mode: 'borg', location: `${repo}::${archive.name}` });
    }
  }
  return [...linkDest, ...archives].sort(byFinish);
}

/**
 * `latest` (the newest), a snapshot's name, or a link-dest directory's name (a snapshot protected
 * by renaming keeps its sidecar's name).
 */
export function chooseSnapshot(all: readonly StoredSnapshot[], wanted: string, source: string): StoredSnapshot {
  if (all.length === 0) throw new QueryRefusal(`no snapshots of source "${source}" on this storage`);
  if (wanted === LATEST) return all.at(-1)!;
  const found =
    all.find((snapshot) => snapshot.name === wanted) ??
    all.find((snapshot) => snapshot.dir !== undefined && isPlainDirName(wanted) && snapshot.dir.endsWith(`/${wanted}`));
  if (found === undefined) throw new QueryRefusal(`snapshot "${wanted}" not found for source "${source}"`);
  return found;
}

function isPlainDirName(name: string): boolean {
  return (
    !name.includes('/') && name !== '.' && name !== '..' && !name.startsWith(DELETE_PREFIX) && !isTemporaryName(name)
  );
}

export interface Totals {
  readonly size: number;
  readonly files: number;
}

/**
 * Size and file count of each snapshot, newest first, while time allows: link-dest by walking the
 * tree (regular files, as borg's `nfiles` counts them), borg from one `borg info` of all archives.
 */
export async function snapshotTotals(
  all: readonly StoredSnapshot[],
  where: SourceWhere,
  expired: Expired,
): Promise<Map<StoredSnapshot, Totals>> {
  const totals = new Map<StoredSnapshot, Totals>();
  if (all.some((snapshot) => snapshot.mode === 'borg')) {
    const stats = await borgArchiveStats(where.settings, borgRepo(where), expired, where.log);
    for (const snapshot of all) {
      const found = snapshot.mode === 'borg' ? stats.get(snapshot.name) : undefined;
      if (found !== undefined) totals.set(snapshot, found);
    }
  }
  for (const snapshot of [...all].reverse()) {
    if (snapshot.dir === undefined || expired()) continue;
    const measured = await treeTotals(snapshot.dir, expired).catch(() => undefined);
    if (measured !== undefined) totals.set(snapshot, measured);
  }
  return totals;
}

/** `borg info --json` of every archive; an empty map when it fails or the time runs out. */
async function borgArchiveStats(
  settings: BorgSettings,
  repo: string,
  expired: Expired,
  log: SnapshotLog,
): Promise<Map<string, Totals>> {
  const argv = borgArgv(settings, 'info', ['--json', '--glob-archives', '*', '--', repo]);
  log.debug(`Running: ${argv.join(' ')}`);
  const stdout = await new Promise<string | undefined>((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: borgEnv(settings), stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const timer = setInterval(() => expired() && child.kill('SIGTERM'), 250);
    child.once('error', () => resolve(undefined));
    child.once('close', (code) => {
      clearInterval(timer);
      resolve(code === 0 ? Buffer.concat(chunks).toString() : undefined);
    });
  });
  const stats = new Map<string, Totals>();
  if (stdout === undefined) return stats;
  try {
    const parsed = JSON.parse(stdout) as { archives?: { name?: unknown; stats?: Record<string, unknown> }[] };
    for (const archive of parsed.archives ?? []) {
      const size = archive.stats?.original_size;
      const files = archive.stats?.nfiles;
      if (typeof archive.name === 'string' && typeof size === 'number' && typeof files === 'number') {
        stats.set(archive.name, { size, files });
      }
    }
  } catch {
    // Sizes stay unknown.
  }
  return stats;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
