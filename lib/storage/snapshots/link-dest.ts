import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { errorMessage } from '../../common/errors.js';
import { resolveCalendar } from '../../turku/time.js';
import { readPolicy, removedLine, victimsOf } from './expire.js';
import { canClone, pullOntoClone } from './link-clone.js';
import {
  DELETE_PREFIX,
  formatSidecarTime,
  listCandidates,
  sidecarPath,
  snapshotName,
  writeSidecar,
  type Candidate,
} from './names.js';
import { snapshotsDir, workingDir } from './paths.js';
import { pullSource, rsyncFailure, rsyncNote, type PullResult } from './rsync.js';
import { deleteSnapshot, exists, removeLeftovers, replaceLatest } from './snapshot-dir.js';
import { type SnapshotJob, type SnapshotOutcome } from './types.js';

/**
 * link-dest mode (docs/datapath.md, "Snapshot modes"): rsync into the working copy, where unchanged
 * files are hard links to the newest snapshot (by a clone, link-clone.ts, or rsync's
 * `--link-dest`); on success the working copy becomes the new snapshot. Until then nothing in
 * `<source>.snapshots/` changes, so a failed run leaves every snapshot and `latest` as they were.
 *
 * A partial working copy left by a failed run is reused only for a first backup. [FIX] With a
 * base it may hold hard links into a snapshot, and rsync would change a mode or owner on such a
 * file in place, in the snapshot too: it is set aside and removed before the pull. [FIX] Every
 * `_delete-*` leftover goes before the pull too, not only after a success: a run that failed for
 * lack of space must not keep the space its partial copy took, or no later run could succeed.
 */

export async function runLinkDest(job: SnapshotJob): Promise<SnapshotOutcome> {
  const { settings, log } = job;
  const now = job.now ?? (() => new Date());
  resolveCalendar({ timeZone: settings.timezone, weekStart: settings.weekStart }); // fail before the copy
  const working = workingDir(job);
  const snapshots = snapshotsDir(job);
  await mkdir(working, { recursive: true });
  await mkdir(snapshots, { recursive: true });

  const before = await listCandidates(snapshots, { timeZone: settings.timezone, log });
  const base = before.at(-1) ?? null;
  if (base !== null) await setAsidePartialCopy(working, snapshots, log);
  // We hold the machine's lock: no other run uses these. Never a snapshot, its sidecar or `latest`.
  await removeLeftovers(snapshots, log);
  await job.beforePull?.();
  const syncBegin = now();
  const rsync =
    base === null ? await pullSource(job, { destination: working }) : await pullOnBase(job, join(snapshots, base.dir));
  if (!rsync.success)
    return { success: false, snapshot: null, summary: rsyncFailure(rsync, job.volume ?? job.machineDir) };
  const syncFinish = now();

  const name = await uniqueName(job.source, syncFinish, settings.timezone, snapshots);
  const snapshot = join(snapshots, name);
  try {
    await rename(working, snapshot);
  } catch (error) {
    log.error(`Cannot move the working copy to ${snapshot}: ${errorMessage(error)}`);
    return { success: false, snapshot: null, summary: `Cannot create snapshot ${name}: ${errorMessage(error)}` };
  }
  try {
    await writeSidecar(snapshots, {
      base: base?.name ?? null,
      name,
      sync_begin: formatSidecarTime(syncBegin),
      sync_finish: formatSidecarTime(syncFinish),
    });
  } catch (error) {
    // Without a sidecar it would be an orphan, never a base nor expired: keep the data as the working copy.
    log.error(`Cannot write the sidecar of ${name}: ${errorMessage(error)}`);
    await rename(snapshot, working).catch((undo: unknown) =>
      log.error(`Cannot move ${snapshot} back to the working copy: ${errorMessage(undo)}`),
    );
    return { success: false, snapshot: null, summary: `Cannot write sidecar of ${name}: ${errorMessage(error)}` };
  }
  log.info(`Created snapshot ${name}`);
  try {
    await replaceLatest(snapshots, name, log);
  } catch (error) {
    log.error(`Cannot point latest at ${name}: ${errorMessage(error)}`);
  }

  let summary = (base === null ? '' : `Base snapshot: ${base.name}\n`) + rsyncNote(rsync);
  const created: Candidate = { dir: name, name, base: base?.name ?? null, finishedAt: syncFinish };
  try {
    summary += await expire(job, [...before, created], now());
  } catch (error) {
    log.error(`Retention failed: ${errorMessage(error)}`);
    summary += `Retention failed: ${errorMessage(error)}\n`;
  }
  return { success: true, snapshot: name, summary };
}

async function pullOnBase(job: SnapshotJob, base: string): Promise<PullResult> {
  const working = workingDir(job);
  if (canClone(job)) {
    const pulled = await pullOntoClone(job, working, base);
    if (pulled.kind === 'pulled') return pulled.result;
    job.log.warning(`Cannot clone the base (${pulled.reason}); pulling with --link-dest`);
  }
  return pullSource(job, { destination: working, linkDest: base });
}

/**
 * Renamed into the snapshots directory as a `_delete-` leftover (removed right after, with the
 * other leftovers; a crash in between leaves it for the next run), then an empty working copy.
 */
async function setAsidePartialCopy(working: string, snapshots: string, log: SnapshotJob['log']): Promise<void> {
  if ((await readdir(working)).length === 0) return;
  const aside = join(snapshots, `${DELETE_PREFIX}working-${randomBytes(4).toString('hex')}`);
  log.info(`Setting the partial working copy of a failed run aside as ${aside}`);
  await rename(working, aside);
  await mkdir(working);
}

/** The random part makes a clash unlikely; a second run in the same second must still not hit one. */
async function uniqueName(source: string, finish: Date, timeZone: string, snapshots: string): Promise<string> {
  for (;;) {
    const name = snapshotName(source, finish, timeZone);
    if (!(await exists(join(snapshots, name))) && !(await exists(sidecarPath(snapshots, name)))) return name;
  }
}

/** Leftovers first (e.g. a victim an interrupted run left half-deleted), then the victims of the policy; returns summary lines. */
async function expire(job: SnapshotJob, candidates: readonly Candidate[], now: Date): Promise<string> {
  const snapshots = snapshotsDir(job);
  await removeLeftovers(snapshots, job.log);
  const reading = readPolicy(job.descriptor.retention, job.log);
  if (reading.policy === null) return reading.notice;
  let lines = '';
  for (const victim of victimsOf(candidates, reading.policy, now, job.settings)) {
    if (await deleteSnapshot(snapshots, victim, job.log)) {
      job.log.info(`Removed old snapshot ${victim.name}`);
      lines += removedLine(victim.name);
    }
  }
  return lines;
}
