// Reads a charm's declarations (unified charmcraft.yaml, or legacy metadata.yaml + config.yaml +
// actions.yaml) into a CharmMeta, refusing what Juju refuses with Juju's own messages
// (docs/charm-runtime.md, "Charm metadata"). The packer checks a charm with it before packing, and
// the Juju fake (lib/charm-testing) deploys what it returns, so a charm that packs and deploys in
// the fake also deploys on a controller. Production code, hence here and not in the fake.
import { load } from 'js-yaml';
import * as z from 'zod';
import { declaredBases, manifestBases, type CharmBase } from './bases.js';

export type EndpointRole = 'requires' | 'provides' | 'peers';

export interface EndpointMeta {
  role: EndpointRole;
  interface: string;
  scope: 'global' | 'container';
  limit?: number;
  optional?: boolean;
}

export interface StorageMeta {
  type: 'filesystem' | 'block';
  location?: string;
  /** Instance count range; a singleton is {min: 1, max: 1}; max null = unbounded. */
  range: { min: number; max: number | null };
  description?: string;
}

export type ConfigType = 'string' | 'int' | 'float' | 'boolean' | 'secret';
export type ConfigValue = string | number | boolean;

export interface ConfigOptionMeta {
  type: ConfigType;
  default?: ConfigValue;
  description?: string;
}

export interface ActionMeta {
  description?: string;
  /** The JSON Schema (draft 4) object Juju builds: {type: object, title, properties, required, additionalProperties}. */
  schema: Record<string, unknown>;
  parallel: boolean;
  executionGroup?: string;
}

/** What Juju (and so the packer and the fake) reads from a charm's charmcraft.yaml / metadata.yaml + config + actions. */
export interface CharmMeta {
  name: string;
  subordinate: boolean;
  /**
   * The bases the charm declares (charmcraft.yaml's base/platforms, or manifest.yaml), when it
   * declares any: Juju relates a subordinate only to a principal whose charm shares one.
   */
  bases?: CharmBase[];
  /** Declared endpoints by name (not the implicit `juju-info` provider every application has). */
  endpoints: Record<string, EndpointMeta>;
  storage: Record<string, StorageMeta>;
  config: Record<string, ConfigOptionMeta>;
  actions: Record<string, ActionMeta>;
}

/** A value already of the option's type, as a charm's default or a Scenario state must be (no parsing). */
export function isConfigValueOfType(type: ConfigType, value: unknown): value is ConfigValue {
  switch (type) {
    case 'string':
    case 'secret':
      return typeof value === 'string';
    case 'int':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
  }
}

/** A charm declaration Juju (or charmcraft) would refuse. */
export class CharmMetaError extends Error {
  override name = 'CharmMetaError';
}

const endpointLong = z.object({
  interface: z.string(),
  scope: z.enum(['global', 'container']).optional(),
  limit: z.number().int().optional(),
  optional: z.boolean().optional(),
});
const endpointMap = z.record(z.string(), z.union([z.string(), endpointLong])).nullish();

const storageDecl = z.object({
  type: z.enum(['filesystem', 'block']),
  description: z.string().optional(),
  location: z.string().optional(),
  multiple: z.object({ range: z.union([z.string(), z.number()]) }).optional(),
  'minimum-size': z.union([z.string(), z.number()]).optional(),
  'read-only': z.boolean().optional(),
  shared: z.boolean().optional(),
  properties: z.array(z.literal('transient')).optional(),
});

const metadataShape = z.object({
  name: z.string().min(1),
  summary: z.string().optional(),
  description: z.string().optional(),
  subordinate: z.boolean().optional(),
  requires: endpointMap,
  provides: endpointMap,
  peers: endpointMap,
  storage: z.record(z.string(), storageDecl).nullish(),
});

const optionShape = z.object({
  type: z.string().optional(),
  default: z.unknown().optional(),
  description: z.string().optional(),
});
const actionShape = z.record(z.string(), z.unknown());

function parseYaml(text: string, what: string): unknown {
  // js-yaml 5 refuses an empty document; Juju reads it as an empty map.
  if (text.trim() === '') return undefined;
  try {
    return load(text);
  } catch (err) {
    throw new CharmMetaError(`cannot parse ${what}: ${(err as Error).message}`);
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new CharmMetaError(`invalid ${what}${where}: ${issue?.message ?? 'unknown error'}`);
  }
  return result.data;
}

const reserved = (name: string): boolean => name === 'juju' || name.startsWith('juju-');

function parseEndpoints(
  charm: string,
  subordinate: boolean,
  meta: z.infer<typeof metadataShape>,
): Record<string, EndpointMeta> {
  const endpoints: Record<string, EndpointMeta> = {};
  for (const role of ['provides', 'requires', 'peers'] as EndpointRole[]) {
    for (const [name, decl] of Object.entries(meta[role] ?? {})) {
      const long = typeof decl === 'string' ? { interface: decl } : decl;
      const endpoint: EndpointMeta = { role, interface: long.interface, scope: long.scope ?? 'global' };
      if (long.limit !== undefined) endpoint.limit = long.limit;
      if (long.optional !== undefined) endpoint.optional = long.optional;
      // Container-scoped requires of a subordinate may use juju-* (that is how juju-info attaches).
      const exempt = subordinate && role === 'requires' && endpoint.scope === 'container';
      if (!exempt && reserved(name))
        throw new CharmMetaError(`charm "${charm}" using a reserved relation name: "${name}"`);
      if (role !== 'requires' && reserved(endpoint.interface)) {
        throw new CharmMetaError(
          `charm "${charm}" relation "${name}" using a reserved interface: "${endpoint.interface}"`,
        );
      }
      if (!/^[a-z][a-z0-9_-]*$/.test(endpoint.interface)) {
        throw new CharmMetaError(
          `charm "${charm}" relation "${name}" has invalid interface name "${endpoint.interface}"`,
        );
      }
      if (name in endpoints) throw new CharmMetaError(`charm "${charm}" using a duplicated relation name: "${name}"`);
      endpoints[name] = endpoint;
    }
  }
  if (subordinate && !Object.values(endpoints).some((e) => e.role === 'requires' && e.scope === 'container')) {
    throw new CharmMetaError(`subordinate charm "${charm}" lacks "requires" relation with container scope`);
  }
  return endpoints;
}

/** "n", "n-m", "n-", "n+" -> {min, max}; max null = unbounded. */
function parseRange(name: string, raw: string | number): StorageMeta['range'] {
  const text = String(raw);
  const match = /^(\d+)(?:(-|\+)(\d+)?)?$/.exec(text);
  if (!match || (match[2] === '+' && match[3] !== undefined)) {
    throw new CharmMetaError(`storage "${name}": invalid count range "${text}"`);
  }
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : match[3] === undefined ? null : Number(match[3]);
  if (max === 0)
    throw new CharmMetaError(`storage "${name}": invalid count range "${text}": maximum must be greater than 0`);
  if (max !== null && max < min) throw new CharmMetaError(`storage "${name}": invalid count range "${text}"`);
  return { min, max };
}

function parseStorage(meta: z.infer<typeof metadataShape>): Record<string, StorageMeta> {
  const storage: Record<string, StorageMeta> = {};
  for (const [name, decl] of Object.entries(meta.storage ?? {})) {
    if (decl.location !== undefined && decl.type === 'block') {
      throw new CharmMetaError(`location may not be specified for "type: block"`);
    }
    if (decl.location !== undefined && /^\/var\/lib\/juju\/storage(\/|$)/.test(decl.location)) {
      throw new CharmMetaError(
        `storage "${name}": location "${decl.location}" conflicts with Juju's storage directory`,
      );
    }
    const entry: StorageMeta = {
      type: decl.type,
      range: decl.multiple ? parseRange(name, decl.multiple.range) : { min: 1, max: 1 },
    };
    if (decl.location !== undefined) entry.location = decl.location;
    if (decl.description !== undefined) entry.description = decl.description;
    storage[name] = entry;
  }
  return storage;
}

const CONFIG_TYPES: readonly ConfigType[] = ['string', 'int', 'float', 'boolean', 'secret'];

/** Parses a config.yaml document (or charmcraft.yaml's `config:` value). */
export function parseConfigOptions(doc: unknown): Record<string, ConfigOptionMeta> {
  if (doc === undefined || doc === null) return {};
  const top = check(
    z.object({ options: z.record(z.string(), optionShape.nullable()).nullish() }).passthrough(),
    doc,
    'config',
  );
  if (top.options === undefined) throw new CharmMetaError('invalid config: empty configuration');
  const options: Record<string, ConfigOptionMeta> = {};
  for (const [name, decl] of Object.entries(top.options ?? {})) {
    const type = (decl?.type ?? 'string') as ConfigType;
    if (!CONFIG_TYPES.includes(type))
      throw new CharmMetaError(`option "${name}" has unknown type "${String(decl?.type)}"`);
    const option: ConfigOptionMeta = { type };
    if (decl?.description !== undefined) option.description = decl.description;
    if (decl?.default !== undefined && decl.default !== null) {
      if (!isConfigValueOfType(type, decl.default)) {
        throw new CharmMetaError(
          `invalid config default: option "${name}" expected ${type}, got ${JSON.stringify(decl.default)}`,
        );
      }
      option.default = decl.default;
    }
    options[name] = option;
  }
  return options;
}

const ACTION_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const ACTION_META_KEYS = new Set(['description', 'params', 'parallel', 'execution-group']);

function rejectRef(value: unknown, action: string): void {
  if (Array.isArray(value)) value.forEach((v) => rejectRef(v, action));
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref')
        throw new CharmMetaError(`schema key "$ref" not compatible with this version of juju (action "${action}")`);
      rejectRef(inner, action);
    }
  }
}

/**
 * Parses an actions.yaml document into actions with their JSON Schema draft 4 objects
 * (docs/charm-runtime.md, "Charm metadata").
 */
export function parseActions(doc: unknown): Record<string, ActionMeta> {
  if (doc === undefined || doc === null) return {};
  const decls = check(z.record(z.string(), actionShape.nullable()), doc, 'actions');
  const actions: Record<string, ActionMeta> = {};
  for (const [name, rawDecl] of Object.entries(decls)) {
    if (!ACTION_NAME.test(name) || reserved(name)) throw new CharmMetaError(`bad action name ${name}`);
    const decl = rawDecl ?? {};
    rejectRef(decl, name);
    const schema: Record<string, unknown> = { type: 'object', title: name };
    if (typeof decl.description === 'string') schema.description = decl.description;
    const params = decl.params ?? {};
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new CharmMetaError(`invalid params schema for action "${name}": params must be a map`);
    }
    schema.properties = params;
    // Juju 3 defaults additionalProperties to true (Juju 4 flips it).
    schema.additionalProperties = true;
    for (const [key, value] of Object.entries(decl)) if (!ACTION_META_KEYS.has(key)) schema[key] = value;
    const action: ActionMeta = { schema, parallel: decl.parallel === true };
    if (typeof decl.description === 'string') action.description = decl.description;
    if (typeof decl['execution-group'] === 'string' && decl['execution-group'] !== '') {
      action.executionGroup = decl['execution-group'];
    }
    actions[name] = action;
  }
  return actions;
}

function buildMeta(metaDoc: unknown, configDoc: unknown, actionsDoc: unknown, bases: CharmBase[]): CharmMeta {
  const meta = check(metadataShape.passthrough(), metaDoc, 'metadata');
  const subordinate = meta.subordinate ?? false;
  const charm: CharmMeta = {
    name: meta.name,
    subordinate,
    endpoints: parseEndpoints(meta.name, subordinate, meta),
    storage: parseStorage(meta),
    config: parseConfigOptions(configDoc),
    actions: parseActions(actionsDoc),
  };
  if (bases.length > 0) charm.bases = bases;
  return charm;
}

/** Runs a bases parser, turning its error into a CharmMetaError naming the file. */
function basesOf(what: string, parse: () => CharmBase[]): CharmBase[] {
  try {
    return parse();
  } catch (err) {
    throw new CharmMetaError(`invalid ${what}: ${(err as Error).message.replace(/^manifest\.yaml: /, '')}`);
  }
}

/** Parses a unified charmcraft.yaml (charmcraft ≥ 2.5) text. */
export function parseCharmMeta(charmcraftYamlText: string): CharmMeta {
  const doc = parseYaml(charmcraftYamlText, 'charmcraft.yaml');
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new CharmMetaError('invalid charmcraft.yaml: not a map');
  const record = doc as Record<string, unknown>;
  if (record.type !== undefined && record.type !== 'charm')
    throw new CharmMetaError(`invalid charmcraft.yaml: type must be "charm"`);
  const bases = basesOf('charmcraft.yaml', () => declaredBases(record));
  return buildMeta(record, record.config, record.actions, bases);
}

/**
 * Parses the files of a packed charm as Juju reads them: metadata.yaml (required), config.yaml,
 * actions.yaml, and manifest.yaml for the bases.
 */
export function parseCharmMetaFiles(files: {
  metadata: string;
  config?: string;
  actions?: string;
  manifest?: string;
}): CharmMeta {
  const metaDoc = parseYaml(files.metadata, 'metadata.yaml');
  const configDoc = files.config === undefined ? undefined : (parseYaml(files.config, 'config.yaml') ?? {});
  const actionsDoc = files.actions === undefined ? undefined : parseYaml(files.actions, 'actions.yaml');
  const manifest = files.manifest;
  const bases =
    manifest === undefined ? [] : basesOf('manifest.yaml', () => manifestBases(parseYaml(manifest, 'manifest.yaml')));
  return buildMeta(metaDoc, configDoc, actionsDoc, bases);
}
