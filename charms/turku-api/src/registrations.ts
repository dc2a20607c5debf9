// The registration credentials the leader shares (docs/charm-runtime.md, "Secrets",
// docs/relations.md): one Juju secret per `agents` and `storages` relation, granted to that
// relation and named in its application bag, and listed in the peer application bag so every API
// unit (and a new leader) finds them. The secret is the source of truth; the API's database gets
// the same credential through `turku-api auth-ensure`.

import { randomAlphanumeric } from '../../../lib/common/random.js';
import { type HookTools, SecretNotFoundError } from '../../../lib/charm/index.js';
import {
  type RegistrationSecretContent,
  type RegistrationType,
  agentApiSecretContent,
  readPeers,
  readRegistrationSecret,
  storageApiSecretContent,
  writeAgentApi,
  writePeers,
  writeStorageApi,
} from '../../../lib/charm-interfaces/index.js';

export const REGISTRATION_ENDPOINTS = ['agents', 'storages'] as const;
export type RegistrationEndpoint = (typeof REGISTRATION_ENDPOINTS)[number];
export const PEERS_ENDPOINT = 'turku-peers';

const KIND = {
  agents: { type: 'machine_reg', content: agentApiSecretContent, bag: writeAgentApi },
  storages: { type: 'storage_reg', content: storageApiSecretContent, bag: writeStorageApi },
} as const;

/** One relation's credential: where it is shared and what it holds. */
export interface Registration {
  /** `agents:3` */
  readonly relation: string;
  readonly secretId: string;
  readonly credential: RegistrationSecretContent;
}

const LABEL = /^(agents|storages)-registration-(\d+)$/;

/** `agents:3` -> `agents-registration-3`: the owner label a new leader finds the secret by. */
export function secretLabel(relation: string): string {
  return relation.replace(':', '-registration-');
}

/** `agents-registration-3` -> `agents:3`, or undefined for a label that is not ours. */
export function relationOfLabel(label: string | undefined): string | undefined {
  const match = LABEL.exec(label ?? '');
  return match === null ? undefined : `${match[1]!}:${match[2]!}`;
}

/** The Auth's name at the API: unique per relation, readable in `turku-api` listings. */
export function authName(relation: string): string {
  return `juju ${relation}`;
}

/** 32 random alphanumerics (about 190 bits): a strong secret, which the API checks with its fast hash. */
export function newRegistrationSecret(): string {
  return randomAlphanumeric(32);
}

const secretUri = (id: string) => (id.startsWith('secret:') ? id : `secret:${id}`);

async function secretIdByLabel(tools: HookTools, label: string): Promise<string | undefined> {
  try {
    return secretUri((await tools.secretInfoGet({ label })).id);
  } catch (error) {
    if (error instanceof SecretNotFoundError) return undefined;
    throw error;
  }
}

/** Leader: the relation's secret, found by its label or created; its content repaired if bad. */
async function ensureSecret(tools: HookTools, relation: string, create: boolean): Promise<Registration | undefined> {
  const endpoint = relation.split(':')[0] as RegistrationEndpoint;
  const kind = KIND[endpoint];
  const label = secretLabel(relation);
  const fresh = () => kind.content({ name: authName(relation), secret: newRegistrationSecret() });
  const existing = await secretIdByLabel(tools, label);
  if (existing === undefined) {
    if (!create) return undefined;
    const content = fresh();
    const secretId = await tools.secretAdd(content, {
      label,
      description: `Turku ${kind.type} credential for ${relation}`,
    });
    return { relation, secretId: secretUri(secretId), credential: readOwn(content, kind.type) };
  }
  // --refresh: since Juju 3.1.7 the owner tracks a revision like any consumer, and without it
  // would read the revision this unit read last (stale after a repair, or after another leader's).
  const read = readRegistrationSecret(await tools.secretGet({ id: existing }, { refresh: true }), kind.type);
  if (read.ok) return { relation, secretId: existing, credential: read.value };
  // Not ours any more (edited by hand?): a new revision with a new credential, read back with
  // --refresh so this unit tracks it from this hook's commit on (and the bad one can go).
  await tools.secretSet(existing, { content: fresh() });
  const repaired = await tools.secretGet({ id: existing }, { refresh: true });
  return { relation, secretId: existing, credential: readOwn(repaired, kind.type) };
}

function readOwn(content: Record<string, string>, type: RegistrationType): RegistrationSecretContent {
  const read = readRegistrationSecret(content, type);
  if (!read.ok) throw new Error(`bad registration secret content: ${read.problems.join('; ')}`);
  return read.value;
}

/** The live agents/storages relations, `agents:3` style, minus one being broken in this hook. */
export async function registrationRelations(tools: HookTools, broken?: string): Promise<string[]> {
  const relations: string[] = [];
  for (const endpoint of REGISTRATION_ENDPOINTS) relations.push(...(await tools.relationIds(endpoint)));
  return relations.filter((relation) => relation !== broken);
}

/**
 * Leader: for every agents/storages relation, the secret (created once), its grant to the
 * relation and the application bag naming it, all in this hook (docs/charm-runtime.md, "Secrets").
 */
export async function publishRegistrations(
  tools: HookTools,
  relations: readonly string[],
  apiUrl: string,
  /** false: only relations that have a credential already get it (again); new ones wait. */
  createNew = true,
): Promise<Registration[]> {
  const registrations: Registration[] = [];
  for (const relation of relations) {
    const registration = await ensureSecret(tools, relation, createNew);
    if (registration === undefined) continue;
    await tools.secretGrant(registration.secretId, relation);
    const kind = KIND[relation.split(':')[0] as RegistrationEndpoint];
    await tools.relationSet(relation, kind.bag({ 'api-url': apiUrl, 'secret-id': registration.secretId }), {
      app: true,
    });
    registrations.push(registration);
  }
  return registrations;
}

/** Leader: our secrets whose relation is gone (removed with `secret-remove` by the caller). */
export async function staleRegistrations(
  tools: HookTools,
  live: readonly string[],
): Promise<{ secretId: string; relation: string; authName: string }[]> {
  const stale = [];
  for (const id of await tools.secretIds()) {
    const info = await tools.secretInfoGet({ id });
    const relation = relationOfLabel(info.label);
    if (relation === undefined || live.includes(relation)) continue;
    // --peek: the latest content, without tracking a secret that is about to go.
    const content: Record<string, string> = await tools.secretGet({ id }, { peek: true }).catch(() => ({}));
    stale.push({ secretId: secretUri(id), relation, authName: content['auth-name'] ?? authName(relation) });
  }
  return stale;
}

/** Leader: the peer application bag lists exactly `ids`. */
export async function writePeerSecretIds(tools: HookTools, app: string, ids: readonly string[]): Promise<void> {
  const [relation] = await tools.relationIds(PEERS_ENDPOINT);
  if (relation === undefined) return;
  const current = readPeers(await tools.relationGet(relation, app, { app: true }));
  const sorted = [...ids].sort();
  if (current.ok && JSON.stringify(current.value['registration-secret-ids']) === JSON.stringify(sorted)) return;
  await tools.relationSet(relation, writePeers({ 'registration-secret-ids': sorted }), { app: true });
}

/** Any unit: the credentials the leader lists in the peer bag (an application's units read its secrets). */
export async function peerRegistrations(tools: HookTools, app: string): Promise<RegistrationSecretContent[]> {
  const [relation] = await tools.relationIds(PEERS_ENDPOINT);
  if (relation === undefined) return [];
  const peers = readPeers(await tools.relationGet(relation, app, { app: true }));
  if (!peers.ok) return [];
  const credentials: RegistrationSecretContent[] = [];
  for (const id of peers.value['registration-secret-ids']) {
    let content: Record<string, string>;
    try {
      // --refresh: every unit of the application tracks its own revision (Juju 3.1.7+); the
      // leader's repair reaches the others as secret-changed, and they must read the new one.
      content = await tools.secretGet({ id }, { refresh: true });
    } catch (error) {
      // Removed by the leader since it wrote the list: nothing to ensure.
      if (error instanceof SecretNotFoundError) continue;
      throw error;
    }
    const type = content['auth-type'] === 'storage_reg' ? 'storage_reg' : 'machine_reg';
    const read = readRegistrationSecret(content, type);
    if (read.ok) credentials.push(read.value);
  }
  return credentials;
}
