// Interface `turku-agent-api`: turku-api `agents` (provides) <-> turku-agent `turku-api` (requires),
// global scope. docs/relations.md has the tables and an example.
//
// Provider application bag (written by the turku-api leader only): where agents post, and the id
// of the Juju secret holding the machine-registration credential, granted to the remote
// application on this relation (docs/charm-runtime.md, "Secrets": add, grant and relation-set in one hook).
// The agent side writes nothing.
import * as z from 'zod/mini';

import { type Bag, type ReadResult, ApiUrl, SecretUri, readBag, writeBag } from './fields.js';
import {
  type RegistrationSecretContent,
  readRegistrationSecret,
  registrationSecretContent,
} from './registration-secret.js';

export const AGENT_API_INTERFACE = 'turku-agent-api';

/** The agent's label for the secret (`secret-get <id> --label ...`), so `secret-changed` names it. */
export const AGENT_API_SECRET_LABEL = 'turku-agent-api-registration';

export const AgentApiAppBag = z.object({
  /** The API's `/v1` URL, the agent's `api_url`. */
  'api-url': ApiUrl,
  /** URI of the machine_reg registration secret (content: registration-secret.ts). */
  'secret-id': SecretUri,
});
export type AgentApiAppBag = z.output<typeof AgentApiAppBag>;

/** Agent side: the API leader's application bag. */
export function readAgentApi(bag: Bag): ReadResult<AgentApiAppBag> {
  return readBag(AgentApiAppBag, bag);
}

/** API leader: the application bag to `relation-set --app`. */
export function writeAgentApi(value: AgentApiAppBag): Record<string, string> {
  return writeBag(AgentApiAppBag, value);
}

/** Agent side: the secret's content; it must be a machine_reg credential. */
export function readAgentApiSecret(content: Bag): ReadResult<RegistrationSecretContent> {
  return readRegistrationSecret(content, 'machine_reg');
}

/** API leader: the secret content for a machine-registration credential. */
export function agentApiSecretContent(credential: { name: string; secret: string }): Record<string, string> {
  return registrationSecretContent({
    'auth-name': credential.name,
    'auth-secret': credential.secret,
    'auth-type': 'machine_reg',
  });
}
