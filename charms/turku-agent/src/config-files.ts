// The agent's configuration the charm owns (pure): machine paths, and the text of
// config.d/50-juju.json built from the API access, the principal unit and the model.
import type { AgentApiAccess } from './api-source.js';

/** Machine paths (the charm maps them with host.path; tests give each machine its own root). */
export const MACHINE_PATHS = {
  configDir: '/etc/turku-agent',
  varDir: '/var/lib/turku-agent',
  lockDir: '/var/lib/turku-agent',
  restorePath: '/var/backups/turku-agent/restore',
  /** Whole outputs of actions too long for their result (root only). */
  actionResults: '/var/lib/turku-agent/charm/action-results',
} as const;

/** The file under config.d this charm writes; operators may add others around it. */
export const JUJU_CONFIG_FILE = '50-juju.json';

export interface Principal {
  /** `app/N` */
  readonly unit: string;
  readonly app: string;
}

/** `app/N` -> {unit, app}; undefined for anything else. */
export function principalOf(unit: string | undefined): Principal | undefined {
  if (unit === undefined || !/^[a-z][a-z0-9-]*\/[0-9]+$/.test(unit)) return undefined;
  return { unit, app: unit.slice(0, unit.lastIndexOf('/')) };
}

export interface JujuConfigInput {
  readonly api: AgentApiAccess;
  readonly principal: Principal;
  /** The environment-name config, or the model name when it is empty. */
  readonly environmentName: string;
  /** MACHINE_PATHS mapped into the unit's root. */
  readonly paths: { readonly varDir: string; readonly lockDir: string; readonly restorePath: string };
}

/** The agent settings (lib/agent/settings.ts keys) the charm manages. */
export function jujuConfig(input: JujuConfigInput): Record<string, string> {
  return {
    api_url: input.api.url,
    api_auth_name: input.api.authName,
    api_auth_secret: input.api.authSecret,
    environment_name: input.environmentName,
    service_name: input.principal.app,
    unit_name: input.principal.unit,
    var_dir: input.paths.varDir,
    lock_dir: input.paths.lockDir,
    restore_path: input.paths.restorePath,
  };
}

export function jujuConfigText(input: JujuConfigInput): string {
  return `${JSON.stringify(jujuConfig(input), null, 2)}\n`;
}

/** `https://turku.example.com:8443/v1` -> `turku.example.com:8443`, for the status line. */
export function apiHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
