// Interface `turku-storage-api`: turku-api `storages` (provides) <-> turku-storage `turku-api`
// (requires), global scope. docs/relations.md has the tables and an example.
//
// Provider application bag (turku-api leader only): the API URL and the id of the Juju secret
// holding the storage-registration credential, granted to the remote application. Requirer unit bag
// (every turku-storage unit; each unit is one Turku storage): what the storage reports in
// storage_update_config (docs/api.md, "storage_update_config"), so the API side can see its
// storages without asking the workload: name, SSH endpoint agents use, pinned host keys, space.
import * as z from 'zod/mini';

import { jsonField } from '../charm/schemas.js';
import {
  type Bag,
  type ReadResult,
  ApiUrl,
  Line,
  MebibytesField,
  PortField,
  SecretUri,
  SshPublicKey,
  readBag,
  writeBag,
} from './fields.js';
import {
  type RegistrationSecretContent,
  readRegistrationSecret,
  registrationSecretContent,
} from './registration-secret.js';

export const STORAGE_API_INTERFACE = 'turku-storage-api';

/** The storage's label for the secret (`secret-get <id> --label ...`). */
export const STORAGE_API_SECRET_LABEL = 'turku-storage-api-registration';

export const StorageApiAppBag = z.object({
  /** The API's `/v1` URL, the storage's `api_url`. */
  'api-url': ApiUrl,
  /** URI of the storage_reg registration secret (content: registration-secret.ts). */
  'secret-id': SecretUri,
});
export type StorageApiAppBag = z.output<typeof StorageApiAppBag>;

export const StorageUnitBag = z.object({
  /** The storage's name (its login at the API; docs/api.md, "Identifiers"). */
  'storage-name': Line,
  /** `ssh_ping_host`: where agents open their SSH session. */
  'ssh-host': Line,
  /** `ssh_ping_port`. */
  'ssh-port': PortField,
  /** `ssh_ping_user`. */
  'ssh-user': Line,
  /** `ssh_ping_host_keys`: the host's public keys agents pin, at least one. */
  'ssh-host-keys': jsonField(z.array(SshPublicKey).check(z.minLength(1, 'expected at least one key'))),
  /** `space_total`: MiB over the storage's volumes (each filesystem once). */
  'space-total-mib': MebibytesField,
  /**
   * `space_available`: MiB free on volumes that accept new machines (others count 0;
   * docs/datapath.md, "Volumes").
   */
  'space-available-mib': MebibytesField,
});
export type StorageUnitBag = z.output<typeof StorageUnitBag>;

/** Storage side: the API leader's application bag. */
export function readStorageApi(bag: Bag): ReadResult<StorageApiAppBag> {
  return readBag(StorageApiAppBag, bag);
}

/** API leader: the application bag to `relation-set --app`. */
export function writeStorageApi(value: StorageApiAppBag): Record<string, string> {
  return writeBag(StorageApiAppBag, value);
}

/** API side: one storage unit's bag. */
export function readStorageUnit(bag: Bag): ReadResult<StorageUnitBag> {
  return readBag(StorageUnitBag, bag);
}

/** Storage unit: its own unit bag. */
export function writeStorageUnit(value: StorageUnitBag): Record<string, string> {
  return writeBag(StorageUnitBag, value);
}

/** Storage side: the secret's content; it must be a storage_reg credential. */
export function readStorageApiSecret(content: Bag): ReadResult<RegistrationSecretContent> {
  return readRegistrationSecret(content, 'storage_reg');
}

/** API leader: the secret content for a storage-registration credential. */
export function storageApiSecretContent(credential: { name: string; secret: string }): Record<string, string> {
  return registrationSecretContent({
    'auth-name': credential.name,
    'auth-secret': credential.secret,
    'auth-type': 'storage_reg',
  });
}
