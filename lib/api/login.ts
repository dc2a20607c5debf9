import type { Auth } from '../turku/protocol/fields.js';
import { badAuth } from './errors.js';
import type { AuthRecord, MachineRecord, SecretType, StorageRecord } from './records.js';
import { hashSecret, verifySecret } from './secrets.js';
import type { Store } from './store.js';

/**
 * Logins (spec §2.2). Every failure is the same 403 "Bad auth", so a caller cannot tell an
 * unknown machine from a wrong secret or an inactive one. A legacy hash that verifies is
 * replaced with a fast one in the same transaction.
 */

export async function checkSecret(
  store: Store,
  table: 'auths' | 'machines' | 'storages',
  record: { readonly id: string; readonly secret_hash: string },
  secret: string,
): Promise<boolean> {
  const verification = await verifySecret(secret, record.secret_hash);
  if (verification.rehash) await store.update(table, record.id, { secret_hash: hashSecret(secret) });
  return verification.ok;
}

export interface MachineLoginOptions {
  /** `update_config` may log in an unpublished machine (it is how an agent re-publishes). */
  readonly allowUnpublished?: boolean;
}

/** Lets a machine already looked up in: it must exist, be active (and published) and match. */
export async function authenticateMachine(
  store: Store,
  machine: MachineRecord | undefined,
  secret: string,
  options: MachineLoginOptions = {},
): Promise<MachineRecord> {
  if (machine === undefined || !machine.active) throw badAuth();
  if (!machine.published && options.allowUnpublished !== true) throw badAuth();
  if (!(await checkSecret(store, 'machines', machine, secret))) throw badAuth();
  return machine;
}

export async function loginMachine(
  store: Store,
  credentials: { readonly uuid: string; readonly secret: string },
): Promise<MachineRecord> {
  return authenticateMachine(store, await store.machineByUuid(credentials.uuid), credentials.secret);
}

/** Lets a storage already looked up in: it must exist, be active and match. */
export async function authenticateStorage(
  store: Store,
  storage: StorageRecord | undefined,
  secret: string | undefined,
): Promise<StorageRecord> {
  if (storage === undefined || secret === undefined || !storage.active) throw badAuth();
  if (!(await checkSecret(store, 'storages', storage, secret))) throw badAuth();
  return storage;
}

export async function loginStorage(
  store: Store,
  credentials: { readonly name?: string | undefined; readonly secret?: string | undefined },
): Promise<StorageRecord> {
  if (credentials.name === undefined) throw badAuth();
  return authenticateStorage(store, await store.storageByName(credentials.name), credentials.secret);
}

/**
 * The registration credential that lets an unknown machine or storage in: `{name, secret}`
 * looked up by name, or a legacy bare secret tried against every active Auth of the type.
 */
export async function checkRegistration(store: Store, auth: Auth | undefined, type: SecretType): Promise<AuthRecord> {
  if (auth === undefined) throw badAuth();
  if (typeof auth === 'string') {
    for (const candidate of await store.activeAuths(type)) {
      if (await checkSecret(store, 'auths', candidate, auth)) return candidate;
    }
    throw badAuth();
  }
  const candidate = await store.authByName(auth.name, type);
  if (candidate === undefined || !(await checkSecret(store, 'auths', candidate, auth.secret))) throw badAuth();
  return candidate;
}
