import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { isErrno } from '../../common/errors.js';
import { resolveCalendar } from '../../turku/time.js';
import {
  archiveStatsLine,
  borgFailure,
  borgTimestamp,
  parseArchiveList,
  runBorg,
  type Archive,
  type BorgRun,
} from './borg-cli.js';
import { readPolicy, removedLine, victimsOf } from './expire.js';
import { formatSidecarTime, snapshotName } from './names.js';
import { borgRepo, workingDir } from './paths.js';
import { pullSource, rsyncFailure, rsyncNote } from './rsync.js';
import { exists } from './snapshot-dir.js';
import { type SnapshotJob, type SnapshotOutcome } from './types.js';

/**
 * borg mode (docs/datapath.md, "Snapshot modes"): rsync in place into the working copy (kept as
 * rsync's delta basis), then one archive of it per run in `<source>.borg`, expired by Turku's
 * retention with
 * `borg delete` + `borg compact` (never `borg prune`, whose buckets differ).
 */
export async function runBorgMode(job: SnapshotJob): Promise<SnapshotOutcome> {
  const { settings, log } = job;
  const now = job.now ?? (() => new Date());
  resolveCalendar({ timeZone: settings.timezone, weekStart: settings.weekStart }); // fail before the copy
  const working = workingDir(job);
  await mkdir(working, { recursive: true });
  await job.beforePull?.();
  const syncBegin = now();
  const rsync = await pullSource(job, { destination: working, inplace: true });
  const volume = job.volume ?? job.machineDir;
  if (!rsync.success) return { success: false, snapshot: null, summary: rsyncFailure(rsync, volume) };
  const syncFinish = now();

  const repo = borgRepo(job);
  if (!(await isRepository(repo))) {
    const init = await runBorg(settings, 'init', [`--encryption=${settings.borgEncryption}`, repo], { log });
    if (init.code !== 0) return failed(null, '', init, volume);
  }
  const name = snapshotName(job.source, syncFinish, settings.timezone);
  // Borg expands {…} placeholders in comments; ISO times have none.
  const comment = `turku base=none sync_begin=${formatSidecarTime(syncBegin)} sync_finish=${formatSidecarTime(syncFinish)}`;
  const create = await runBorg(
    settings,
    'create',
    [
      '--json',
      '--numeric-ids',
      '--compression',
      settings.borgCompression,
      '--timestamp',
      borgTimestamp(syncFinish),
      '--comment',
      comment,
      `${repo}::${name}`,
      '.',
    ],
    { log, cwd: working, json: true },
  );
  if (create.code !== 0) return failed(null, '', create, volume);
  log.info(`Created archive ${name}`);
  let summary = archiveStatsLine(create.stdout) + rsyncNote(rsync);

  const reading = readPolicy(job.descriptor.retention, log);
  if (reading.policy === null) return { success: true, snapshot: name, summary: summary + reading.notice };
  // Checkpoints (`<archive>.checkpoint[.N]`) are what a killed or failed `borg create` kept; borg
  // hides them from a plain list, so without this they would stay, and take space, for ever.
  const list = await runBorg(settings, 'list', ['--json', '--consider-checkpoints', repo], { log, json: true });
  if (list.code !== 0) return failed(name, summary, list, volume);
  let archives: Archive[];
  try {
    archives = parseArchiveList(list.stdout);
  } catch (error) {
    log.error(`Cannot read the archive list of ${repo}: ${String(error)}`);
    return { success: false, snapshot: name, summary: `${summary}borg list output not understood\n` };
  }
  const checkpoints = archives.filter((archive) => isCheckpoint(archive.name)).map((archive) => archive.name);
  const complete = archives.filter((archive) => !isCheckpoint(archive.name));
  const names = victimsOf(complete, reading.policy, now(), settings, log).map((victim) => victim.name);
  if (names.length === 0 && checkpoints.length === 0) return { success: true, snapshot: name, summary };
  const remove = await runBorg(settings, 'delete', [repo, ...checkpoints, ...names], { log });
  if (remove.code !== 0) return failed(name, summary, remove, volume);
  for (const checkpoint of checkpoints) log.info(`Removed the checkpoint ${checkpoint} of an interrupted run`);
  for (const victim of names) {
    log.info(`Removed old snapshot ${victim}`);
    summary += removedLine(victim);
  }
  const compact = await runBorg(settings, 'compact', [repo], { log });
  if (compact.code !== 0) return failed(name, summary, compact, volume);
  return { success: true, snapshot: name, summary };
}

/** borg's names for the partial archives of an interrupted `borg create`. */
export function isCheckpoint(name: string): boolean {
  return /\.checkpoint(\.\d+)?$/.test(name);
}

/** A repository has its `config`; anything else there makes `borg init` fail loudly. */
async function isRepository(repo: string): Promise<boolean> {
  try {
    return await exists(join(repo, 'config'));
  } catch (error) {
    if (isErrno(error, 'ENOTDIR')) return false;
    throw error;
  }
}

/** The archive, if made, is reported even when a later step fails. */
function failed(snapshot: string | null, summary: string, run: BorgRun, volume: string): SnapshotOutcome {
  return { success: false, snapshot, summary: `${summary}${borgFailure(run, volume)}` };
}
