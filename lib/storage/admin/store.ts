// One machine's snapshots, read and changed with the workload's own snapshot code
// (lib/storage/snapshots): link-dest snapshot directories and Borg archives, each source in its
// own `<source>.snapshots` / `<source>.borg` of the machine directory.
import { constants } from 'node:fs';
import { access, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { errorMessage, UserError } from '../../common/errors.js';
import { tryLock, type Lock } from '../../common/lock.js';
import type { RetentionPolicy } from '../../turku/retention.js';
import { snapshotSettings } from '../snapshot-settings.js';
import { sessionLockName } from '../session-journal.js';
import type { StorageSettings } from '../settings.js';
import { borgFailure, parseArchiveList, runBorg } from '../snapshots/borg-cli.js';
import { victimsOf } from '../snapshots/expire.js';
import { byFinish, listCandidates, sidecarPath, type Candidate } from '../snapshots/names.js';
import { borgRepo, snapshotsDir } from '../snapshots/paths.js';
import { deleteSnapshot, removeLeftovers } from '../snapshots/snapshot-dir.js';
import type { SnapshotLog, SnapshotSettings } from '../snapshots/types.js';
import type { Machine } from './machines.js';

export interface SnapshotEntry {
  readonly name: string;
  readonly mode: 'link-dest' | 'borg';
  /** When its backup finished, ISO 8601 in UTC. */
  readonly finished: string;
}

/** What `verify` found: the snapshot, and what was checked. */
export interface Verified extends SnapshotEntry {
  /** link-dest: how many entries the snapshot's top directory holds. */
  readonly entries?: number;
  /** link-dest: the snapshot's directory. */
  readonly path?: string;
  /** borg: the check that passed. */
  readonly check?: string;
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

  /**
   * Checks one snapshot: a link-dest directory and its sidecar are there and readable; a Borg
   * archive passes `borg check`. `latest` is the newest of either kind. A refusal when not.
   */
  async verify(machine: Machine, source: string, snapshot: string): Promise<Verified> {
    const all = await this.snapshots(machine, source);
    if (all.length === 0) throw new UserError(`no snapshots of source "${source}" on machine ${machine.uuid}`);
    const chosen = snapshot === 'latest' ? all.at(-1) : all.find((entry) => entry.name === snapshot);
    if (chosen === undefined) {
      throw new UserError(`snapshot "${snapshot}" not found for source "${source}" on machine ${machine.uuid}`);
    }
    if (chosen.mode === 'borg') {
      const repo = borgRepo({ machineDir: machine.dir, source });
      const check = await runBorg(this.snapshotSettings, 'check', [`${repo}::${chosen.name}`], { log: this.log });
      if (check.code !== 0) throw new UserError(`snapshot "${chosen.name}": ${borgFailure(check)}`);
      return { ...chosen, check: 'borg check passed' };
    }
    const candidate = (await this.linkDest(machine, source)).find((c) => c.name === chosen.name)!;
    const dirs = snapshotsDir({ machineDir: machine.dir, source });
    const dir = join(dirs, candidate.dir);
    const sidecar = sidecarPath(dirs, candidate.dir);
    let entries: number;
    try {
      await access(dir, constants.R_OK | constants.X_OK);
      entries = (await readdir(dir)).length;
    } catch (error) {
      throw new UserError(`snapshot "${chosen.name}": directory ${dir} is not readable: ${errorMessage(error)}`);
    }
    try {
      const parsed = JSON.parse(await readFile(sidecar, 'utf8')) as { sync_finish?: unknown };
      if (typeof parsed.sync_finish !== 'string') throw new Error('no sync_finish');
    } catch (error) {
      throw new UserError(
        `snapshot "${chosen.name}": sidecar ${sidecar} is missing or unreadable: ${errorMessage(error)}`,
      );
    }
    return { ...chosen, entries, path: await realpath(dir) };
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
    for (const victim of victimsOf(candidates, policy, options.now, this.snapshotSettings)) {
      if (options.dryRun || (await deleteSnapshot(dirs, victim, this.log))) removed.push(victim.name);
    }
    if (!options.dryRun && candidates.length > 0) await removeLeftovers(dirs, this.log);

    const archives = await this.archives(machine, source);
    const victims = victimsOf(archives, policy, options.now, this.snapshotSettings).map((a) => a.name);
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
