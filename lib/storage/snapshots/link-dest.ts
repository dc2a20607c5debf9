import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { errorMessage } from '../../common/errors.js';
import { LiveRecording } from '../../common/tree-record-live-pool.js';
import { EARLY_MIN_BYTES, EarlyHasher, type EarlyHashes } from '../manifest/early-hash.js';
import { type CloneChanges } from '../manifest/patch.js';
import { manifestAfterBackup, readBaseManifest, type BaseManifest } from '../manifest/record.js';
import { resolveCalendar } from '../../turku/time.js';
import { readPolicy, removedLine, victimsOf } from './expire.js';
import { protectSnapshot } from './immutable.js';
import { canClone, listedPaths, pullOntoClone, type ItemizedChanges } from './link-clone.js';
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
  const { rsync, changes, early, live, baseManifest } =
    base === null ? await pullFull(job, working) : await pullOnBase(job, snapshots, base.dir);
  if (!rsync.success) {
    await live?.close();
    return { success: false, snapshot: null, summary: rsyncFailure(rsync, job.volume ?? job.machineDir) };
  }
  const syncFinish = now();

  const name = await uniqueName(job.source, syncFinish, settings.timezone, snapshots);
  const snapshot = join(snapshots, name);
  try {
    await rename(working, snapshot);
  } catch (error) {
    log.error(`Cannot move the working copy to ${snapshot}: ${errorMessage(error)}`);
    await live?.close();
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
    await live?.close();
    await rename(snapshot, working).catch((undo: unknown) =>
      log.error(`Cannot move ${snapshot} back to the working copy: ${errorMessage(undo)}`),
    );
    return { success: false, snapshot: null, summary: `Cannot write sidecar of ${name}: ${errorMessage(error)}` };
  }
  if (settings.manifest !== false) {
    await manifestAfterBackup(
      {
        snapshotsDir: snapshots,
        dir: name,
        name,
        baseDir: base?.dir ?? null,
        changes,
        early,
        live,
        ...(baseManifest === null ? {} : { base: baseManifest }),
        now: now(),
      },
      log,
    );
  }
  await live?.close(); // the manifest is off, or done with them
  log.info(`Created snapshot ${name}`);
  try {
    await replaceLatest(snapshots, name, log);
  } catch (error) {
    log.error(`Cannot point latest at ${name}: ${errorMessage(error)}`);
  }
  // Last of all, once everything beside or inside it is written (docs/datapath.md, "Immutable snapshots").
  await protectSnapshot(snapshot, settings, job.volume ?? job.machineDir, log);

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

/** A pull, and what the manifest can take from it (null: nothing, walk and read the tree). */
interface Pulled {
  readonly rsync: PullResult;
  /** What the pull changed in a clone of the base. */
  readonly changes: CloneChanges | null;
  /** The files hashed while rsync ran. */
  readonly early: EarlyHashes | null;
  /** The directories recorded while rsync ran. */
  readonly live: LiveRecording | null;
  /** The base's manifest, read while the pull ran (for `changes`). */
  readonly baseManifest: Promise<BaseManifest | null> | null;
}

const NOTHING_TAKEN = { changes: null, early: null, live: null, baseManifest: null } as const;

/** Without a base: the files are hashed for the manifest while rsync still transfers the others. */
async function pullFull(job: SnapshotJob, working: string): Promise<Pulled> {
  if (job.settings.manifest === false) {
    return { rsync: await pullSource(job, { destination: working }), ...NOTHING_TAKEN };
  }
  const hasher = new EarlyHasher(working);
  const live = new LiveRecording(working, EARLY_MIN_BYTES);
  const rsync = await pullSource(job, {
    destination: working,
    sizedNames: true,
    onLine: (line) => {
      hasher.offer(line);
      live.offer(line);
    },
  }).finally(() => {
    live.pullEnded();
    return hasher.finish();
  });
  return { rsync, changes: null, early: await hasher.finish(), live, baseManifest: null };
}

async function pullOnBase(job: SnapshotJob, snapshots: string, baseDir: string): Promise<Pulled> {
  const working = workingDir(job);
  const base = join(snapshots, baseDir);
  if (canClone(job)) {
    // Read while the pull runs: the manifest needs it right after.
    const baseManifest = job.settings.manifest === false ? null : readBaseManifest(snapshots, baseDir);
    const pulled = await pullOntoClone(job, working, base);
    if (pulled.kind === 'pulled') {
      const changes = cloneChanges(pulled.changes);
      return { rsync: pulled.result, ...NOTHING_TAKEN, changes, baseManifest: changes === null ? null : baseManifest };
    }
    job.log.warning(`Cannot clone the base (${pulled.reason}); pulling with --link-dest`);
  }
  const rsync = await pullSource(job, { destination: working, linkDest: base });
  return { rsync, ...NOTHING_TAKEN };
}

/**
 * The dry run's list as the manifest's paths; null when a name is not UTF-8 (a walk reads names as
 * UTF-8, so such a name could not be matched to its entry).
 */
function cloneChanges(changes: ItemizedChanges | undefined): CloneChanges | null {
  if (changes === undefined) return null;
  const touched = utf8Names(listedPaths(changes));
  const deleted = utf8Names(changes.deleted);
  return touched === null || deleted === null ? null : { touched, deleted };
}

function utf8Names(paths: readonly Buffer[]): string[] | null {
  const names = paths.map((path) => path.toString('utf8'));
  return names.every((name, i) => Buffer.from(name, 'utf8').equals(paths[i]!)) ? names : null;
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
  for (const victim of victimsOf(candidates, reading.policy, now, job.settings, job.log)) {
    if (await deleteSnapshot(snapshots, victim, job.log, job.settings)) {
      job.log.info(`Removed old snapshot ${victim.name}`);
      lines += removedLine(victim.name);
    }
  }
  return lines;
}
