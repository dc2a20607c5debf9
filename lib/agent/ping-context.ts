// What both modes of turku-agent-ping (the check-in in ping.ts, the restore in restore.ts) share:
// the context a run carries, and what a run does first once it holds the machine's lock. A module
// of its own so that ping.ts (which dispatches to restore) and restore.ts do not import each other.
import { createApiClient, type ApiClient } from '../common/api-client.js';
import type { Lock } from '../common/lock.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import type { ConfigObject } from '../turku/config.js';
import type { AgentIo } from './cli.js';
import { sweepLeftoverSessions } from './leftover-sessions.js';
import { sweepUnfinishedRestores } from './restore-leftovers.js';
import type { AgentSettings } from './settings.js';

/** What the check-in and the restore both get. */
export interface PingContext {
  readonly settings: AgentSettings;
  readonly sources: Readonly<Record<string, ConfigObject>>;
  readonly io: AgentIo;
  readonly log: WorkloadLogger;
}

/**
 * Under the lock: clears what a killed earlier run left (a daemon, credentials, a half-written
 * restore), even when nothing turns out to be due, then returns the client for the API at apiUrl.
 */
export async function sweepAndConnect(context: PingContext, lock: Lock, apiUrl: string): Promise<ApiClient> {
  const { settings, log } = context;
  await sweepLeftoverSessions(settings.var_dir, lock, log);
  await sweepUnfinishedRestores(settings.var_dir, log);
  return createApiClient({
    url: apiUrl,
    timeoutSeconds: settings.api_timeout,
    debug: (line) => log.debug(line),
  });
}
