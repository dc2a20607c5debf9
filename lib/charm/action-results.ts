// An action's results as action-set takes them: nested values flattened to dotted `key=value`
// pairs (it has no --file), checked against Juju's key rules and split into calls exec accepts.
import { MAX_ARG_BYTES, argvBytes } from './argv-limits.js';
import { ArgvLimitError } from './errors.js';

// action-set's rules (Juju's jujuc/action-set.go, docs/charm-runtime.md): every dot-separated
// segment of a key has this shape and is none of the reserved names, at any depth.
const ACTION_KEY = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED_ACTION_KEYS = new Set(['stdout', 'stdout-encoding', 'stderr', 'stderr-encoding']);

// action-set adds to the results on every call, so many pairs go out in calls of this size.
const ACTION_SET_BATCH_BYTES = 256 * 1024;

/** Nested action results as the dotted `key=value` pairs action-set takes (it has no --file). */
export function flattenActionResults(results: Record<string, unknown>): string[] {
  const pairs: string[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (value === undefined || value === null) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (!ACTION_KEY.test(key)) {
          throw new TypeError(
            `action result key "${[...path, key].join('.')}": each segment must be lowercase alphanumeric with inner hyphens`,
          );
        }
        // Juju refuses a reserved name as any segment, not only the top one.
        if (RESERVED_ACTION_KEYS.has(key)) {
          throw new TypeError(`action result key "${[...path, key].join('.')}": "${key}" is reserved by Juju`);
        }
        walk(inner, [...path, key]);
      }
      return;
    }
    pairs.push(`${path.join('.')}=${resultText(value, path)}`);
  };
  walk(results, []);
  return pairs;
}

function resultText(value: unknown, path: readonly string[]): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return JSON.stringify(value);
  throw new TypeError(`action result key "${path.join('.')}": cannot store a ${typeof value}`);
}

/**
 * The action-set calls that set `results`: each an argv well under ARG_MAX. A value over
 * MAX_ARG_BYTES cannot be set at all (action-set reads only argv): ArgvLimitError names its key
 * before anything is set.
 */
export function actionSetBatches(results: Record<string, unknown>): string[][] {
  const pairs = flattenActionResults(results);
  for (const pair of pairs) {
    const bytes = argvBytes(pair);
    if (bytes > MAX_ARG_BYTES) {
      const key = pair.slice(0, pair.indexOf('='));
      throw new ArgvLimitError(
        'action-set',
        `action result "${key}" is ${bytes} bytes, over the ${MAX_ARG_BYTES} Linux allows one argument; ` +
          'return a bounded result and write the whole output to a file on the unit (lib/charm/large-results.ts)',
      );
    }
  }
  const batches: string[][] = [];
  let batch: string[] = [];
  let batchBytes = 0;
  for (const pair of pairs) {
    const bytes = argvBytes(pair);
    if (batch.length > 0 && batchBytes + bytes > ACTION_SET_BATCH_BYTES) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push(pair);
    batchBytes += bytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
