// Waiting as docs/integration.md, "Conventions" prescribes (and Jubilant's wait(successes=3,
// delay=1) does): poll the status, succeed only once the predicate held on N polls in a row (one
// good poll can be a moment between two hooks), and stop at once on a unit in error (with
// automatically-retry-hooks=false it stays there, so waiting longer only hides the failure).
import { type ModelStatus, type WaitOptions } from './driver.js';
import { compareUnitNames, unitsInError } from './juju-status.js';

/** Time, injectable so tests do not really wait. */
export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: WaitClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const DEFAULT_SUCCESSES = 3;
const DEFAULT_INTERVAL_MS = 1000;
const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;

/** One line per unit: `app/0: active/idle "message"` (subordinates marked with their principal). */
export function summariseStatus(status: ModelStatus): string {
  const units = Object.values(status.units).sort((a, b) => compareUnitNames(a.name, b.name));
  if (units.length === 0) return '  (no units)';
  return units
    .map((unit) => {
      const where = unit.principal === undefined ? '' : ` (on ${unit.principal})`;
      return `  ${unit.name}${where}: ${unit.workload}/${unit.agent} ${JSON.stringify(unit.message)}`;
    })
    .join('\n');
}

/**
 * Polls `read` until `predicate` held `successes` polls in a row; throws at once when a unit's
 * workload is `error`, and after `timeoutMs` with the last status.
 */
export async function waitForStatus(
  read: () => Promise<ModelStatus>,
  predicate: (status: ModelStatus) => boolean,
  options: WaitOptions = {},
  clock: WaitClock = realClock,
): Promise<ModelStatus> {
  const successes = Math.max(1, options.successes ?? DEFAULT_SUCCESSES);
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const what = options.what ?? 'the model to settle';
  const deadline = clock.now() + timeoutMs;
  let streak = 0;
  for (;;) {
    const status = await read();
    const errors = unitsInError(status);
    if (errors.length > 0) {
      const detail = errors.map((unit) => `${unit.name} (${unit.message || 'no message'})`).join(', ');
      throw new Error(`while waiting for ${what}: unit(s) in error: ${detail}`);
    }
    streak = predicate(status) ? streak + 1 : 0;
    if (streak >= successes) return status;
    if (clock.now() >= deadline) {
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last status:\n${summariseStatus(status)}`,
      );
    }
    await clock.sleep(intervalMs);
  }
}
