// The `turku-api` relation as the storage sees it: the API's URL and the storage-registration
// credential (a Juju secret whose id the API leader publishes), or what is still missing.
import { AccessError, type HookTools, SecretNotFoundError } from '../../../lib/charm/index.js';
import {
  type ApiAccess,
  type ApiReadiness,
  readStorageApi,
  readStorageApiSecret,
  STORAGE_API_SECRET_LABEL,
} from '../../../lib/charm-interfaces/index.js';

export const API_ENDPOINT = 'turku-api';

/** The access, and the relation it came from (the storage publishes its own unit data there). */
export interface StorageApiAccess extends ApiAccess {
  readonly relation: string;
}

export type ApiRelation = ApiReadiness<StorageApiAccess>;

export async function readApiRelation(tools: HookTools): Promise<ApiRelation> {
  const [relation] = await tools.relationIds(API_ENDPOINT);
  if (relation === undefined) return { kind: 'waiting', message: 'waiting for a turku-api relation' };
  const remoteApp = await tools.relationRemoteApp(relation).catch(() => undefined);
  if (remoteApp === undefined) return { kind: 'waiting', message: 'waiting for turku-api to join' };
  const bag = await tools.relationGet(relation, remoteApp, { app: true });
  if (bag['api-url'] === undefined || bag['secret-id'] === undefined) {
    return { kind: 'waiting', message: `waiting for ${remoteApp} to publish its URL and credential` };
  }
  const published = readStorageApi(bag);
  if (!published.ok)
    return { kind: 'blocked', message: `bad data from ${remoteApp}: ${published.problems.join('; ')}` };

  let content: Record<string, string>;
  try {
    content = await tools.secretGet(
      { id: published.value['secret-id'], label: STORAGE_API_SECRET_LABEL },
      { refresh: true },
    );
  } catch (error) {
    // Not granted yet, or revoked: the API leader's next hook settles it (docs/charm-runtime.md, "Secrets").
    if (error instanceof SecretNotFoundError || error instanceof AccessError) {
      return { kind: 'waiting', message: `waiting for ${remoteApp} to grant its registration secret` };
    }
    throw error;
  }
  const credential = readStorageApiSecret(content);
  if (!credential.ok) {
    return {
      kind: 'blocked',
      message: `bad registration secret from ${remoteApp}: ${credential.problems.join('; ')}`,
    };
  }
  return {
    kind: 'ready',
    access: {
      url: published.value['api-url'],
      authName: credential.value['auth-name'],
      authSecret: credential.value['auth-secret'],
      relation,
    },
  };
}
