// The three commands over a SnapshotStore, each returning what it found or did as plain data:
// the JSON document of --json, and what format.ts lays out as a table.
import type { RetentionPolicy } from '../../turku/retention.js';
import type { Filter } from './cli.js';
import { findMachine, selectMachines, sourcesOf } from './machines.js';
import { withSizes } from './sizes.js';
import type { ManifestRecorded, SnapshotEntry, SnapshotStore, Verified } from './store.js';

/** One machine of `list-snapshots`: its sources, each with its snapshots oldest first. */
export interface MachineListing {
  readonly machine: string;
  readonly names: readonly string[];
  readonly sources: Record<string, readonly SnapshotEntry[]>;
}

export async function listSnapshots(
  store: SnapshotStore,
  filter: Filter,
  options: { readonly sizes?: boolean } = {},
): Promise<MachineListing[]> {
  const listing: MachineListing[] = [];
  for (const machine of await selectMachines(store.settings.var_dir, filter.machine)) {
    const sources: Record<string, SnapshotEntry[]> = {};
    for (const source of await sourcesOf(machine)) {
      if (filter.source !== undefined && source !== filter.source) continue;
      const entries = await store.snapshots(machine, source);
      sources[source] = options.sizes === true ? await withSizes(store, machine, source, entries) : entries;
    }
    listing.push({ machine: machine.uuid, names: machine.names, sources });
  }
  return listing;
}

export interface VerifyResult extends Verified {
  readonly machine: string;
  readonly source: string;
}

export async function verifySnapshot(
  store: SnapshotStore,
  wanted: { machine: string; source: string; snapshot: string },
): Promise<VerifyResult> {
  const machine = await findMachine(store.settings.var_dir, wanted.machine);
  const verified = await store.verify(machine, wanted.source, wanted.snapshot);
  return { machine: machine.uuid, ...verified };
}

export interface ManifestResult extends ManifestRecorded {
  readonly machine: string;
  readonly source: string;
}

export async function recordManifest(
  store: SnapshotStore,
  wanted: { machine: string; source: string; snapshot: string; now: Date },
): Promise<ManifestResult> {
  const machine = await findMachine(store.settings.var_dir, wanted.machine);
  const recorded = await store.recordManifest(machine, wanted.source, wanted.snapshot, wanted.now);
  return { machine: machine.uuid, source: wanted.source, ...recorded };
}

export interface ExpireResult {
  readonly dry_run: boolean;
  /** How many snapshots were removed (or would be). */
  readonly count: number;
  /** Machine UUID -> source -> the snapshots removed (or that would be). */
  readonly removed: Record<string, Record<string, string[]>>;
  /** Machines skipped because a backup session holds their lock. */
  readonly busy: string[];
}

export async function expireSnapshots(
  store: SnapshotStore,
  request: { filter: Filter; policy: RetentionPolicy; dryRun: boolean; now: Date },
): Promise<ExpireResult> {
  const removed: Record<string, Record<string, string[]>> = {};
  const busy: string[] = [];
  let count = 0;
  for (const machine of await selectMachines(store.settings.var_dir, request.filter.machine)) {
    const lock = await store.lockMachine(machine);
    if (lock === undefined) {
      busy.push(machine.uuid);
      continue;
    }
    try {
      for (const source of await sourcesOf(machine)) {
        if (request.filter.source !== undefined && source !== request.filter.source) continue;
        const names = await store.expire(machine, source, request.policy, {
          now: request.now,
          dryRun: request.dryRun,
        });
        if (names.length === 0) continue;
        (removed[machine.uuid] ??= {})[source] = names;
        count += names.length;
      }
    } finally {
      await lock.release();
    }
  }
  return { dry_run: request.dryRun, count, removed, busy };
}
