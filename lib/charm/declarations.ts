// Checks that a charm's zod schemas agree with what it declares to Juju (config.yaml options and
// actions.yaml params), so a charm's unit tests catch drift between the two. Uses full zod's JSON
// Schema export: only tests and packing checks import this file, never dispatch.
import { toJSONSchema } from 'zod';
import { type Schema } from './schemas.js';

/** One option of config.yaml's `options` map (docs/charm-runtime.md, "Charm metadata"). */
export interface ConfigOptionDeclaration {
  type?: string;
  default?: unknown;
  description?: string;
}

/** One action of actions.yaml (docs/charm-runtime.md, "Charm metadata"). */
export interface ActionDeclaration {
  description?: string;
  params?: Record<string, Record<string, unknown>>;
  required?: string[];
  additionalProperties?: boolean;
  [key: string]: unknown;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: unknown;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

const ACTION_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

// The JSON Schema type(s) a config option's values have in config-get output
// (docs/charm-runtime.md, "Charm metadata").
const CONFIG_JSON_TYPE: Record<string, string> = {
  string: 'string',
  secret: 'string',
  int: 'integer',
  float: 'number',
  boolean: 'boolean',
};

function objectSchema(schema: Schema): JsonSchema {
  return toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** The JSON types a (sub)schema accepts; undefined when it accepts anything or we cannot tell. */
function jsonTypes(schema: JsonSchema): Set<string> | undefined {
  if (typeof schema.type === 'string') return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type);
  const values = schema.enum ?? (schema.const === undefined ? undefined : [schema.const]);
  if (values) return new Set(values.map((value) => (Number.isInteger(value) ? 'integer' : typeof value)));
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) {
    const all = new Set<string>();
    for (const branch of branches) {
      const types = jsonTypes(branch);
      if (!types) return undefined;
      types.forEach((type) => all.add(type));
    }
    return all;
  }
  if (schema.allOf?.[0]) return jsonTypes(schema.allOf[0]);
  return undefined;
}

/** Whether values of JSON type `declared` are all accepted by a schema accepting `accepted`. */
function typeFits(declared: string, accepted: Set<string>): boolean {
  return accepted.has(declared) || (declared === 'integer' && accepted.has('number'));
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

function defaultOf(schema: JsonSchema): unknown {
  return schema.default ?? schema.allOf?.[0]?.default;
}

function defaultFitsType(type: string, value: unknown): boolean {
  switch (type) {
    case 'int':
      return Number.isInteger(value);
    case 'float':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return typeof value === 'string';
  }
}

/**
 * Compares a config schema with config.yaml's `options`. Returns human-readable mismatches
 * (empty when they agree): missing/extra keys, types, defaults.
 */
export function checkConfigDeclaration(schema: Schema, options: Record<string, ConfigOptionDeclaration>): string[] {
  const problems: string[] = [];
  const json = objectSchema(schema);
  const properties = json.properties;
  if (json.type !== 'object' || !properties) return ['config schema: must be an object schema'];

  for (const [key, option] of Object.entries(options)) {
    const property = properties[key];
    const type = option.type ?? 'string';
    const expected = CONFIG_JSON_TYPE[type];
    if (expected === undefined) {
      problems.push(`config option "${key}": unknown type "${type}" in config.yaml`);
      continue;
    }
    if (option.type === undefined) problems.push(`config option "${key}": config.yaml does not state its type`);
    if (option.default !== undefined && !defaultFitsType(type, option.default)) {
      problems.push(`config option "${key}": config.yaml default ${show(option.default)} is not a valid ${type}`);
    }
    if (!property) {
      problems.push(`config option "${key}": declared in config.yaml but missing from the schema`);
      continue;
    }
    const accepted = jsonTypes(property);
    if (accepted && !typeFits(expected, accepted)) {
      problems.push(
        `config option "${key}": config.yaml type ${type} (JSON ${expected}) but the schema accepts ${[...accepted].join('|')}`,
      );
    }
    const schemaDefault = defaultOf(property);
    if (schemaDefault !== undefined && option.default === undefined) {
      problems.push(
        `config option "${key}": the schema defaults to ${show(schemaDefault)} but config.yaml has no default`,
      );
    } else if (schemaDefault !== undefined && show(schemaDefault) !== show(option.default)) {
      problems.push(
        `config option "${key}": default ${show(option.default)} in config.yaml but ${show(schemaDefault)} in the schema`,
      );
    }
  }
  for (const key of Object.keys(properties)) {
    if (!Object.hasOwn(options, key))
      problems.push(`config option "${key}": in the schema but not declared in config.yaml`);
  }
  return problems;
}

type ActionSchemaEntry = Schema | { params?: Schema; run?: unknown } | undefined;

function paramsSchemaOf(entry: ActionSchemaEntry): Schema | undefined {
  if (entry === undefined) return undefined;
  return '_zod' in entry ? entry : entry.params;
}

/**
 * Compares action param schemas (a schema, or a charm's action definition with `params`, per
 * action name) with actions.yaml. Returns human-readable mismatches (empty when they agree).
 */
export function checkActionsDeclaration(
  actions: Record<string, ActionSchemaEntry>,
  declarations: Record<string, ActionDeclaration>,
): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(declarations)) {
    if (!ACTION_NAME.test(name) || name === 'juju' || name.startsWith('juju-')) {
      problems.push(`action "${name}": invalid action name`);
    }
    if (!Object.hasOwn(actions, name))
      problems.push(`action "${name}": declared in actions.yaml but the charm has no handler`);
  }
  for (const [name, entry] of Object.entries(actions)) {
    const declaration = declarations[name];
    if (!declaration) {
      problems.push(`action "${name}": handled by the charm but not declared in actions.yaml`);
      continue;
    }
    problems.push(...checkOneAction(name, paramsSchemaOf(entry), declaration));
  }
  return problems;
}

function checkOneAction(name: string, schema: Schema | undefined, declaration: ActionDeclaration): string[] {
  const problems: string[] = [];
  const params = declaration.params ?? {};
  const yamlRequired = new Set(declaration.required ?? []);
  const where = `action "${name}"`;
  if (declaration.additionalProperties === undefined) {
    problems.push(`${where}: actions.yaml must state additionalProperties (Juju 3 defaults to true, Juju 4 to false)`);
  }
  for (const key of yamlRequired) {
    if (!Object.hasOwn(params, key))
      problems.push(`${where}: "${key}" is required in actions.yaml but not a declared param`);
  }
  if (schema === undefined) return problems;

  const json = objectSchema(schema);
  const properties = json.properties;
  if (json.type !== 'object' || !properties) return [...problems, `${where}: params schema must be an object schema`];
  const schemaRequired = new Set(json.required ?? []);
  if (declaration.additionalProperties === true && json.additionalProperties === false) {
    problems.push(`${where}: actions.yaml allows additional properties but the schema is strict`);
  }

  for (const [key, param] of Object.entries(params)) {
    const property = properties[key];
    if (!property) {
      problems.push(`${where}: param "${key}" declared in actions.yaml but missing from the schema`);
      continue;
    }
    const declaredType = typeof param['type'] === 'string' ? param['type'] : undefined;
    const accepted = jsonTypes(property);
    if (declaredType === undefined) problems.push(`${where}: param "${key}" has no type in actions.yaml`);
    else if (accepted && !typeFits(declaredType, accepted)) {
      problems.push(
        `${where}: param "${key}" is ${declaredType} in actions.yaml but the schema accepts ${[...accepted].join('|')}`,
      );
    }
    const yamlDefault = param['default'];
    const schemaDefault = defaultOf(property);
    if (schemaDefault !== undefined && yamlDefault === undefined) {
      problems.push(
        `${where}: param "${key}": the schema defaults to ${show(schemaDefault)} but actions.yaml has no default`,
      );
    } else if (schemaDefault !== undefined && show(schemaDefault) !== show(yamlDefault)) {
      problems.push(
        `${where}: param "${key}": default ${show(yamlDefault)} in actions.yaml but ${show(schemaDefault)} in the schema`,
      );
    }
    // Juju inserts declared defaults before the charm sees the params.
    if (schemaRequired.has(key) && !yamlRequired.has(key) && yamlDefault === undefined) {
      problems.push(
        `${where}: param "${key}" is required by the schema but actions.yaml neither requires it nor gives a default`,
      );
    }
    if (yamlRequired.has(key) && !schemaRequired.has(key)) {
      problems.push(`${where}: param "${key}" is required in actions.yaml but optional in the schema`);
    }
  }
  for (const key of Object.keys(properties)) {
    if (!Object.hasOwn(params, key))
      problems.push(`${where}: param "${key}" in the schema but not declared in actions.yaml`);
  }
  return problems;
}
