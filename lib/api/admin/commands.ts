import { expandFilters, referencesFilterSets } from '../../turku/filter-sets.js';
import { canonicalUuid } from '../../turku/uuid.js';
import type { ApiContext } from '../context.js';
import { isMachineHealthy, isSourceHealthy, isStorageHealthy } from '../health-rules.js';
import type { MachineRecord, SecretType, StorageRecord } from '../records.js';
import { isWeakSecret } from '../../turku/secret-strength.js';
import { generateSecret, hashSecret, isWeakHash } from '../secrets.js';
import { secretTransaction } from '../secret-checks.js';
import { Store } from '../store.js';
import { tunnelPortsAfterMove } from '../tunnel-ports.js';
import { failedVerifies, failedVerifyLine, sourceVerifies, verifyState } from '../verify-reports.js';

/**
 * The operator's commands (docs/api.md, "Admin commands"), independent of how they are invoked:
 * each takes the API context and returns plain data that the CLI prints as a table or JSON.
 * Refusals are AdminError with a one-line message.
 */

export class AdminError extends Error {
  override name = 'AdminError';
}

export const DEFAULT_AUTH_NAMES: Record<SecretType, string> = {
  machine_reg: 'Machine Registrations',
  storage_reg: 'Storage Registrations',
};

export interface CreatedAuth {
  readonly name: string;
  readonly secret_type: SecretType;
  readonly secret: string;
}

export async function createAuth(
  ctx: ApiContext,
  type: SecretType,
  options: { readonly name?: string | undefined; readonly comment?: string | undefined } = {},
): Promise<CreatedAuth> {
  const name = options.name ?? DEFAULT_AUTH_NAMES[type];
  if (name.trim() === '' || name.length > 200) throw new AdminError('the name must be 1-200 characters');
  const secret = generateSecret();
  const secretHash = await hashSecret(secret);
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    if ((await store.authNamed(name)) !== undefined) {
      throw new AdminError(`a registration credential named "${name}" already exists`);
    }
    await store.insert('auths', {
      name,
      secret_hash: secretHash,
      secret_type: type,
      comment: options.comment ?? null,
      active: true,
      date_added: ctx.now(),
    });
  });
  return { name, secret_type: type, secret };
}

export interface EnsuredAuth {
  readonly name: string;
  readonly secret_type: SecretType;
  /** What it took: a new row, a changed row (secret, active flag or comment), or nothing. */
  readonly result: 'created' | 'updated' | 'unchanged';
  /** Shorter than 20 characters: accepted, stored with the slow hash, listed as weak. */
  readonly weak_secret: boolean;
}

/**
 * Makes the registration credential `name` exist, active, with exactly `secret`: idempotent, for
 * a deployment tool (the turku-api charm) that keeps the secret elsewhere (a Juju secret) and
 * may run this at every hook. The secret is the caller's, so it is never printed. Any non-empty
 * secret is accepted; a weak one (see secret-strength.ts) is stored with the slow hash.
 */
export async function ensureAuth(
  ctx: ApiContext,
  type: SecretType,
  name: string,
  secret: string,
  comment?: string,
): Promise<EnsuredAuth> {
  if (name.trim() === '' || name.length > 200) throw new AdminError('the name must be 1-200 characters');
  if (secret === '') throw new AdminError('the secret must not be empty');
  if (secret.includes('\0')) throw new AdminError('the secret must not contain NUL characters');
  const result = await secretTransaction(ctx.db, async (store, checks) => {
    const existing = await store.authNamed(name);
    if (existing === undefined) {
      await store.insert('auths', {
        name,
        secret_hash: checks.hash(secret),
        secret_type: type,
        comment: comment ?? null,
        active: true,
        date_added: ctx.now(),
      });
      return 'created' as const;
    }
    if (existing.secret_type !== type) {
      throw new AdminError(`the registration credential "${name}" is of type ${existing.secret_type}, not ${type}`);
    }
    const changes: Record<string, string | boolean | null> = {};
    // A new secret, or the same one stored in a format that does not fit it (an imported hash).
    const verification = checks.verify(secret, existing.secret_hash);
    if (!verification.ok || verification.rehash) changes.secret_hash = checks.hash(secret);
    if (!existing.active) changes.active = true;
    if (comment !== undefined && comment !== existing.comment) changes.comment = comment;
    if (Object.keys(changes).length === 0) return 'unchanged' as const;
    await store.update('auths', existing.id, changes);
    return 'updated' as const;
  });
  return { name, secret_type: type, result, weak_secret: isWeakSecret(secret) };
}

// ---- listings -------------------------------------------------------------------------------

export interface StorageRow {
  readonly name: string;
  readonly active: boolean;
  readonly published: boolean;
  readonly healthy: boolean;
  /** Its secret is shorter than 20 characters (stored with the slow hash); null: not known yet. */
  readonly weak_secret: boolean | null;
  readonly ssh: string;
  readonly space_total_mib: number;
  readonly space_available_mib: number;
  readonly machines: number;
  readonly snapshot_modes: string[] | null;
  readonly date_checked_in: string | null;
}

export async function listStorages(ctx: ApiContext): Promise<StorageRow[]> {
  const now = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machines = await store.machines();
    return (await store.storages()).map((storage) => ({
      name: storage.name,
      active: storage.active,
      published: storage.published,
      healthy: isStorageHealthy(storage, now),
      weak_secret: isWeakHash(storage.secret_hash) ?? null,
      ssh: `${storage.ssh_ping_user}@${storage.ssh_ping_host}:${storage.ssh_ping_port}`,
      space_total_mib: storage.space_total,
      space_available_mib: storage.space_available,
      machines: machines.filter((machine) => machine.storage_id === storage.id).length,
      snapshot_modes: storage.snapshot_modes,
      date_checked_in: iso(storage.date_checked_in),
    }));
  });
}

export interface MachineRow {
  readonly uuid: string;
  readonly unit_name: string;
  readonly service_name: string | null;
  readonly environment_name: string | null;
  readonly storage: string;
  readonly active: boolean;
  readonly published: boolean;
  readonly healthy: boolean;
  /** As for storages: a short secret, stored with the slow hash; null: not known yet. */
  readonly weak_secret: boolean | null;
  readonly sources: number;
  /** [NEW] Its tunnel port allowance, comma-separated; null: none (an original agent). */
  readonly tunnel_ports: string | null;
  readonly date_checked_in: string | null;
}

export async function listMachines(ctx: ApiContext): Promise<MachineRow[]> {
  const now = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const storages = new Map((await store.storages()).map((storage) => [storage.id, storage.name]));
    const sourceCounts = countBy(await store.sources(), (source) => source.machine_id);
    return (await store.machines()).map((machine) => ({
      uuid: machine.uuid,
      unit_name: machine.unit_name,
      service_name: machine.service_name,
      environment_name: machine.environment_name,
      storage: storages.get(machine.storage_id) ?? '?',
      active: machine.active,
      published: machine.published,
      healthy: isMachineHealthy(machine, now),
      weak_secret: isWeakHash(machine.secret_hash) ?? null,
      sources: sourceCounts.get(machine.id) ?? 0,
      tunnel_ports: machine.tunnel_ports?.join(',') ?? null,
      date_checked_in: iso(machine.date_checked_in),
    }));
  });
}

export interface SourceRow {
  readonly machine: string;
  readonly unit_name: string;
  readonly name: string;
  readonly path: string;
  readonly frequency: string;
  readonly active: boolean;
  readonly published: boolean;
  readonly healthy: boolean;
  readonly success: boolean;
  readonly failure_count: number;
  readonly date_last_backed_up: string | null;
  readonly date_next_backup: string;
  /** [NEW] The latest verify its storage reported: `ok …`, `FAILED n problems in …`, or null. */
  readonly verify: string | null;
}

export async function listSources(ctx: ApiContext, machineUuid?: string): Promise<SourceRow[]> {
  const now = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machines = new Map((await store.machines()).map((machine) => [machine.id, machine]));
    const wanted = machineUuid === undefined ? undefined : await requireMachine(store, machineUuid);
    const verifies = await sourceVerifies(store.queryable);
    return (await store.sources())
      .filter((source) => wanted === undefined || source.machine_id === wanted.id)
      .map((source) => {
        const machine = machines.get(source.machine_id);
        return {
          machine: machine?.uuid ?? '?',
          unit_name: machine?.unit_name ?? '?',
          name: source.name,
          path: source.path,
          frequency: source.frequency,
          active: source.active,
          published: source.published,
          healthy: isSourceHealthy(source, now),
          success: source.success,
          failure_count: source.failure_count,
          date_last_backed_up: iso(source.date_last_backed_up),
          date_next_backup: source.date_next_backup.toISOString(),
          verify: verifyState(verifies.get(source.id)),
        };
      })
      .sort((a, b) => a.unit_name.localeCompare(b.unit_name) || a.name.localeCompare(b.name));
  });
}

export interface BackupRow {
  readonly date: string;
  readonly unit_name: string;
  readonly source: string;
  readonly storage: string | null;
  readonly success: boolean;
  readonly skipped: boolean;
  readonly snapshot: string | null;
  readonly duration_seconds: number | null;
  readonly summary: string | null;
}

export async function listBackups(ctx: ApiContext, limit = 50): Promise<BackupRow[]> {
  return ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machines = new Map((await store.machines()).map((machine) => [machine.id, machine]));
    const sources = new Map((await store.sources()).map((source) => [source.id, source]));
    const storages = new Map((await store.storages()).map((storage) => [storage.id, storage.name]));
    return (await store.recentBackupLogs(limit)).map((log) => {
      const source = sources.get(log.source_id);
      const machine = source === undefined ? undefined : machines.get(source.machine_id);
      return {
        date: log.date.toISOString(),
        unit_name: machine?.unit_name ?? '?',
        source: source?.name ?? '?',
        storage: log.storage_id === null ? null : (storages.get(log.storage_id) ?? '?'),
        success: log.success,
        skipped: log.skipped,
        snapshot: log.snapshot,
        duration_seconds:
          log.date_begin === null || log.date_end === null
            ? null
            : Math.round((log.date_end.getTime() - log.date_begin.getTime()) / 100) / 10,
        summary: log.summary,
      };
    });
  });
}

// ---- changes --------------------------------------------------------------------------------

/** Makes a source due now; the agent picks it up at its next check-in. */
export async function triggerBackup(ctx: ApiContext, machineUuid: string, sourceName: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machine = await requireMachine(store, machineUuid);
    const source = (await store.sourcesOfMachine(machine.id)).find((candidate) => candidate.name === sourceName);
    if (source === undefined) throw new AdminError(`machine ${machine.uuid} has no source named "${sourceName}"`);
    await store.update('sources', source.id, { date_next_backup: ctx.now(), date_updated: ctx.now() });
  });
}

export type Switchable = 'machine' | 'storage' | 'auth' | 'filter-set';

export async function setActive(ctx: ApiContext, kind: Switchable, key: string, active: boolean): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    switch (kind) {
      case 'machine': {
        const machine = await requireMachine(store, key);
        await store.update('machines', machine.id, { active, date_updated: ctx.now() });
        return;
      }
      case 'storage': {
        const storage = await requireStorage(store, key);
        await store.update('storages', storage.id, { active, date_updated: ctx.now() });
        return;
      }
      case 'auth': {
        const auth = await store.authNamed(key);
        if (auth === undefined) throw new AdminError(`no registration credential named "${key}"`);
        await store.update('auths', auth.id, { active });
        return;
      }
      case 'filter-set': {
        const set = await store.filterSetByName(key);
        if (set === undefined) throw new AdminError(`no filter set named "${key}"`);
        await store.update('filter_sets', set.id, { active });
        return;
      }
    }
  });
}

/** Moves a machine to another storage; the new storage starts from scratch, old data stays. */
export async function reassignMachine(ctx: ApiContext, machineUuid: string, storageName: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machine = await requireMachine(store, machineUuid);
    const storage = await requireStorage(store, storageName);
    if (!storage.active) throw new AdminError(`storage "${storage.name}" is inactive`);
    await store.update('machines', machine.id, {
      storage_id: storage.id,
      date_updated: ctx.now(),
      ...(await tunnelPortsAfterMove(store, machine, storage.id)),
    });
  });
}

/**
 * [NEW] Forgets a machine's tunnel port allowance, for a machine whose agent really went back
 * to an original one: its storage then writes the configured wide line again (if it writes
 * such lines at all), until an agent of ours asks anew. Returns the ports it had.
 */
export async function resetTunnelPorts(ctx: ApiContext, machineUuid: string): Promise<number[] | null> {
  return ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machine = await requireMachine(store, machineUuid);
    if (machine.tunnel_ports !== null) {
      await store.update('machines', machine.id, { tunnel_ports: null, date_updated: ctx.now() });
    }
    return machine.tunnel_ports;
  });
}

export async function cleanLogs(ctx: ApiContext, days: number): Promise<number> {
  if (!Number.isFinite(days) || days < 0) throw new AdminError('--days must be a non-negative number');
  const cutoff = new Date(ctx.now().getTime() - days * 86_400_000);
  return ctx.db.transaction((tx) => new Store(tx).deleteBackupLogsBefore(cutoff));
}

/** Creates or replaces a FilterSet; its entries are checked the way expansion reads them. */
export async function putFilterSet(
  ctx: ApiContext,
  name: string,
  filters: readonly string[],
  comment?: string,
): Promise<void> {
  if (name.trim() === '' || name.length > 200 || /[\r\n]/.test(name)) {
    throw new AdminError('the name must be one line of 1-200 characters');
  }
  for (const filter of filters) {
    if (/[\r\n\0]/.test(filter)) throw new AdminError('filters must not contain line breaks or NUL');
    const kept = expandFilters([filter], () => []).filters.length > 0;
    if (!kept && !referencesFilterSets([filter]))
      throw new AdminError(`"${filter}" is not an rsync filter rule this API passes on`);
  }
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const existing = await store.filterSetByName(name);
    if (existing === undefined) {
      await store.insert('filter_sets', {
        name,
        filters,
        comment: comment ?? null,
        active: true,
        date_added: ctx.now(),
      });
    } else {
      await store.update('filter_sets', existing.id, { filters, ...(comment === undefined ? {} : { comment }) });
    }
  });
}

export async function listFilterSets(ctx: ApiContext) {
  return ctx.db.transaction(async (tx) =>
    (await new Store(tx).filterSets()).map((set) => ({
      name: set.name,
      active: set.active,
      filters: set.filters,
      comment: set.comment,
    })),
  );
}

// ---- Nagios health --------------------------------------------------------------------------

export interface FleetHealth {
  readonly ok: boolean;
  /** The first line and one line per sick object, as Nagios shows them. */
  readonly lines: string[];
}

export async function fleetHealth(ctx: ApiContext): Promise<FleetHealth> {
  const now = ctx.now();
  return ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const storages = (await store.storages()).filter((storage) => storage.active && storage.published);
    const machines = (await store.machines()).filter((machine) => machine.active && machine.published);
    const inScope = new Map(machines.map((machine) => [machine.id, machine]));
    const sources = (await store.sources()).filter(
      (source) => source.active && source.published && inScope.has(source.machine_id),
    );
    const sickStorages = storages.filter((storage) => !isStorageHealthy(storage, now));
    const sickMachines = machines.filter((machine) => !isMachineHealthy(machine, now));
    const sickSources = sources.filter((source) => !isSourceHealthy(source, now));
    // [NEW] Failed verifies (docs/api.md, "Health rules"), of active sources of active machines.
    const failed = await failedVerifies(store.queryable);
    const sick = sickStorages.length + sickMachines.length + sickSources.length + failed.length;
    if (sick === 0) {
      return {
        ok: true,
        lines: [`OK ${storages.length} storages, ${machines.length} machines, ${sources.length} sources`],
      };
    }
    return {
      ok: false,
      lines: [
        `CRITICAL ${sickStorages.length}/${storages.length} storages, ${sickMachines.length}/${machines.length} machines, ${sickSources.length}/${sources.length} sources` +
          (failed.length === 0 ? '' : `, ${failed.length} failed verifies`),
        ...sickStorages.map((storage) => `<Storage: ${storage.name}>`),
        ...sickMachines.map((machine) => `<Machine: ${machineLabel(machine)}>`),
        ...sickSources.map((source) => `<Source: ${inScope.get(source.machine_id)!.unit_name} ${source.name}>`),
        ...failed.map(failedVerifyLine),
      ],
    };
  });
}

// ---- helpers --------------------------------------------------------------------------------

function machineLabel(machine: MachineRecord): string {
  return `${machine.unit_name} (${machine.uuid.slice(0, 8)})`;
}

async function requireMachine(store: Store, uuid: string): Promise<MachineRecord> {
  const canonical = canonicalUuid(uuid);
  if (canonical === undefined) throw new AdminError(`"${uuid}" is not a machine UUID`);
  const machine = await store.machineByUuid(canonical);
  if (machine === undefined) throw new AdminError(`no machine with UUID ${canonical}`);
  return machine;
}

async function requireStorage(store: Store, name: string): Promise<StorageRecord> {
  const storage = await store.storageByName(name);
  if (storage === undefined) throw new AdminError(`no storage named "${name}"`);
  return storage;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}
