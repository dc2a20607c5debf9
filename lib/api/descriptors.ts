import { expandFilters, referencesFilterSets } from '../turku/filter-sets.js';
import type { SourceDescriptor, StorageEndpoint } from '../turku/protocol/descriptor.js';
import type { Logger } from '../common/logger.js';
import type { MachineRecord, SourceRecord, StorageRecord } from './records.js';
import type { Store } from './store.js';

/**
 * SOURCE-DESCRIPTOR (docs/api.md, "agent_ping_checkin"): a source as agents and storages receive it, with its
 * FilterSets expanded and the machine's storage endpoint attached; and the check-in that serves them.
 */

/** What a descriptor needs of the machine's storage. */
export type StorageOfDescriptor = Pick<
  StorageRecord,
  'name' | 'ssh_ping_host' | 'ssh_ping_host_keys' | 'ssh_ping_port' | 'ssh_ping_user' | 'snapshot_modes'
>;

/** What a descriptor needs of the machine. */
export type MachineOfDescriptor = Pick<MachineRecord, 'uuid' | 'storage_id' | 'tunnel_ports'>;

export function storageEndpoint(storage: StorageOfDescriptor, machine: MachineOfDescriptor): StorageEndpoint {
  return {
    name: storage.name,
    ssh_ping_host: storage.ssh_ping_host,
    ssh_ping_host_keys: storage.ssh_ping_host_keys,
    ssh_ping_port: storage.ssh_ping_port,
    ssh_ping_user: storage.ssh_ping_user,
    // [NEW] The machine's tunnel ports there, if it has an allowance; original agents ignore the key.
    ...(machine.tunnel_ports === null ? {} : { tunnel_ports: machine.tunnel_ports }),
  };
}

export async function describeSources(
  store: Store,
  machine: MachineOfDescriptor,
  sources: readonly SourceRecord[],
  log: Logger,
): Promise<Record<string, SourceDescriptor>> {
  if (sources.length === 0) return {};
  const storage = await store.storageById(machine.storage_id);
  return describeSourcesOn(storage, machine, sources, () => store.activeFilterSets(), log);
}

/** The descriptors of `sources`, with the machine's storage already at hand. */
export async function describeSourcesOn(
  storage: StorageOfDescriptor | undefined,
  machine: MachineOfDescriptor,
  sources: readonly SourceRecord[],
  activeFilterSets: () => Promise<Map<string, string[]>>,
  log: Logger,
): Promise<Record<string, SourceDescriptor>> {
  const described: Record<string, SourceDescriptor> = {};
  if (sources.length === 0) return described;
  if (storage === undefined) throw new Error(`machine ${machine.uuid} refers to a missing storage`);
  const endpoint = storageEndpoint(storage, machine);
  // Sets are loaded only when a source refers to one: most check-ins need no extra query.
  let sets: Map<string, string[]> | undefined;
  for (const source of sources) {
    if (referencesFilterSets(source.filter)) sets ??= await activeFilterSets();
    const expansion = expandFilters(source.filter, (name) => sets?.get(name));
    for (const warning of expansion.warnings) log.warning(`source ${source.name} of ${machine.uuid}: ${warning}`);
    let snapshotMode = source.snapshot_mode;
    if (snapshotMode === 'borg' && !(storage.snapshot_modes ?? []).includes('borg')) {
      log.warning(
        `source ${source.name} of ${machine.uuid} asks for borg, which storage ${storage.name} has not advertised; serving the storage default`,
      );
      snapshotMode = null;
    }
    // Keys in the original's order; `Object.defineProperty` keeps a source named "__proto__" a plain key.
    Object.defineProperty(described, source.name, {
      value: {
        path: source.path,
        retention: source.retention,
        bwlimit: source.bwlimit,
        filter: expansion.filters,
        exclude: source.exclude,
        shared_service: source.shared_service,
        large_rotating_files: source.large_rotating_files,
        large_modifying_files: source.large_modifying_files,
        snapshot_mode: snapshotMode,
        preserve_hard_links: source.preserve_hard_links,
        storage: endpoint,
      },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return described;
}

/** A check-in (agent or storage side): the machine's due sources, and the time it was seen. */
export async function checkIn(
  store: Store,
  machine: MachineRecord,
  now: Date,
  log: Logger,
): Promise<Record<string, SourceDescriptor>> {
  const scheduled = await describeSources(store, machine, await store.dueSources(machine.id, now), log);
  await store.update('machines', machine.id, { date_checked_in: now });
  return scheduled;
}
