// Where the agent registers and with which credential: the turku-api relation (URL in the API
// leader's application bag, credential in a Juju secret granted to us) or, for an API outside
// the model, the api-url / registration-name / registration-secret config.
import { type HookTools, AccessError, SecretNotFoundError } from '../../../lib/charm/index.js';
import {
  AGENT_API_SECRET_LABEL,
  type ApiAccess,
  type ApiReadiness,
  readAgentApi,
  readAgentApiSecret,
} from '../../../lib/charm-interfaces/index.js';
import type { AgentCharmConfig } from './schemas.js';

export const API_ENDPOINT = 'turku-api';

export interface AgentApiAccess extends ApiAccess {
  readonly from: 'relation' | 'config';
}

export type ApiResolution = ApiReadiness<AgentApiAccess>;

const CONFIG_KEYS = ['api-url', 'registration-name', 'registration-secret'] as const;

/** From config alone (pure): every key set, else blocked naming the missing ones. */
export function apiFromConfig(config: AgentCharmConfig): ApiResolution {
  const missing = CONFIG_KEYS.filter((key) => config[key] === '');
  if (missing.length === 0) {
    return {
      kind: 'ready',
      access: {
        url: config['api-url'],
        authName: config['registration-name'],
        authSecret: config['registration-secret'],
        from: 'config',
      },
    };
  }
  const wanted = 'needs the turku-api relation or the api-url, registration-name and registration-secret config';
  // Naming the keys only helps once the operator started on the config route.
  return {
    kind: 'blocked',
    message: missing.length === CONFIG_KEYS.length ? wanted : `${wanted} (missing: ${missing.join(', ')})`,
  };
}

/** The relation wins over config; without the relation, config. */
export async function resolveApi(tools: HookTools, config: AgentCharmConfig): Promise<ApiResolution> {
  const [relation] = await tools.relationIds(API_ENDPOINT);
  if (relation === undefined) return apiFromConfig(config);

  const remoteApp = await tools.relationRemoteApp(relation);
  const bag = await tools.relationGet(relation, remoteApp, { app: true });
  const published = readAgentApi(bag);
  if (!published.ok) {
    // Keys not there yet: the API leader has not written; anything else is bad data.
    const absent = published.problems.every((problem) => problem.endsWith(': required'));
    return absent
      ? { kind: 'waiting', message: `waiting for ${remoteApp} to publish its URL and credential` }
      : {
          kind: 'blocked',
          message: `bad ${API_ENDPOINT} relation data from ${remoteApp}: ${published.problems.join('; ')}`,
        };
  }

  let content: Record<string, string>;
  try {
    // --refresh: the credential's latest revision (a rotation arrives as secret-changed).
    content = await tools.secretGet(
      { id: published.value['secret-id'], label: AGENT_API_SECRET_LABEL },
      { refresh: true },
    );
  } catch (error) {
    // Not granted (yet) or gone: the API leader's next hook fixes it (docs/charm-runtime.md, "Secrets").
    if (error instanceof SecretNotFoundError || error instanceof AccessError) {
      return { kind: 'waiting', message: `waiting for access to ${remoteApp}'s registration secret` };
    }
    throw error;
  }
  const credential = readAgentApiSecret(content);
  if (!credential.ok) {
    return { kind: 'blocked', message: `bad registration secret from ${remoteApp}: ${credential.problems.join('; ')}` };
  }
  return {
    kind: 'ready',
    access: {
      url: published.value['api-url'],
      authName: credential.value['auth-name'],
      authSecret: credential.value['auth-secret'],
      from: 'relation',
    },
  };
}
