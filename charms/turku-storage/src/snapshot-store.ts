// What the storage holds, read with the workload's own snapshot code (lib/storage/snapshots):
// the machines under <var_dir>/machines, their sources, and each source's link-dest snapshots
// and Borg archives. The actions list, verify and expire through this module.
import { constants } from 'node:fs';
import { access, lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

import { tryLock } from '../../../lib/common/lock.js';
import { snapshotSettings } from '../../../lib/storage/ping.js';
import type { StorageSettings } from '../../../lib/storage/settings.js';
import { borgFailure, parseArchiveList, runBorg } from '../../../lib/storage/snapshots/borg-cli.js';
import { victimsOf } from '../../../lib/storage/snapshots/expire.js';
import { byFinish, listCandidates, sidecarPath, type Candidate } from '../../../lib/storage/snapshots/names.js';
import { borgRepo, snapshotsDir } from '../../../lib/storage/snapshots/paths.js';
import { deleteSnapshot, removeLeftovers } from '../../../lib/storage/snapshots/snapshot-dir.js';
import type { SnapshotLog, SnapshotSettings } from '../../../lib/storage/snapshots/types.js';
import { machinesDir } from '../../../lib/storage/machine-dir.js';
import type { RetentionPolicy } from '../../../lib/turku/retention.js';
import { canonicalUuid } from '../../../lib/turku/uuid.js';

/** A problem the operator must see as the action's failure message. */
export class StoreError extends Error {
  override name = 'StoreError';
}

export interface Machine {
  readonly uuid: string;
  /** Friendly links (`prod-sql-sql_2`) pointing at it. */
  readonly names: string[];
  /** Its directory on a volume. */
  readonly dir: string;
}

export interface SnapshotEntry {
  readonly name: string;
  readonly mode: 'link-dest' | 'borg';
  readonly finished: string;
}

/** The engines' log lines, kept for the action's juju-log. */
export class CollectedLog implements SnapshotLog {
  readonly lines: { level: 'debug' | 'info' | 'warning' | 'error'; message: string }[] = [];
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warning(message: string): void {
    this.lines.push({ level: 'warning', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
}

export class SnapshotStore {
  readonly snapshotSettings: SnapshotSettings;
  /** Files borg or a lock may have created as root (see actions.ts, giveBack). */
  readonly touched = new Set<string>();

  constructor(
    readonly settings: StorageSettings,
    readonly log: SnapshotLog,
  ) {
    this.snapshotSettings = snapshotSettings(settings);
  }

  /** Every machine with a directory here (a UUID entry of machines/), with its friendly names. */
  async machines(): Promise<Machine[]> {
    const dir = machinesDir(this.settings.var_dir);
    const entries = await readdir(dir).catch(() => [] as string[]);
    const machines = new Map<string, { dir: string; names: string[] }>();
    const friendly: [string, string][] = [];
    for (const entry of entries.sort()) {
      const path = join(dir, entry);
      if (canonicalUuid(entry) === entry) {
        const target = await machineDirOf(path);
        if (target !== undefined) machines.set(entry, { dir: target, names: [] });
        continue;
      }
      const link = await readlink(path).catch(() => undefined);
      if (link !== undefined && canonicalUuid(link) === link) friendly.push([entry, link]);
    }
    for (const [name, uuid] of friendly) machines.get(uuid)?.names.push(name);
    return [...machines].map(([uuid, value]) => ({ uuid, ...value }));
  }

  /** A machine by UUID (any case) or friendly name; StoreError naming it when absent. */
  async machine(wanted: string): Promise<Machine> {
    const uuid = canonicalUuid(wanted);
    const found = (await this.machines()).find((m) => m.uuid === uuid || m.names.includes(wanted));
    if (found === undefined) throw new StoreError(`machine "${wanted}" has no data on this storage`);
    return found;
  }

  /** The sources with snapshots or archives in a machine directory. */
  async sources(machine: Machine): Promise<string[]> {
    const sources = new Set<string>();
    for (const entry of await readdir(machine.dir).catch(() => [] as string[])) {
      const match = /^(.+)\.(snapshots|borg)$/.exec(entry);
      if (match !== null && (await isDirectory(join(machine.dir, entry)))) sources.add(match[1]!);
    }
    return [...sources].sort();
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
    if (list.code !== 0) throw new StoreError(`${repo}: ${borgFailure(list)}`);
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
   * archive passes `borg check`. `latest` is the newest of either kind. StoreError when not.
   */
  async verify(machine: Machine, source: string, snapshot: string): Promise<Record<string, string>> {
    const all = await this.snapshots(machine, source);
    if (all.length === 0) throw new StoreError(`no snapshots of source "${source}" on machine ${machine.uuid}`);
    const chosen = snapshot === 'latest' ? all.at(-1)! : (all.find((entry) => entry.name === snapshot) ?? undefined);
    if (chosen === undefined) {
      throw new StoreError(`snapshot "${snapshot}" not found for source "${source}" on machine ${machine.uuid}`);
    }
    if (chosen.mode === 'borg') {
      const repo = borgRepo({ machineDir: machine.dir, source });
      const check = await runBorg(this.snapshotSettings, 'check', [`${repo}::${chosen.name}`], { log: this.log });
      if (check.code !== 0) throw new StoreError(`snapshot "${chosen.name}": ${borgFailure(check)}`);
      return { snapshot: chosen.name, mode: 'borg', finished: chosen.finished, check: 'borg check passed' };
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
      throw new StoreError(`snapshot "${chosen.name}": directory ${dir} is not readable: ${message(error)}`);
    }
    try {
      const parsed = JSON.parse(await readFile(sidecar, 'utf8')) as { sync_finish?: unknown };
      if (typeof parsed.sync_finish !== 'string') throw new Error('no sync_finish');
    } catch (error) {
      throw new StoreError(`snapshot "${chosen.name}": sidecar ${sidecar} is missing or unreadable: ${message(error)}`);
    }
    return {
      snapshot: chosen.name,
      mode: 'link-dest',
      finished: chosen.finished,
      entries: String(entries),
      path: await realpath(dir),
    };
  }

  /**
   * Applies `policy` to one source, as a successful backup would (spec turku 5.8): all candidates
   * count and the newest is always kept. Returns the names removed (or that would be).
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
      if (remove.code !== 0) throw new StoreError(`${repo}: ${borgFailure(remove)}`);
      const compact = await runBorg(this.snapshotSettings, 'compact', [repo], { log: this.log });
      if (compact.code !== 0) throw new StoreError(`${repo}: ${borgFailure(compact)}`);
    }
    return [...removed, ...victims];
  }

  /** The lock a backup session of the machine holds, so expiry never races a running backup. */
  async lockMachine(machine: Machine) {
    const lock = await tryLock(this.settings.lock_dir, `turku-storage-ping-${machine.uuid}`);
    if (lock !== undefined) this.touched.add(lock.path);
    return lock;
  }
}

export interface ExpireOptions {
  readonly now: Date;
  readonly dryRun: boolean;
}

/** The directory behind `machines/<uuid>`: a symlink's target, or a real directory. */
async function machineDirOf(path: string): Promise<string | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  if (info.isDirectory()) return path;
  if (!info.isSymbolicLink()) return undefined;
  const target = await readlink(path);
  const dir = isAbsolute(target) ? target : resolve(join(path, '..'), target);
  return (await isDirectory(dir)) ? dir : undefined;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
