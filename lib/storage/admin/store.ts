// One machine's snapshots, read and changed with the workload's own snapshot code
// (lib/storage/snapshots): link-dest snapshot directories and Borg archives, each source in its
// own `<source>.snapshots` / `<source>.borg` of the machine directory.
import { realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { UserError } from '../../common/errors.js';
import { tryLock, type Lock } from '../../common/lock.js';
import type { ManifestHeader } from '../../turku/manifest.js';
import type { RetentionPolicy } from '../../turku/retention.js';
import { manifestPath } from '../manifest/files.js';
import { hasStoredManifest } from '../manifest/stored.js';
import { recordManifest } from '../manifest/record.js';
import { snapshotSettings } from '../snapshot-settings.js';
import { sessionLockName } from '../session-journal.js';
import type { StorageSettings } from '../settings.js';
import { borgFailure, parseArchiveList, runBorg } from '../snapshots/borg-cli.js';
import { victimsOf } from '../snapshots/expire.js';
import { byFinish, listCandidates, type Candidate } from '../snapshots/names.js';
import { borgRepo, snapshotsDir } from '../snapshots/paths.js';
import { deleteSnapshot, removeLeftovers } from '../snapshots/snapshot-dir.js';
import type { SnapshotLog, SnapshotSettings } from '../snapshots/types.js';
import type { VerifyOutcome } from '../verify/outcome.js';
import { verifyInDetail } from '../verify/verify-snapshot.js';
import type { Machine } from './machines.js';

export interface SnapshotEntry {
  readonly name: string;
  readonly mode: 'link-dest' | 'borg';
  /** When its backup finished, ISO 8601 in UTC. */
  readonly finished: string;
}

/** What `verify` found: the snapshot, and every problem (none: intact). */
export interface Verified extends SnapshotEntry, VerifyOutcome {
  /** link-dest: the snapshot's directory. */
  readonly path?: string;
  /** link-dest: the manifest checked against, and whether it was recorded by the backup. */
  readonly manifest?: { readonly recorded: ManifestHeader['recorded']; readonly created: string };
}

/** What `manifest` recorded. */
export interface ManifestRecorded extends SnapshotEntry {
  readonly path: string;
  readonly manifest: string;
  readonly recorded: ManifestHeader['recorded'];
  readonly entries: number;
  readonly hashed: number;
}

export class SnapshotStore {
  readonly snapshotSettings: SnapshotSettings;
  /** Files borg or a lock may have created: given back to the ping account (ownership.ts). */
  readonly touched = new Set<string>();

  constructor(
    readonly settings: StorageSettings,
    readonly log: SnapshotLog,
  ) {
    this.snapshotSettings = snapshotSettings(settings);
  }

  async linkDest(machine: Machine, source: string): Promise<Candidate[]> {
    return listCandidates(snapshotsDir({ machineDir: machine.dir, source }), {
      timeZone: this.settings.timezone,
      log: this.log,
    });
  }

  /** The archives of `<source>.borg`, oldest first; none without a repository. */
  async archives(machine: Machine, source: string): Promise<{ name: string; finishedAt: Date }[]> {
    const repo = borgRepo({ machineDir: machine.dir, source });
    if (!(await isFile(join(repo, 'config')))) return [];
    this.touched.add(repo);
    const list = await runBorg(this.snapshotSettings, 'list', ['--json', repo], { log: this.log, json: true });
    if (list.code !== 0) throw new UserError(`${repo}: ${borgFailure(list)}`);
    return parseArchiveList(list.stdout).sort(byFinish);
  }

  /** Both kinds, oldest first (a source may have changed modes: each keeps its own). */
  async snapshots(machine: Machine, source: string): Promise<SnapshotEntry[]> {
    const linkDest = (await this.linkDest(machine, source)).map((c) => ({ c, mode: 'link-dest' as const }));
    const borg = (await this.archives(machine, source)).map((c) => ({ c, mode: 'borg' as const }));
    return [...linkDest, ...borg]
      .sort((a, b) => byFinish(a.c, b.c))
      .map(({ c, mode }) => ({ name: c.name, mode, finished: c.finishedAt.toISOString() }));
  }

  /** One snapshot by name, or `latest` (the newest of either kind); a refusal naming it when absent. */
  async find(machine: Machine, source: string, snapshot: string): Promise<SnapshotEntry> {
    const all = await this.snapshots(machine, source);
    if (all.length === 0) throw new UserError(`no snapshots of source "${source}" on machine ${machine.uuid}`);
    const chosen = snapshot === 'latest' ? all.at(-1) : all.find((entry) => entry.name === snapshot);
    if (chosen === undefined) {
      throw new UserError(`snapshot "${snapshot}" not found for source "${source}" on machine ${machine.uuid}`);
    }
    return chosen;
  }

  /**
   * Checks one snapshot (lib/storage/verify): a link-dest snapshot against its manifest, a Borg
   * archive with `borg check --verify-data`. Problems are data; a missing snapshot is a refusal.
   */
  async verify(machine: Machine, source: string, snapshot: string): Promise<Verified> {
    const chosen = await this.find(machine, source, snapshot);
    if (chosen.mode === 'borg') this.touched.add(borgRepo({ machineDir: machine.dir, source }));
    const request = { machineDir: machine.dir, source, snapshot: chosen.name, mode: chosen.mode };
    const { outcome, manifest } = await verifyInDetail(this.snapshotSettings, this.log, request);
    if (chosen.mode === 'borg') return { ...chosen, ...outcome };
    const dir = join(snapshotsDir(request), (await this.candidate(machine, source, chosen.name)).dir);
    return {
      ...chosen,
      ...outcome,
      path: await realpath(dir).catch(() => dir),
      ...(manifest === null ? {} : { manifest: { recorded: manifest.recorded, created: manifest.created } }),
    };
  }

  /**
   * Records the manifest of a link-dest snapshot that has none (one taken before manifests, or
   * with `manifest` off), marked as recorded after the fact: it holds the snapshot as it is now.
   */
  async recordManifest(machine: Machine, source: string, snapshot: string, now: Date): Promise<ManifestRecorded> {
    const chosen = await this.find(machine, source, snapshot);
    if (chosen.mode === 'borg')
      throw new UserError(`snapshot "${chosen.name}" is a Borg archive: borg keeps its own checksums`);
    const candidate = await this.candidate(machine, source, chosen.name);
    const dirs = snapshotsDir({ machineDir: machine.dir, source });
    if (await hasStoredManifest(dirs, candidate.dir)) {
      throw new UserError(`snapshot "${chosen.name}" already has a manifest (${manifestPath(dirs, candidate.dir)})`);
    }
    const recorded = await recordManifest({
      snapshotsDir: dirs,
      dir: candidate.dir,
      name: candidate.name,
      baseDir: null,
      recorded: 'after-the-fact',
      now,
    });
    this.touched.add(recorded.path);
    return {
      ...chosen,
      path: join(dirs, candidate.dir),
      manifest: recorded.path,
      recorded: recorded.recorded,
      entries: recorded.entries,
      hashed: recorded.hashed,
    };
  }

  private async candidate(machine: Machine, source: string, name: string): Promise<Candidate> {
    return (await this.linkDest(machine, source)).find((c) => c.name === name)!;
  }

  /**
   * Applies `policy` to one source as a successful backup would (docs/datapath.md, "Retention on
   * the storage"): every snapshot counts and the newest is always kept. Returns the names
   * removed (or, with dryRun, that would be).
   */
  async expire(machine: Machine, source: string, policy: RetentionPolicy, options: ExpireOptions): Promise<string[]> {
    const removed: string[] = [];
    const dirs = snapshotsDir({ machineDir: machine.dir, source });
    const candidates = await this.linkDest(machine, source);
    for (const victim of victimsOf(candidates, policy, options.now, this.snapshotSettings, this.log)) {
      if (options.dryRun || (await deleteSnapshot(dirs, victim, this.log, this.snapshotSettings)))
        removed.push(victim.name);
    }
    if (!options.dryRun && candidates.length > 0) await removeLeftovers(dirs, this.log);

    const archives = await this.archives(machine, source);
    const victims = victimsOf(archives, policy, options.now, this.snapshotSettings, this.log).map((a) => a.name);
    if (victims.length > 0 && !options.dryRun) {
      const repo = borgRepo({ machineDir: machine.dir, source });
      const remove = await runBorg(this.snapshotSettings, 'delete', [repo, ...victims], { log: this.log });
      if (remove.code !== 0) throw new UserError(`${repo}: ${borgFailure(remove)}`);
      const compact = await runBorg(this.snapshotSettings, 'compact', [repo], { log: this.log });
      if (compact.code !== 0) throw new UserError(`${repo}: ${borgFailure(compact)}`);
    }
    return [...removed, ...victims];
  }

  /** The lock a backup session of the machine holds, so expiry never races a running backup. */
  async lockMachine(machine: Machine): Promise<Lock | undefined> {
    const lock = await tryLock(this.settings.lock_dir, sessionLockName(machine.uuid));
    if (lock !== undefined) this.touched.add(lock.path);
    return lock;
  }
}

export interface ExpireOptions {
  readonly now: Date;
  readonly dryRun: boolean;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
