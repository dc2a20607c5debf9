import type {
  SourceDescriptor,
  StorageLogin,
  StorageMachine,
  StoragePingCheckinRequest,
  StoragePingSourceUpdateRequest,
  StorageUpdateConfigLogin,
  StorageUpdateConfigRequest,
} from '../../turku/protocol/index.js';
import { FrequencyError } from '../../turku/frequency.js';
import { nextBackup, ScheduleError } from '../../turku/schedule.js';
import type { ApiContext } from '../context.js';
import { checkIn } from '../descriptors.js';
import { badAuth, badRequest, notFound } from '../errors.js';
import { authenticateStorage, checkRegistration, loginStorage } from '../login.js';
import { sameValue, type AuthRecord, type MachineRecord, type StorageRecord } from '../records.js';
import { retryAfterFailure } from '../scheduling.js';
import { countedRegistration } from '../metrics/counted-registration.js';
import type { BackupResult } from '../metrics/instruments.js';
import { secretTransaction, type SecretChecks } from '../secret-checks.js';
import { NO_RECORD_HASH } from '../secrets.js';
import { type Store, type ColumnValue } from '../store.js';
import type { RequestAfterLogin } from '../validation.js';

/**
 * The storage views (docs/api.md, "storage_update_config" to "storage_ping_source_update"). Each
 * authenticates the storage before it looks at the rest of the request, so a caller without valid
 * credentials only ever gets 403.
 */

const STORAGE_FIELDS = [
  'comment',
  'ssh_ping_host',
  'ssh_ping_port',
  'ssh_ping_user',
  'ssh_ping_host_keys',
  'space_total',
  'space_available',
  'snapshot_modes',
] as const;

export async function storageUpdateConfig(
  ctx: ApiContext,
  login: StorageUpdateConfigLogin,
  request: RequestAfterLogin<StorageUpdateConfigRequest>,
): Promise<{ machines: Record<string, StorageMachine> }> {
  const { name, secret } = login.storage;
  if (name === undefined || secret === undefined) throw badAuth();
  const registering = { now: false };
  const reply = await countedRegistration(ctx, 'storage', registering, () =>
    secretTransaction(ctx.db, async (store, checks) => {
      const now = ctx.now();
      const existing = await store.storageByName(name);
      registering.now = existing === undefined;
      let storage: StorageRecord;
      if (existing === undefined) {
        // An unknown storage: its secret costs what a known one's would, then the registration decides.
        checks.verify(secret, NO_RECORD_HASH);
        const auth = await checkRegistration(store, checks, login.auth, 'storage_reg');
        storage = await registerStorage(ctx, store, checks, auth, request(), now);
      } else {
        storage = await authenticateStorage(store, checks, existing, secret);
        await refreshStorage(store, storage, request(), now);
      }
      const machines: Record<string, StorageMachine> = {};
      for (const machine of await store.machinesOfStorage(storage.id)) {
        machines[machine.uuid] = {
          environment_name: machine.environment_name,
          service_name: machine.service_name,
          unit_name: machine.unit_name,
          comment: machine.comment,
          ssh_public_key: machine.ssh_public_key,
          // [NEW] Only for machines with an allowance; an original storage ignores the key.
          ...(machine.tunnel_ports === null ? {} : { tunnel_ports: machine.tunnel_ports }),
        };
      }
      return { machines };
    }),
  );
  // Once logged in, and once however often the transaction ran.
  for (const warning of request().storage.space_warnings ?? []) {
    ctx.log.warning(`storage ${name}: ${warning.replace(CONTROL_CHARACTERS, ' ')}`);
  }
  return reply;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

async function registerStorage(
  ctx: ApiContext,
  store: Store,
  checks: SecretChecks,
  auth: AuthRecord,
  request: StorageUpdateConfigRequest,
  now: Date,
): Promise<StorageRecord> {
  const offered = request.storage;
  const { name, secret } = offered;
  // The login read both; the full request agrees, or it was refused.
  if (name === undefined || secret === undefined) throw badAuth();
  if (secret === '') throw badRequest('Validation error: storage secret must not be empty');
  for (const key of ['ssh_ping_host', 'ssh_ping_port', 'ssh_ping_user'] as const) {
    if (offered[key] === undefined) {
      throw badRequest(`Validation error: storage option "${key}" is required to register a storage`);
    }
  }
  await store.insert('storages', {
    name,
    secret_hash: checks.hash(secret),
    comment: offered.comment ?? null,
    ssh_ping_host: offered.ssh_ping_host!,
    ssh_ping_host_keys: offered.ssh_ping_host_keys ?? [],
    ssh_ping_port: offered.ssh_ping_port!,
    ssh_ping_user: offered.ssh_ping_user!,
    space_total: offered.space_total ?? 0,
    space_available: offered.space_available ?? 0,
    auth_id: auth.id,
    active: true,
    published: offered.published ?? true,
    date_registered: now,
    date_updated: now,
    date_checked_in: now,
    snapshot_modes: offered.snapshot_modes ?? null,
  });
  ctx.log.info(`registered storage ${name}`);
  const storage = await store.storageByName(name);
  if (storage === undefined) throw new Error('registered storage vanished');
  return storage;
}

/** An authenticated storage's record brought up to date. */
async function refreshStorage(
  store: Store,
  storage: StorageRecord,
  request: StorageUpdateConfigRequest,
  now: Date,
): Promise<void> {
  const offered = request.storage;
  const changes: Record<string, ColumnValue> = {};
  for (const key of STORAGE_FIELDS) {
    const value = offered[key];
    if (value !== undefined && !sameValue(value, storage[key])) changes[key] = value;
  }
  const published = offered.published ?? true;
  if (published !== storage.published) changes.published = published;
  if (Object.keys(changes).length > 0) changes.date_updated = now;
  changes.date_checked_in = now;
  await store.update('storages', storage.id, changes);
}

/** The machine a storage asks about: on this storage, active and published, else 404. */
async function machineOfStorage(store: Store, storage: StorageRecord, uuid: string): Promise<MachineRecord> {
  const machine = await store.machineByUuid(uuid);
  if (machine === undefined || machine.storage_id !== storage.id || !machine.active || !machine.published) {
    throw notFound('Machine not found');
  }
  return machine;
}

export async function storagePingCheckin(
  ctx: ApiContext,
  login: StorageLogin,
  request: RequestAfterLogin<StoragePingCheckinRequest>,
): Promise<{
  machine: {
    uuid: string;
    environment_name: string | null;
    service_name: string | null;
    unit_name: string;
    scheduled_sources: Record<string, SourceDescriptor>;
  };
}> {
  return secretTransaction(ctx.db, async (store, checks) => {
    const now = ctx.now();
    const storage = await loginStorage(store, checks, login.storage);
    const machine = await machineOfStorage(store, storage, request().machine.uuid);
    const scheduled = await checkIn(store, machine, now, ctx.log);
    return {
      machine: {
        uuid: machine.uuid,
        environment_name: machine.environment_name,
        service_name: machine.service_name,
        unit_name: machine.unit_name,
        scheduled_sources: scheduled,
      },
    };
  });
}

export async function storagePingSourceUpdate(
  ctx: ApiContext,
  login: StorageLogin,
  request: RequestAfterLogin<StoragePingSourceUpdateRequest>,
): Promise<Record<string, never>> {
  // Counted once the reports are stored, however often the transaction ran.
  let results: BackupResult[] = [];
  await secretTransaction(ctx.db, async (store, checks) => {
    const now = ctx.now();
    const storage = await loginStorage(store, checks, login.storage);
    const { machine: reported } = request();
    const machine = await machineOfStorage(store, storage, reported.uuid);
    const sources = new Map((await store.sourcesOfMachine(machine.id)).map((source) => [source.name, source]));
    const reports = Object.entries(reported.sources);
    results = [];
    // Every named source must exist before anything is applied.
    for (const [name] of reports) {
      const source = sources.get(name);
      if (source === undefined || !source.active || !source.published) throw notFound('Source not found');
    }
    for (const [name, result] of reports) {
      const source = sources.get(name)!;
      const ok = result.success === true;
      results.push(result.skipped === true ? 'skipped' : ok ? 'success' : 'failure');
      // Every report is an attempt, its time kept on the source beside its backup log (migration 6).
      if (result.skipped === true) {
        ctx.log.info(`source ${name} of ${machine.uuid} was skipped by storage ${storage.name}; it stays due`);
        await store.update('sources', source.id, { date_last_attempt: now });
      } else if (ok) {
        await store.update('sources', source.id, {
          success: true,
          failure_count: 0,
          date_last_backed_up: now,
          date_last_attempt: now,
          date_next_backup: nextAfterSuccess(ctx, source.frequency, source.id, now, name),
        });
      } else {
        const failures = await store.recordFailure(source.id);
        await store.update('sources', source.id, {
          date_last_attempt: now,
          date_next_backup: retryAfterFailure(failures, now, ctx.backoff),
        });
      }
      await store.insert('backup_logs', {
        source_id: source.id,
        date: now,
        storage_id: storage.id,
        success: ok && result.skipped !== true,
        skipped: result.skipped === true,
        date_begin: epochToDate(result.time_begin),
        date_end: epochToDate(result.time_end),
        snapshot: result.snapshot ?? null,
        summary: result.summary ?? null,
      });
    }
  });
  for (const result of results) ctx.metrics?.instruments.backup(result);
  return {};
}

/** A stored frequency that does not parse or never matches (possible after an import) must not lose the report. */
function nextAfterSuccess(ctx: ApiContext, frequency: string, id: string, now: Date, name: string): Date {
  try {
    return nextBackup(frequency, id, now, ctx.schedule);
  } catch (error) {
    if (!(error instanceof ScheduleError || error instanceof FrequencyError)) throw error;
    ctx.log.error(`source ${name}: ${error.message}; retrying after the longest backoff`);
    return new Date(now.getTime() + ctx.backoff.max * 1000);
  }
}

/** Epoch seconds are UTC instants whatever the server's zone. */
function epochToDate(seconds: number | undefined): Date | null {
  if (seconds === undefined) return null;
  const date = new Date(Math.round(seconds * 1000));
  return Number.isNaN(date.getTime()) ? null : date;
}
