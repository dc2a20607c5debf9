// Tiny parsers for the JSON the hook tools print. Hand-written rather than zod: they run in every
// hook, and a charm that declares no schema must not pay zod's module start-up (bench/dispatch).
// Each takes the value and its path (`units.api/0.status`, '' for the root), returns it typed, and
// throws ShapeError naming the path and what was wrong. Messages name kinds, never values: tool
// output may hold secret content.

/** A JSON value did not have the expected shape. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(
    /** Dotted path of the offending value; '' for the root. */
    readonly path: string,
    /** What was expected: `a string`, `an object`... */
    readonly expected: string,
    /** What was found, by kind (see `kindOf`). */
    readonly found: string,
  ) {
    super(`${path || '(root)'}: expected ${expected}, got ${found}`);
  }
}

/** One value takes a parser: the value and its path in, the typed value out (or ShapeError). */
export type Parse<T> = (value: unknown, path: string) => T;

/** `a string`, `an array`, `null`, `nothing` (undefined): how errors name what they found. */
export function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** The path of `key` inside `path` (dotted; array indexes too, as zod reports them). */
export function pathOf(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

function mismatch(value: unknown, path: string, expected: string): never {
  throw new ShapeError(path, expected, kindOf(value));
}

export function asString(value: unknown, path = ''): string {
  return typeof value === 'string' ? value : mismatch(value, path, 'a string');
}

/** A finite number (JSON has no NaN or Infinity anyway). */
export function asNumber(value: unknown, path = ''): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : mismatch(value, path, 'a number');
}

export function asBoolean(value: unknown, path = ''): boolean {
  return typeof value === 'boolean' ? value : mismatch(value, path, 'a boolean');
}

/** A JSON object (not null, not an array), its values unchecked. */
export function asRecord(value: unknown, path = ''): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : mismatch(value, path, 'an object');
}

/** An array whose every item `item` accepts. */
export function asArrayOf<T>(value: unknown, path: string, item: Parse<T>): T[] {
  if (!Array.isArray(value)) return mismatch(value, path, 'an array');
  return value.map((inner, index) => item(inner, pathOf(path, index)));
}

/** An object whose every value `item` accepts; a fresh object (a `__proto__` key stays a key). */
export function asRecordOf<T>(value: unknown, path: string, item: Parse<T>): Record<string, T> {
  const entries = Object.entries(asRecord(value, path));
  return Object.fromEntries(entries.map(([key, inner]) => [key, item(inner, pathOf(path, key))]));
}

export function asStringList(value: unknown, path = ''): string[] {
  return asArrayOf(value, path, asString);
}

export function asStringMap(value: unknown, path = ''): Record<string, string> {
  return asRecordOf(value, path, asString);
}

/** `parse(value)`, or undefined when the value is absent (a JSON `null` is not absent). */
export function optional<T>(value: unknown, path: string, parse: Parse<T>): T | undefined {
  return value === undefined ? undefined : parse(value, path);
}

/** `parse(value)`, or `fallback` when the value is absent. */
export function withDefault<T>(value: unknown, path: string, parse: Parse<T>, fallback: T): T {
  return value === undefined ? fallback : parse(value, path);
}
