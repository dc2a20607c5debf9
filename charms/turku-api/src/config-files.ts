// The API's settings file (lib/api/settings.ts keys) from the charm's config and the database the
// unit uses. Pure: charm.ts writes the text and restarts the service when it changes.
import type { ApiCharmConfig } from './schemas.js';

/** Machine paths; the charm maps them into the unit's root with host.path. */
export const CONFIG_DIR = '/etc/turku-api';
export const CONFIG_FILE = `${CONFIG_DIR}/config.json`;
export const DATA_DIR = '/var/lib/turku-api';
export const SQLITE_FILE = `${DATA_DIR}/turku-api.db`;
/** Whole outputs of actions too long for their result (root only). */
export const ACTION_RESULTS_DIR = `${DATA_DIR}/charm/action-results`;

export type Database =
  { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgresql'; readonly url: string };

export interface SettingsFile {
  readonly text: string;
  /** 0600 when the text holds a database password, else 0644. */
  readonly mode: number;
}

/** The settings file's text: JSON (the API reads `.json` as JSON), keys in a fixed order. */
export function apiSettingsFile(config: ApiCharmConfig, database: Database): SettingsFile {
  const settings: Record<string, unknown> = {
    listen: `0.0.0.0:${config.port}`,
    ...(database.kind === 'sqlite' ? { database_path: database.path } : { database_url: database.url }),
    log_level: config['log-level'],
    // Only when off: the API's default is on (docs/api.md, "Metrics").
    ...(config['metrics-per-source'] ? {} : { metrics_per_source: false }),
  };
  return {
    text: `${JSON.stringify(settings, null, 2)}\n`,
    mode: database.kind === 'postgresql' ? 0o600 : 0o644,
  };
}

/** The `/v1` URL published to agents and storages: the configured one, else this unit's address. */
export function publishedApiUrl(config: ApiCharmConfig, ingressAddress: string): string {
  if (config['external-url'] !== '') return config['external-url'];
  const host = ingressAddress.includes(':') ? `[${ingressAddress}]` : ingressAddress;
  return `http://${host}:${config.port}/v1`;
}

/** Where the unit itself reaches its API (health checks, the health action). */
export function localHealthUrl(port: number): string {
  return `http://127.0.0.1:${port}/v1/health`;
}
