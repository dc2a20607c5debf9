import { UserError } from '../common/errors.js';
import type { SourceDescriptor, StorageEndpoint } from '../turku/protocol/descriptor.js';

/**
 * Sources grouped by the storage that keeps them (docs/datapath.md, "A backup, step by step" step 1
 * and "Restores" step 2): one session per storage, in storage-name order, with the sources in name
 * order.
 */

export interface StorageGroup {
  readonly storage: StorageEndpoint;
  readonly sources: readonly string[];
}

/** The described sources that `keep` accepts and that have a storage, grouped by its name. */
export function groupByStorage(
  descriptors: Readonly<Record<string, SourceDescriptor>>,
  keep: (name: string) => boolean,
): StorageGroup[] {
  const groups = new Map<string, { storage: StorageEndpoint; sources: string[] }>();
  for (const [name, descriptor] of Object.entries(descriptors)) {
    const storage = descriptor.storage;
    if (storage === null || !keep(name)) continue;
    const group = groups.get(storage.name);
    if (group === undefined) groups.set(storage.name, { storage, sources: [name] });
    else group.sources.push(name);
  }
  return [...groups.values()]
    .sort((a, b) => compare(a.storage.name, b.storage.name))
    .map((group) => ({ storage: group.storage, sources: group.sources.sort(compare) }));
}

/** For a restore or a query: exactly one storage, or the one `--restore-storage` names. */
export function chooseStorage(groups: readonly StorageGroup[], wanted: string | undefined): StorageGroup {
  if (wanted !== undefined) {
    const found = groups.find((group) => group.storage.name === wanted);
    if (found === undefined) throw new UserError(`Cannot find appropriate storage "${wanted}"`);
    return found;
  }
  if (groups.length > 1) throw new UserError('Multiple storages found.  Please use --restore-storage to specify one.');
  return groups[0]!;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
