// Interface `turku-peers`: turku-api's peer relation. The leader creates the registration
// credentials (one Juju secret per agents/storages relation, docs/charm-runtime.md, "Secrets") and
// lists their ids in the peer application bag, so every API unit can read them (an application's
// own units may read its secrets) and make sure its database knows each credential, and a new
// leader can take over without creating them again. Peer unit bags carry nothing.
import * as z from 'zod/mini';

import { jsonField } from '../charm/schemas.js';
import { type Bag, type ReadResult, SecretUri, readBag, writeBag } from './fields.js';

export const PEERS_INTERFACE = 'turku-peers';

export const PeersAppBag = z.object({
  /** URIs of the registration secrets the leader created (content: registration-secret.ts). */
  'registration-secret-ids': jsonField(z.array(SecretUri)),
});
export type PeersAppBag = z.output<typeof PeersAppBag>;

/** Any API unit: the peer application bag. A leader that has written nothing yet means no secrets. */
export function readPeers(bag: Bag): ReadResult<PeersAppBag> {
  if (bag['registration-secret-ids'] === undefined) return { ok: true, value: { 'registration-secret-ids': [] } };
  return readBag(PeersAppBag, bag);
}

/** API leader: the peer application bag to `relation-set --app`. */
export function writePeers(value: PeersAppBag): Record<string, string> {
  return writeBag(PeersAppBag, value);
}
