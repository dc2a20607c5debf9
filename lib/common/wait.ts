import { setTimeout as sleep } from 'node:timers/promises';

import { UserError } from './errors.js';

/** `--wait` and other second-valued flags, shared by the agent and storage programs. */

/** A non-negative number of seconds from a flag; a bad value is a usage error (exit 2). */
export function parseSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new UserError(`${flag} expects a number of seconds, not "${value}"`, 2);
  }
  return seconds;
}

export interface JitterOptions {
  /** A number in [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** Ends the wait early, as an interruption. */
  readonly signal?: AbortSignal;
  /** Told how long the wait will be, before it starts. */
  readonly onWait?: (ms: number) => void;
}

/** `--wait N`: sleeps uniformly 0…N seconds, so a fleet's timers do not hit the API together. */
export async function jitter(maxSeconds: number | undefined, options: JitterOptions = {}): Promise<void> {
  if (maxSeconds === undefined || !(maxSeconds > 0)) return;
  const ms = Math.floor((options.random ?? Math.random)() * maxSeconds * 1000);
  options.onWait?.(ms);
  try {
    await sleep(ms, undefined, options.signal === undefined ? {} : { signal: options.signal });
  } catch {
    throw new UserError('Interrupted');
  }
}
