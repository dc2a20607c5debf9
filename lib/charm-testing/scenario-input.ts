// A scenario's input state after defaults (relation ids, peer relations, secret ids, storage
// indexes), and the lookups of what an event names in it. Shared by the checker, the model
// builder and the reader of the output state.
import { type Bag, type CharmMeta, type EndpointMeta } from './model.js';
import { type DeepReadonly, type Rel, type Sec, type State, type StorageState } from './scenario-state.js';

/** The unit a scenario runs on: its charm, application and unit names. */
export interface LocalUnit {
  readonly meta: CharmMeta;
  readonly appName: string;
  readonly unitName: string;
}

export const peerOf = (meta: EndpointMeta): boolean => meta.role === 'peers';

export function addressBag(address: string): Bag {
  return { 'private-address': address, 'ingress-address': address, 'egress-subnets': `${address}/32` };
}

export const SECRET_ID = /^[0-9a-v]{20}$/;

function generatedSecretId(index: number): string {
  return `cs${String(index).padStart(18, '0')}`;
}

/** The input after defaults: ids resolved, peer relations added. Shared by the checker and the builder. */
export interface Resolved {
  relations: (Rel & { id: number; remoteApp: string })[];
  secrets: (Sec & { id: string })[];
  storages: { name: string; index: number }[];
}

export function resolve(local: LocalUnit, state: DeepReadonly<State>): Resolved {
  const given = state.relations ?? [];
  const taken = new Set(given.flatMap((relation) => (relation.id === undefined ? [] : [relation.id])));
  let next = 0;
  const freeId = (): number => {
    while (taken.has(next)) next += 1;
    taken.add(next);
    return next;
  };
  const relations: Resolved['relations'] = given.map((relation) => ({
    ...relation,
    id: relation.id ?? freeId(),
    remoteApp: relation.remoteApp ?? (isPeerEndpoint(local, relation.endpoint) ? local.appName : ''),
  }));
  // Juju creates peer relations with the application; the state may leave them out.
  for (const [endpoint, meta] of Object.entries(local.meta.endpoints)) {
    if (peerOf(meta) && !given.some((relation) => relation.endpoint === endpoint)) {
      relations.push({ endpoint, id: freeId(), remoteApp: local.appName });
    }
  }
  const secrets = (state.secrets ?? []).map((secret, index) => ({
    ...secret,
    id: secret.id ?? generatedSecretId(index),
  }));
  const usedIndexes: Record<string, Set<number>> = {};
  for (const storage of state.storages ?? []) {
    if (storage.index !== undefined) (usedIndexes[storage.name] ??= new Set()).add(storage.index);
  }
  const storages = (state.storages ?? []).map((storage) => {
    if (storage.index !== undefined) return { name: storage.name, index: storage.index };
    const used = (usedIndexes[storage.name] ??= new Set());
    let index = 0;
    while (used.has(index)) index += 1;
    used.add(index);
    return { name: storage.name, index };
  });
  return { relations, secrets, storages };
}

export function isPeerEndpoint(local: LocalUnit, endpoint: string): boolean {
  const meta = local.meta.endpoints[endpoint];
  return meta !== undefined && peerOf(meta);
}

/** The resolved relation an event names: the same object, else the same id, else the only one on its endpoint. */
export function findRelation(
  resolved: Resolved,
  state: DeepReadonly<State>,
  relation: Rel,
): Resolved['relations'][number] | undefined {
  const index = (state.relations ?? []).indexOf(relation);
  if (index >= 0) return resolved.relations[index];
  if (relation.id !== undefined) return resolved.relations.find((candidate) => candidate.id === relation.id);
  const onEndpoint = resolved.relations.filter((candidate) => candidate.endpoint === relation.endpoint);
  return onEndpoint.length === 1 ? onEndpoint[0] : undefined;
}

export function findSecret(
  resolved: Resolved,
  state: DeepReadonly<State>,
  secret: Sec,
): Resolved['secrets'][number] | undefined {
  const index = (state.secrets ?? []).indexOf(secret);
  if (index >= 0) return resolved.secrets[index];
  return secret.id === undefined ? undefined : resolved.secrets.find((candidate) => candidate.id === secret.id);
}

export function findStorage(
  resolved: Resolved,
  state: DeepReadonly<State>,
  storage: DeepReadonly<StorageState>,
): { name: string; index: number } | undefined {
  const index = (state.storages ?? []).indexOf(storage);
  if (index >= 0) return resolved.storages[index];
  return resolved.storages.find(
    (candidate) =>
      candidate.name === storage.name && (storage.index === undefined || candidate.index === storage.index),
  );
}
