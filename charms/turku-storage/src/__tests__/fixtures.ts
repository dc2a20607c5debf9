// Shared by the charm's tests: the charm's metadata, an in-process executor over MachineRoots,
// a real turku-api with a storage-registration credential, and the relation state that carries it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { createAuth } from '../../../../lib/api/admin/commands.js';
import { runCharm } from '../../../../lib/charm/index.js';
import { storageApiSecretContent } from '../../../../lib/charm-interfaces/index.js';
import { parseCharmMeta } from '../../../../lib/charm-pack/charm-meta.js';
import type { CharmMeta } from '../../../../lib/charm-testing/model.js';
import type { RelationState, SecretState } from '../../../../lib/charm-testing/scenario.js';
import type { SimCharm } from '../../../../lib/charm-testing/simulator.js';
import { startTestApi, type TestApi } from '../../../../tests/support/api-harness.js';
import type { MachineRoots } from '../../../../tests/support/machines.js';
import { turkuStorageCharm } from '../charm.js';

export const CHARMCRAFT = fileURLToPath(new URL('../../charmcraft.yaml', import.meta.url));

export async function storageMeta(): Promise<CharmMeta> {
  return parseCharmMeta(await readFile(CHARMCRAFT, 'utf8'));
}

export async function storageCharm(roots: MachineRoots): Promise<SimCharm> {
  const definition = turkuStorageCharm(roots.hostFor);
  return { meta: await storageMeta(), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}

export interface ApiWorld {
  readonly api: TestApi;
  readonly credential: { readonly name: string; readonly secret: string };
}

export async function startApiWorld(): Promise<ApiWorld> {
  const api = await startTestApi('sqlite');
  const credential = await createAuth(api.api.ctx, 'storage_reg', { name: 'juju storages:1' });
  return { api, credential };
}

/** 20 characters of [0-9a-v], as Juju's secret ids. */
export const SECRET_ID = 'cu9k0hlrfhps7f0t6mq1';

/** The API application's registration secret, granted to this application. */
export function registrationSecret(world: ApiWorld): SecretState {
  return {
    id: SECRET_ID,
    owner: { app: 'turku-api' },
    revisions: [{ revision: 1, content: storageApiSecretContent(world.credential) }],
  };
}

/** The `turku-api` relation once the API leader published its URL and secret id. */
export function apiRelation(world: ApiWorld, overrides: Partial<RelationState> = {}): RelationState {
  return {
    id: 3,
    endpoint: 'turku-api',
    remoteApp: 'turku-api',
    remoteEndpoint: 'storages',
    remoteUnits: { 'turku-api/0': {} },
    remoteAppData: { 'api-url': world.api.url, 'secret-id': `secret:${SECRET_ID}` },
    ...overrides,
  };
}
