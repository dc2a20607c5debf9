// Action parameters as `juju run` handles them before a task exists
// (docs/charm-runtime.md, "Charm metadata"): CLI `k=v` arguments are YAML 1.1-coerced (unless
// --string-args) and nested by dotted keys, then validated against the action's JSON Schema draft 4
// with schema defaults inserted. Invalid -> no task.
import AjvDraft04Module from 'ajv-draft-04';
import { load, YAML11_SCHEMA } from 'js-yaml';
import { type ActionMeta } from './model.js';

/** `juju run` refused the parameters (the CLI fails and no task is created). */
export class ActionParamsError extends Error {
  override name = 'ActionParamsError';
}

// ajv-draft-04 is CommonJS: under NodeNext the default import is module.exports, whose
// `.default` is the class (it sets module.exports.default to itself).
const Ajv = AjvDraft04Module.default;
const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: false });

/** A CLI value as `juju run` reads it: YAML 1.1 (`yes`/`on` -> true, `007` -> 7) or the raw string. */
export function coerceCliValue(raw: string, stringArgs = false): unknown {
  if (stringArgs) return raw;
  try {
    const value = load(raw, { schema: YAML11_SCHEMA });
    return value === undefined ? raw : value;
  } catch {
    return raw;
  }
}

/** Parses `k=v` / `k.sub=v` arguments into a nested params object. */
export function parseCliParams(
  args: readonly string[],
  options: { stringArgs?: boolean } = {},
): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new ActionParamsError(`argument "${arg}" must be of the form key...=value`);
    const path = arg.slice(0, eq).split('.');
    if (path.some((part) => part === ''))
      throw new ActionParamsError(`argument "${arg}" must be of the form key...=value`);
    let target = params;
    for (const part of path.slice(0, -1)) {
      const next = target[part];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) target[part] = {};
      target = target[part] as Record<string, unknown>;
    }
    target[path[path.length - 1] as string] = coerceCliValue(arg.slice(eq + 1), options.stringArgs);
  }
  return params;
}

/**
 * Validates params against the action's schema; returns a copy with schema defaults inserted.
 * Throws ActionParamsError with a Juju-like message when invalid.
 */
export function validateActionParams(
  actionName: string,
  action: ActionMeta,
  params: Record<string, unknown>,
): Record<string, unknown> {
  const copy = structuredClone(params);
  const validate = ajv.compile(action.schema);
  if (!validate(copy)) {
    const first = validate.errors?.[0];
    const where = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '(root)';
    const detail =
      first?.keyword === 'additionalProperties'
        ? `additional property "${String((first.params as { additionalProperty?: string }).additionalProperty)}" is not allowed`
        : (first?.message ?? 'invalid');
    throw new ActionParamsError(
      `validation failed: ${where} : ${detail}, given ${JSON.stringify(params)} (action "${actionName}")`,
    );
  }
  return copy;
}
