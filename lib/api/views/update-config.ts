import { randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';

import type { z } from 'zod';

import type { SourceSettings, UpdateConfigLogin, UpdateConfigRequest } from '../../turku/protocol/index.js';
import { isAcceptableMachineUuid } from '../../turku/uuid.js';
import { weightedChoice } from '../../turku/weighted-choice.js';
import type { ApiContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { authenticateMachine, checkRegistration, machineCredentials } from '../login.js';
import type { Row } from '../db/database.js';
import {
  machineFromRow,
  sameValue,
  sourceFromRow,
  type AuthRecord,
  type MachineRecord,
  type SourceRecord,
  type StorageRecord,
} from '../records.js';
import { firstBackup, nextBackupOrError } from '../scheduling.js';
import { acceptedRequest, bodyDigest, rememberAccepted } from '../accepted-configs.js';
import { rememberLogin } from '../quick-checkin.js';
import { countedRegistration } from '../metrics/counted-registration.js';
import { secretTransaction, type SecretChecks } from '../secret-checks.js';
import { NO_RECORD_HASH, verifySecretFast } from '../secrets.js';
import { type Store, type Changes } from '../store.js';
import { latchTunnelAllowance } from '../tunnel-ports.js';
import { validSources, type RequestAfterLogin, type UpdateConfigRequestShallow } from '../validation.js';

/**
 * `update_config` (docs/api.md, "update_config"): an agent registers its machine or refreshes it,
 *   and syncs its sources. The caller is authenticated first (the machine's secret, or for an
 *   unknown machine the registration credential), then the request is validated, then everything is
 *   written in one transaction, so a refused request changes nothing.
 */

type Registration = z.output<typeof UpdateConfigRequest>['machine'];

const DEFAULT_FREQUENCY = 'daily';
/** Sources written per event-loop turn (about 5 ms of work at ~60 µs each). */
const SOURCES_PER_TURN = 100;
const DEFAULT_RETENTION = 'last 5 days, earliest of month';

/** Machine keys copied when present and different. */
const MACHINE_FIELDS = ['environment_name', 'service_name', 'unit_name', 'comment', 'ssh_public_key'] as const;

/** Source keys copied when present and different (absent keys keep stored values). */
const SOURCE_FIELDS = [
  'path',
  'frequency',
  'retention',
  'comment',
  'bwlimit',
  'snapshot_mode',
  'preserve_hard_links',
  'shared_service',
  'large_rotating_files',
  'large_modifying_files',
  'filter',
  'exclude',
] as const;
type SourceField = (typeof SOURCE_FIELDS)[number];

export async function updateConfig(
  ctx: ApiContext,
  login: UpdateConfigLogin,
  request: RequestAfterLogin<UpdateConfigRequestShallow>,
  /** The JSON body as sent; absent, the request is validated whatever was accepted before. */
  body?: Record<string, unknown>,
): Promise<Record<string, never>> {
  const { uuid, secret } = machineCredentials(login.machine);
  const digest = body === undefined || uuid === undefined ? undefined : bodyDigest(body);
  // Validated once the caller is in, and only once however often the transaction starts over.
  let validated: Promise<Registration> | undefined;
  const registration = () => {
    if (validated !== undefined) return validated;
    const machine = request().machine;
    validated = validSources(machine.sources).then((sources) => ({ ...machine, sources }));
    return validated;
  };
  // A known machine that proved its secret and sends the body accepted last time: that validation again.
  const knownRegistration = () => {
    const accepted = digest === undefined ? undefined : acceptedRequest<Registration>(ctx, uuid!, digest);
    return accepted === undefined ? registration() : Promise.resolve(accepted);
  };
  const quick =
    uuid === undefined || secret === undefined || digest === undefined
      ? undefined
      : await quickUnchangedUpdate(ctx, uuid, secret, digest);
  if (quick !== undefined) {
    rememberLogin(ctx, quick.machine);
    rememberAccepted(ctx, uuid!, digest!, quick.wanted);
    return {};
  }
  const registering = { now: false };
  const { machine, wanted } = await countedRegistration(ctx, 'machine', registering, () =>
    secretTransaction(ctx.db, async (store, checks) => {
      const now = ctx.now();
      const existing = uuid === undefined ? undefined : await store.machineByUuid(uuid);
      registering.now = existing === undefined;
      let machine: MachineRecord;
      let wanted: Registration;
      let stored: SourceRecord[];
      if (existing === undefined) {
        // An unknown machine: its secret costs what a known one's would, then the registration decides.
        if (secret !== undefined) checks.verify(secret, NO_RECORD_HASH);
        const auth = await checkRegistration(store, checks, login.auth, 'machine_reg');
        wanted = await registration();
        machine = await registerMachine(ctx, store, checks, auth, wanted, now);
        stored = [];
      } else {
        await authenticateMachine(store, checks, existing, secret, { allowUnpublished: true });
        wanted = await knownRegistration();
        // Read once for both steps: refreshing the machine record changes none of its sources.
        stored = await store.sourcesOfMachine(existing.id);
        machine = await refreshMachine(store, existing, stored, wanted, now);
      }
      await syncSources(ctx, store, machine, stored, wanted.sources, now);
      await latchTunnelAllowance(store, machine, wanted.tunnel_allowance, now, ctx.log);
      return { machine, wanted };
    }),
  );
  // A machine that just registered or proved its secret checks in next in one statement.
  rememberLogin(ctx, machine);
  if (uuid !== undefined && digest !== undefined) rememberAccepted(ctx, uuid, digest, wanted);
  return {};
}

/** A machine and its sources (in name order, as JSON), read in one statement. */
const MACHINE_WITH_SOURCES = `SELECT machines.*,
    (SELECT COALESCE(json_agg(sources ORDER BY sources.name), '[]'::json) FROM sources
      WHERE sources.machine_id = machines.id) AS quick_sources
  FROM machines WHERE uuid = $1`;

/** The check-in time, if the machine still holds the secret hash it was let in with and may log in. */
const TOUCH_MACHINE = `UPDATE machines SET date_checked_in = $1
  WHERE id = $2 AND secret_hash = $3 AND active RETURNING id`;

/**
 * PostgreSQL, a machine sending the very body accepted from it last time (so already validated,
 * and with the secret it had then): the ordinary path's transaction is five round trips (BEGIN,
 * the machine, its sources, the update of its check-in time, COMMIT). Here: one statement reads
 * the machine with its sources and, when the body changes nothing but the check-in time, one
 * statement writes that, guarded by the hash the secret was verified against. Anything else
 * (a changed configuration, a secret that does not verify fast, a machine gone or deactivated)
 * is undefined: the ordinary path then runs and decides, as it would have.
 */
async function quickUnchangedUpdate(
  ctx: ApiContext,
  uuid: string,
  secret: string,
  digest: string,
): Promise<{ machine: MachineRecord; wanted: Registration } | undefined> {
  const { db } = ctx;
  if (db.statement === undefined) return undefined;
  const wanted = acceptedRequest<Registration>(ctx, uuid, digest);
  if (wanted === undefined) return undefined;
  const [row] = await db.statement<Row>('turku_machine_with_sources', MACHINE_WITH_SOURCES, [uuid]);
  if (row === undefined) return undefined;
  const machine = machineFromRow(row);
  const verification = verifySecretFast(secret, machine.secret_hash);
  if (!machine.active || verification?.ok !== true || verification.rehash) return undefined;
  const stored = (row.quick_sources as Row[]).map(sourceFromRow);
  if (!changesNothing(machine, stored, wanted)) return undefined;
  const touched = await db.statement('turku_update_config_touch', TOUCH_MACHINE, [
    ctx.now().getTime(),
    machine.id,
    machine.secret_hash,
  ]);
  return touched.length === 1 ? { machine, wanted } : undefined;
}

async function registerMachine(
  ctx: ApiContext,
  store: Store,
  checks: SecretChecks,
  auth: AuthRecord,
  registration: Registration,
  now: Date,
): Promise<MachineRecord> {
  if (!isAcceptableMachineUuid(registration.uuid)) throw badRequest('Invalid UUID format');
  if (registration.secret === '') throw badRequest('Validation error: machine secret must not be empty');
  for (const key of ['unit_name', 'ssh_public_key'] as const) {
    if (registration[key] === undefined) {
      throw badRequest(`Validation error: machine option "${key}" is required to register a machine`);
    }
  }
  requirePathsOfNewSources(registration.sources, new Set());
  const secretHash = checks.hash(registration.secret);
  const storage = await chooseStorage(ctx, store);
  const id = await store.insert('machines', {
    uuid: registration.uuid,
    secret_hash: secretHash,
    environment_name: registration.environment_name ?? null,
    service_name: registration.service_name ?? null,
    unit_name: registration.unit_name!,
    comment: registration.comment ?? null,
    ssh_public_key: registration.ssh_public_key!,
    auth_id: auth.id,
    storage_id: storage.id,
    active: true,
    published: registration.published ?? true,
    date_registered: now,
    date_updated: now,
    date_checked_in: now,
  });
  ctx.log.info(`registered machine ${registration.uuid} (${registration.unit_name!}) on storage ${storage.name}`);
  const machine = await store.machineByUuid(registration.uuid);
  if (machine?.id !== id) throw new Error('registered machine vanished');
  return machine;
}

/** An authenticated machine's record brought up to date. */
async function refreshMachine(
  store: Store,
  machine: MachineRecord,
  storedSources: readonly SourceRecord[],
  registration: Registration,
  now: Date,
): Promise<MachineRecord> {
  const known = new Set(storedSources.map((source) => source.name));
  requirePathsOfNewSources(registration.sources, known);
  const changes: Record<string, string | boolean | null | Date> = machineFieldChanges(machine, registration);
  if (Object.keys(changes).length > 0) changes.date_updated = now;
  changes.date_checked_in = now;
  await store.update('machines', machine.id, changes);
  return machine;
}

/** The machine's fields `registration` changes (empty when none). */
function machineFieldChanges(
  machine: MachineRecord,
  registration: Registration,
): Record<string, string | boolean | null> {
  const changes: Record<string, string | boolean | null> = {};
  for (const key of MACHINE_FIELDS) {
    const value = registration[key];
    if (value !== undefined && value !== machine[key]) changes[key] = value;
  }
  const published = registration.published ?? true;
  if (published !== machine.published) changes.published = published;
  return changes;
}

/**
 * True when `registration` would change nothing of the machine and its sources but the machine's
 * check-in time: no field, no source added, unpublished or changed, no tunnel allowance to latch.
 */
export function changesNothing(
  machine: MachineRecord,
  storedSources: readonly SourceRecord[],
  registration: Registration,
): boolean {
  if (Object.keys(machineFieldChanges(machine, registration)).length > 0) return false;
  if (machine.tunnel_ports === null && registration.tunnel_allowance === true) return false;
  const requested = registration.sources;
  if (requested === undefined) return true;
  const stored = new Map(storedSources.map((source) => [source.name, source]));
  if (storedSources.some((source) => source.published && !Object.hasOwn(requested, source.name))) return false;
  return Object.entries(requested).every(([name, settings]) => {
    const source = stored.get(name);
    return source !== undefined && Object.keys(sourceFieldChanges(source, settings)).length === 0;
  });
}

/** New sources need a path; checked before anything is written. */
function requirePathsOfNewSources(sources: Registration['sources'], known: ReadonlySet<string>): void {
  for (const [name, settings] of Object.entries(sources ?? {})) {
    if (!known.has(name) && settings.path === undefined) {
      throw badRequest(`Validation error: source "${name}": path: required for a new source`);
    }
  }
}

/**
 * docs/api.md, "Storage assignment": active and published storages, weighted by free space; full
 * ones only if all are.
 */
async function chooseStorage(ctx: ApiContext, store: Store): Promise<StorageRecord> {
  const candidates = await store.assignableStorages();
  const storage = weightedChoice(candidates, (candidate) => candidate.space_available, ctx.random);
  if (storage === undefined) throw notFound('No storages are currently available');
  return storage;
}

async function syncSources(
  ctx: ApiContext,
  store: Store,
  machine: MachineRecord,
  storedSources: readonly SourceRecord[],
  requested: Registration['sources'],
  now: Date,
): Promise<void> {
  // An agent that sends no `sources` at all is only refreshing its machine record.
  if (requested === undefined) return;
  const stored = new Map(storedSources.map((source) => [source.name, source]));
  for (const [name, source] of stored) {
    if (source.published && !Object.hasOwn(requested, name)) {
      await store.update('sources', source.id, { published: false, date_updated: now });
    }
  }
  let written = 0;
  for (const [name, settings] of Object.entries(requested)) {
    // Lets other requests' work run between batches, so a big update never holds the event loop long.
    if (++written % SOURCES_PER_TURN === 0) await setImmediate();
    const source = stored.get(name);
    if (source === undefined) await createSource(ctx, store, machine, name, settings, now);
    else await refreshSource(ctx, store, source, settings, now);
  }
}

async function createSource(
  ctx: ApiContext,
  store: Store,
  machine: MachineRecord,
  name: string,
  settings: SourceSettings,
  now: Date,
): Promise<void> {
  const id = randomUUID();
  const frequency = settings.frequency ?? DEFAULT_FREQUENCY;
  await store.insert('sources', {
    id,
    machine_id: machine.id,
    name,
    comment: settings.comment ?? null,
    path: settings.path!,
    filter: settings.filter ?? [],
    exclude: settings.exclude ?? [],
    frequency,
    retention: settings.retention ?? DEFAULT_RETENTION,
    bwlimit: settings.bwlimit ?? null,
    snapshot_mode: settings.snapshot_mode ?? null,
    preserve_hard_links: settings.preserve_hard_links ?? false,
    shared_service: settings.shared_service ?? false,
    large_rotating_files: settings.large_rotating_files ?? false,
    large_modifying_files: settings.large_modifying_files ?? false,
    active: true,
    success: true,
    published: true,
    date_added: now,
    date_updated: now,
    date_next_backup: firstBackup(frequency, id, now, ctx.schedule, name),
    failure_count: 0,
  });
}

async function refreshSource(
  ctx: ApiContext,
  store: Store,
  source: SourceRecord,
  settings: SourceSettings,
  now: Date,
): Promise<void> {
  const changes = sourceFieldChanges(source, settings);
  if (Object.keys(changes).length === 0) return;
  if (changes.frequency !== undefined) {
    changes.date_next_backup = nextBackupOrError(String(changes.frequency), source.id, now, ctx.schedule, source.name);
  }
  changes.date_updated = now;
  await store.update('sources', source.id, changes);
}

/** The source's fields `settings` changes, and its publication (empty when none). */
function sourceFieldChanges(source: SourceRecord, settings: SourceSettings): Record<string, Changes[string]> {
  const changes: Record<string, Changes[string]> = {};
  for (const key of SOURCE_FIELDS) {
    const wanted = requestedValue(key, settings);
    if (wanted !== undefined && !sameValue(wanted, source[key])) changes[key] = wanted;
  }
  if (!source.published) changes.published = true;
  return changes;
}

/** The value a present key asks for; `null` frequency or retention means the default. */
function requestedValue(key: SourceField, settings: SourceSettings): Changes[string] | undefined {
  const value = settings[key];
  if (value === undefined) return undefined;
  if (key === 'frequency' && value === null) return DEFAULT_FREQUENCY;
  if (key === 'retention' && value === null) return DEFAULT_RETENTION;
  return value;
}
