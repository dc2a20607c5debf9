import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** `--wait N`: sleep a uniformly random 0..N seconds, so a fleet's cron jobs do not all fire at once. */
export async function jitter(maxSeconds: number | undefined): Promise<void> {
  if (maxSeconds === undefined || !(maxSeconds > 0)) return;
  await sleep(randomInt(Math.floor(maxSeconds * 1000) + 1));
}

/** Parses a `--wait` value; throws with a message naming the flag. */
export function parseWaitSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`--wait: "${text}" is not a number of seconds`);
  }
  return seconds;
}
