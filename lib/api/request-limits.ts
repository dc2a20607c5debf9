import { ApiRefusal } from './errors.js';

/**
 * Checks on a request body's JSON done before anything walks it recursively. Each is a loop with
 * its own stack (no recursion), so no input, however deep, can exhaust the call stack: a body
 * nested thousands of levels deep is refused here with a 400 instead of making a recursive
 * walker (the NUL check, zod) throw a RangeError.
 */

/** How deep a request body may nest. The deepest real one, update_config, nests 5 levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * How many elements a request body may hold, counting each object, each array and each comma
 * (so an object in a list counts twice). A thousand sources with a dozen settings and a few dozen
 * filter lines each come to about 60,000; a body of a million tiny values would hold the event
 * loop for most of 100 ms in `JSON.parse`.
 */
export const MAX_JSON_ELEMENTS = 200_000;

/** What is wrong with the shape of JSON `text`, or undefined; see `scanJson`. */
export function jsonShapeProblem(text: string): string | undefined {
  const { depthExceeded, elements } = scanJson(text, MAX_JSON_DEPTH, MAX_JSON_ELEMENTS);
  if (depthExceeded) return `nested deeper than ${MAX_JSON_DEPTH} levels`;
  if (elements > MAX_JSON_ELEMENTS) return `more than ${MAX_JSON_ELEMENTS} elements`;
  return undefined;
}

/**
 * The nesting depth of arrays and objects in JSON `text` and its count of elements (objects,
 * arrays, commas), read off the text outside strings, so it runs before `JSON.parse`. It stops as
 * soon as either limit is passed. Malformed text gets some answer; `JSON.parse` then refuses it.
 */
export function scanJson(
  text: string,
  maxDepth: number,
  maxElements: number,
): { readonly depthExceeded: boolean; readonly elements: number } {
  let depth = 0;
  let elements = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > maxDepth) return { depthExceeded: true, elements };
      if (++elements > maxElements) return { depthExceeded: false, elements };
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    } else if (code === 0x2c) {
      if (++elements > maxElements) return { depthExceeded: false, elements };
    }
  }
  return { depthExceeded: false, elements };
}

/** Whether any string or key anywhere inside `value` holds NUL; walks with an explicit stack. */
export function containsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (item.includes('\0')) return true;
    } else if (Array.isArray(item)) {
      for (const child of item) pending.push(child);
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, child] of Object.entries(item)) {
        if (key.includes('\0')) return true;
        pending.push(child);
      }
    }
  }
  return false;
}

/**
 * How many sources one machine may declare (`max_sources_per_machine`, docs/api.md "Limits").
 * Real machines have a handful (one per charm relation or sources.d file, tens at most); a
 * thousand leaves room for generated ones while keeping one `update_config` to tens of
 * milliseconds of work, the most any single request may hold up the others.
 */
export const DEFAULT_MAX_SOURCES_PER_MACHINE = 1000;

/** Refuses an update_config declaring more sources than allowed; counted before any validation. */
export function checkSourceCount(body: Record<string, unknown>, limit: number): void {
  const machine = body.machine;
  if (typeof machine !== 'object' || machine === null) return;
  const sources = (machine as Record<string, unknown>).sources;
  if (typeof sources !== 'object' || sources === null || Array.isArray(sources)) return;
  const count = Object.keys(sources).length;
  if (count > limit) {
    throw new ApiRefusal(400, `Validation error: ${count} sources for one machine; at most ${limit} are allowed`);
  }
}
