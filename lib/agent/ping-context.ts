// What the modes of turku-agent-ping (the check-in in ping.ts, restore.ts, queries.ts) share:
// the context a run carries, and what a run does first once it holds the machine's lock. A module
// of its own so that ping.ts (which dispatches to restore) and restore.ts do not import each other.
import { createApiClient, type ApiClient } from '../common/api-client.js';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';

import { UserError } from '../common/errors.js';
import { tryLock, type Lock } from '../common/lock.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import type { ConfigObject } from '../turku/config.js';
import type { AgentIo } from './cli.js';
import { sweepLeftoverSessions } from './leftover-sessions.js';
import { sweepUnfinishedRestores } from './restore-leftovers.js';
import { sshKeyPath, type AgentSettings } from './settings.js';

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

/** The registration a restore or a query needs; a clear refusal on a machine not registered yet. */
export function registration(settings: AgentSettings): { uuid: string; secret: string; apiUrl: string } {
  const { machine_uuid: uuid, machine_secret: secret, api_url: apiUrl } = settings;
  if (apiUrl === undefined) throw new UserError('api_url is not configured');
  if (uuid === undefined || secret === undefined || !existsSync(`${sshKeyPath(settings)}.pub`)) {
    throw new UserError('This machine is not registered yet; run turku-update-config first');
  }
  return { uuid, secret, apiUrl };
}

/** The machine's run lock for a restore or a query, or a refusal naming what holds it. */
export async function lockForRun(settings: AgentSettings): Promise<Lock> {
  await mkdir(settings.lock_dir, { recursive: true });
  const lock = await tryLock(settings.lock_dir, 'turku-agent-ping');
  if (lock === undefined)
    throw new UserError('Another turku-agent-ping (check-in or restore) is running; try again later');
  return lock;
}
