import type { Auth } from '../turku/protocol/fields.js';
import { canonicalUuid } from '../turku/uuid.js';
import { badAuth } from './errors.js';
import type { AuthRecord, MachineRecord, SecretType, StorageRecord } from './records.js';
import type { SecretChecks } from './secret-checks.js';
import { NO_RECORD_HASH } from './secrets.js';
import type { Store } from './store.js';

/**
 * Logins (docs/api.md, "Authentication"). Every failure is the same 403 "Bad auth", so a caller
 * cannot tell an unknown machine from a wrong secret or an inactive one; and every failure costs
 * the same: the secret is verified even when the record is missing (against a dummy hash) or
 * unusable. A hash in the wrong format for its secret (imported, or from older parameters) is
 * replaced in the same transaction once it verifies.
 */

type SecretTable = 'auths' | 'machines' | 'storages';

/** True when `record` exists, may log in, and `secret` matches it. */
async function checkSecret(
  store: Store,
  checks: SecretChecks,
  table: SecretTable,
  record: { readonly id: string; readonly secret_hash: string } | undefined,
  secret: string | undefined,
  usable = true,
): Promise<boolean> {
  if (secret === undefined) return false;
  const verification = checks.verify(secret, record?.secret_hash ?? NO_RECORD_HASH);
  if (record === undefined || !usable || !verification.ok) return false;
  if (verification.rehash) await store.update(table, record.id, { secret_hash: checks.hash(secret) });
  return true;
}

/** What a machine login offers, as sent: either part may be absent, mistyped or malformed. */
export interface MachineCredentials {
  readonly uuid: unknown;
  readonly secret: unknown;
}

/** The canonical UUID and the secret, each undefined when it cannot identify anything. */
export function machineCredentials(sent: MachineCredentials): {
  readonly uuid: string | undefined;
  readonly secret: string | undefined;
} {
  return {
    uuid: typeof sent.uuid === 'string' ? canonicalUuid(sent.uuid) : undefined,
    secret: typeof sent.secret === 'string' ? sent.secret : undefined,
  };
}

export interface MachineLoginOptions {
  /** `update_config` may log in an unpublished machine (it is how an agent re-publishes). */
  readonly allowUnpublished?: boolean;
}

/** Lets a machine already looked up in: it must exist, be active (and published) and match. */
export async function authenticateMachine(
  store: Store,
  checks: SecretChecks,
  machine: MachineRecord | undefined,
  secret: string | undefined,
  options: MachineLoginOptions = {},
): Promise<MachineRecord> {
  const usable = machine !== undefined && machine.active && (machine.published || options.allowUnpublished === true);
  if (!(await checkSecret(store, checks, 'machines', machine, secret, usable))) throw badAuth();
  return machine!;
}

export async function loginMachine(
  store: Store,
  checks: SecretChecks,
  sent: MachineCredentials,
): Promise<MachineRecord> {
  const { uuid, secret } = machineCredentials(sent);
  const machine = uuid === undefined ? undefined : await store.machineByUuid(uuid);
  return authenticateMachine(store, checks, machine, secret);
}

/** Lets a storage already looked up in: it must exist, be active and match. */
export async function authenticateStorage(
  store: Store,
  checks: SecretChecks,
  storage: StorageRecord | undefined,
  secret: string | undefined,
): Promise<StorageRecord> {
  if (!(await checkSecret(store, checks, 'storages', storage, secret, storage?.active === true))) throw badAuth();
  return storage!;
}

export async function loginStorage(
  store: Store,
  checks: SecretChecks,
  sent: { readonly name?: string | undefined; readonly secret?: string | undefined },
): Promise<StorageRecord> {
  const storage = sent.name === undefined ? undefined : await store.storageByName(sent.name);
  return authenticateStorage(store, checks, storage, sent.secret);
}

/**
 * The registration credential that lets an unknown machine or storage in: `{name, secret}`
 * looked up by name, or a legacy bare secret tried against every active Auth of the type.
 */
export async function checkRegistration(
  store: Store,
  checks: SecretChecks,
  auth: Auth | undefined,
  type: SecretType,
): Promise<AuthRecord> {
  if (auth === undefined) throw badAuth();
  if (typeof auth === 'string') {
    const candidates = await store.activeAuths(type);
    for (const candidate of candidates) {
      if (await checkSecret(store, checks, 'auths', candidate, auth)) return candidate;
    }
    // With no Auth of the type, still pay for one check.
    if (candidates.length === 0) checks.verify(auth, NO_RECORD_HASH);
    throw badAuth();
  }
  const candidate = await store.authByName(auth.name, type);
  if (!(await checkSecret(store, checks, 'auths', candidate, auth.secret))) throw badAuth();
  return candidate!;
}
