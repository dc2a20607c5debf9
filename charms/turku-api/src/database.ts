// The `database` relation (interface postgresql_client, the data-platform charms' convention):
// the requirer's leader asks for a database by name in its application bag; the provider answers
// in its application bag with `endpoints` ("host:port,..."; the first is the primary) and the
// credentials, either as `username`/`password` keys or (newer providers, when the requirer lists
// them in `requested-secrets`) in a Juju secret whose URI is `secret-user`.
import type { HookTools } from '../../../lib/charm/index.js';
import { AccessError, SecretNotFoundError } from '../../../lib/charm/index.js';

export const DATABASE_ENDPOINT = 'database';
export const DATABASE_NAME = 'turku_api';

/** What the leader writes in its application bag on the database relation. */
export function databaseRequest(): Record<string, string> {
  return { database: DATABASE_NAME, 'requested-secrets': JSON.stringify(['username', 'password']) };
}

export type DatabaseAnswer =
  | { readonly ready: true; readonly url: string; readonly endpoint: string }
  | { readonly ready: false; readonly missing: string };

const ENDPOINT = /^([^\s:,/@[\]]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/;

/** The provider's answer (its bag, and the content of `secret-user` when it has one). Pure. */
export function databaseAnswer(
  bag: Readonly<Record<string, string>>,
  secretUser: Readonly<Record<string, string>> | undefined,
): DatabaseAnswer {
  const endpoints = (bag['endpoints'] ?? '').split(',').map((entry) => entry.trim());
  const endpoint = endpoints[0] ?? '';
  if (endpoint === '') return { ready: false, missing: 'endpoints' };
  if (!ENDPOINT.test(endpoint)) return { ready: false, missing: `endpoints (got "${endpoint}", expected host:port)` };
  const username = secretUser?.['username'] ?? bag['username'];
  const password = secretUser?.['password'] ?? bag['password'];
  if (!username) return { ready: false, missing: bag['secret-user'] ? 'secret-user content' : 'username' };
  if (password === undefined) return { ready: false, missing: 'password' };
  const database = bag['database'] || DATABASE_NAME;
  const url = `postgresql://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${endpoint}/${encodeURIComponent(database)}`;
  return { ready: true, url, endpoint };
}

/**
 * Reads the database relation: undefined without one; else the answer. The leader (re)writes the
 * request first, so a provider that joined later still sees it. A secret not readable yet (not
 * granted) reads as not ready: the provider's next change brings it.
 */
export async function readDatabase(
  tools: HookTools,
  self: { readonly app: string; readonly leader: boolean },
): Promise<DatabaseAnswer | undefined> {
  const [relation] = await tools.relationIds(DATABASE_ENDPOINT);
  if (relation === undefined) return undefined;
  if (self.leader) {
    const own = await tools.relationGet(relation, self.app, { app: true });
    const wanted = databaseRequest();
    if (Object.entries(wanted).some(([key, value]) => own[key] !== value)) {
      await tools.relationSet(relation, wanted, { app: true });
    }
  }
  const remote = await tools.relationRemoteApp(relation).catch(() => '');
  if (remote === '') return { ready: false, missing: 'the database application' };
  const bag = await tools.relationGet(relation, remote, { app: true });
  let secretUser: Record<string, string> | undefined;
  if (bag['secret-user']) {
    try {
      secretUser = await tools.secretGet({ id: bag['secret-user'] }, { refresh: true });
    } catch (error) {
      if (!(error instanceof SecretNotFoundError || error instanceof AccessError)) throw error;
      return { ready: false, missing: 'access to secret-user' };
    }
  }
  return databaseAnswer(bag, secretUser);
}
