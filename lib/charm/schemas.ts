// Typed views of config, action params and relation databags, validated with zod/mini. Errors
// name the bad key so an operator reading the status or the action result knows what to fix.
//
// dispatch.ts imports this file in every hook, so the parse functions call the schema's own
// safeParse and never zod's: a bundled charm that declares no schema then carries no zod at all
// (bench/dispatch). Only jsonField and encodeDatabag use zod's functions (tree-shaken when unused).
// Build no zod schema at module level here.
import * as z from 'zod/mini';
import { CharmConfigError, DatabagError, ParamsError } from './errors.js';

/** What a parse returns: zod/mini's and full zod's safeParse results both fit. */
type SafeParseResult =
  { success: true; data: unknown } | { success: false; error: { issues: readonly z.core.$ZodIssue[] } };

/**
 * Any zod schema, zod/mini or full zod: both share the core and carry a safeParse method (which
 * the runtime uses instead of zod's top-level safeParse, see above).
 */
export type Schema = z.core.$ZodType & {
  safeParse(data: unknown, params?: { reportInput?: boolean }): SafeParseResult;
};

type ErrorClass = new (message: string) => Error;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return JSON.stringify(value);
  }
  return Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * `port: expected number, got "x"`: an issue with its key path and the offending value (zod
 * reports the input when parsing with `reportInput`, also inside decoded jsonField values).
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.') || '(root)';
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `${path}: required`
        : `${path}: expected ${issue.expected}, got ${describe(issue.input)}`;
    case 'unrecognized_keys':
      return `${issue.keys.map((key) => [...issue.path.map(String), key].join('.')).join(', ')}: unknown key`;
    default:
      return `${path}: ${issue.message}`;
  }
}

function parseWith<S extends Schema>(schema: S, raw: unknown, what: string, ErrorType: ErrorClass): z.output<S> {
  const result = schema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data as z.output<S>;
  throw new ErrorType(`${what}: ${result.error.issues.map(describeIssue).join('; ')}`);
}

/** Parses `config-get` output; throws CharmConfigError (`invalid config: port: expected number, got "x"`). */
export function parseConfig<S extends Schema>(schema: S, raw: unknown): z.output<S> {
  return parseWith(schema, raw, 'invalid config', CharmConfigError);
}

/** Parses `action-get` output; throws ParamsError naming the bad parameter. */
export function parseActionParams<S extends Schema>(schema: S, raw: unknown): z.output<S> {
  return parseWith(schema, raw, 'invalid action parameters', ParamsError);
}

/** Parses a relation databag (strings only; use jsonField for structured values). Throws DatabagError. */
export function parseDatabag<S extends Schema>(schema: S, bag: Readonly<Record<string, string>>): z.output<S> {
  return parseWith(schema, bag, 'invalid relation data', DatabagError);
}

/**
 * A databag field holding JSON (databag values are strings; structured values are JSON-encoded
 * per key). Decodes with JSON.parse and validates with `schema`; encodeDatabag encodes it back.
 */
export function jsonField<S extends Schema>(schema: S) {
  return z.codec(z.string(), schema, {
    decode: (text, payload) => {
      try {
        return JSON.parse(text) as z.input<S>;
      } catch {
        payload.issues.push({ code: 'custom', message: 'expected JSON text', input: text });
        return z.NEVER;
      }
    },
    encode: (value) => JSON.stringify(value),
  });
}

/** Turns a typed value back into databag strings (jsonField keys JSON-encoded); throws DatabagError. */
export function encodeDatabag<S extends Schema>(schema: S, value: z.output<S>): Record<string, string> {
  const result = z.safeEncode(schema, value, { reportInput: true });
  if (!result.success) {
    throw new DatabagError(`cannot encode relation data: ${result.error.issues.map(describeIssue).join('; ')}`);
  }
  const bag: Record<string, string> = {};
  for (const [key, item] of Object.entries(result.data as Record<string, unknown>)) {
    if (item === undefined) continue;
    if (typeof item !== 'string')
      throw new DatabagError(`cannot encode relation data: ${key}: not a string (use jsonField)`);
    bag[key] = item;
  }
  return bag;
}
