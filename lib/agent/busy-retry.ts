import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import type { WorkloadLogger } from '../common/workload-log.js';
import type { StorageEndpoint } from '../turku/protocol/descriptor.js';
import type { BusyLine } from '../turku/protocol/storage-busy.js';
import { tunnelPortChooser } from './session.js';
import type { SshResult } from './ssh.js';
import { SSH_FAILURE } from './ssh.js';

/**
 * When and whether a check-in opens its session with a storage again (docs/datapath.md, "A busy
 * storage"): after the storage's busy answer, in about the time it suggested; after an sshd that
 * dropped the connection before the key exchange (its `MaxStartups`, many agents logging in at
 * once), in a few seconds; in both cases with jitter, so that agents told the same wait do not
 * come back together, and only while the run's `storage_busy_wait` lasts.
 */

/** ssh's words for a connection the server closed before the key exchange. */
const DROPPED_BEFORE_KEX = /kex_exchange_identification|Connection closed by remote host|Connection reset by peer/;
/** The wait after a dropped connection, before jitter, and how many such retries a run makes. */
const DROPPED_RETRY_SECONDS = 5;
const MAX_DROPPED_RETRIES = 5;

export interface RetryDecision {
  /** Why the session did not happen, for the log. */
  readonly reason: string;
  readonly waitSeconds: number;
}

export interface BusyRetryState {
  readonly deadline: number;
  dropped: number;
}

export function busyRetryState(busyWaitSeconds: number, now = Date.now()): BusyRetryState {
  return { deadline: now + busyWaitSeconds * 1000, dropped: 0 };
}

/** A wait drawn from 75-125 % of `seconds`. */
export function jittered(seconds: number, random: (max: number) => number = randomInt): number {
  const millis = Math.max(100, seconds * 1000);
  return (millis * (750 + random(501))) / 1000 / 1000;
}

/**
 * The next attempt after a session that did not take place, or undefined when the session ended
 * otherwise, or when waiting would pass the deadline (the caller then reports the failure).
 */
export function retryDecision(
  state: BusyRetryState,
  session: Pick<SshResult, 'exitCode' | 'stderr' | 'stopped'>,
  busy: BusyLine | undefined,
  options: { readonly now?: number; readonly random?: (max: number) => number } = {},
): RetryDecision | undefined {
  if (session.stopped) return undefined;
  let decision: RetryDecision | undefined;
  if (busy !== undefined) {
    const running = busy.running === undefined ? '' : ` (${busy.running} backups running)`;
    decision = { reason: `busy${running}`, waitSeconds: jittered(busy.retry_after, options.random) };
  } else if (session.exitCode === SSH_FAILURE && DROPPED_BEFORE_KEX.test(session.stderr)) {
    if (state.dropped >= MAX_DROPPED_RETRIES) return undefined;
    state.dropped++;
    decision = { reason: 'dropped the connection', waitSeconds: jittered(DROPPED_RETRY_SECONDS, options.random) };
  }
  if (decision === undefined) return undefined;
  return (options.now ?? Date.now()) + decision.waitSeconds * 1000 <= state.deadline ? decision : undefined;
}

/** Waits, unless the run is interrupted first; false when it was. */
export async function waitToRetry(seconds: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(seconds * 1000, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * Tunnel ports for all the sessions of one run with one storage: the machine's allowance in a
 * random order, round and round, so that a session opened again never asks for the port the one
 * before it just had (on a loaded storage, that session's sshd may still be holding it, and the
 * storage would then find the tunnel is not its own); without an allowance, as a single session.
 */
export function rotatingPortChooser(
  storage: Pick<StorageEndpoint, 'name' | 'tunnel_ports'>,
  range: { readonly min: number; readonly max: number },
  log: Pick<WorkloadLogger, 'debug'>,
): () => number {
  const allowed = [...(storage.tunnel_ports ?? [])];
  if (allowed.length === 0) return tunnelPortChooser(storage, range, log);
  for (let i = allowed.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [allowed[i], allowed[j]] = [allowed[j]!, allowed[i]!];
  }
  log.debug(`Tunnel ports for storage ${storage.name}: this machine's allowance ${allowed.join(', ')}, in turn`);
  let next = 0;
  return () => allowed[next++ % allowed.length]!;
}
