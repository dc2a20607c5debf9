// relation-get, relation-set, relation-ids, relation-list (docs/charm-runtime.md, "Hook tools" and
// "Relation data").
import { readFileSync } from 'node:fs';
import { FAILSAFE_SCHEMA, load } from 'js-yaml';
import { type Bag, type Relation, appOf, compareUnitNames, remoteApp } from '../model.js';
import {
  type ToolContext,
  appOfUnit,
  eventRelationId,
  isLeader,
  knownRelation,
  ownEndpoint,
  parseKeyValues,
  relationFlag,
  relationHookKind,
  relationTag,
  unitOf,
} from './context.js';
import { type FlagSpecs, checkEmpty, parseFlags, runtimeError, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

const RELATION_FLAG: FlagSpecs = { relation: { short: 'r', long: 'relation', kind: 'value' } };
const APP_FLAG: FlagSpecs = { app: { long: 'app', kind: 'bool' } };

/**
 * A committed bag read "from the controller": cached for the rest of the hook
 * (docs/charm-runtime.md, "Relation data" rule 5).
 */
function remoteRead(ctx: ToolContext, cacheKey: string, read: () => Bag): Bag {
  const cached = ctx.remoteReads.get(cacheKey);
  if (cached !== undefined) return cached;
  const bag = { ...read() };
  ctx.remoteReads.set(cacheKey, bag);
  return bag;
}

function readAppBag(ctx: ToolContext, relation: Relation, app: string): Bag {
  const own = appOfUnit(ctx).name;
  if (app === own) {
    if (isLeader(ctx)) return ctx.pending.ownAppBag(relation.id);
    if (!relation.peer) throw runtimeError('permission denied');
  }
  if (!relation.ends.some((end) => end.app === app)) {
    throw runtimeError(
      `cannot read settings for application ${JSON.stringify(app)} in relation ${JSON.stringify(relationTag(ctx, relation))}: application ${JSON.stringify(app)}: settings not found`,
    );
  }
  return remoteRead(ctx, `${relation.id}/app/${app}`, () => relation.appBags[app] ?? {});
}

function readUnitBag(ctx: ToolContext, relation: Relation, unit: string): Bag {
  if (unit === ctx.unitName) return ctx.pending.ownUnitBag(relation.id);
  const bag = relation.unitBags[unit];
  if (bag === undefined || !relation.ends.some((end) => end.app === appOf(unit))) {
    throw runtimeError(
      `cannot read settings for unit ${JSON.stringify(unit)} in relation ${JSON.stringify(relationTag(ctx, relation))}: unit ${JSON.stringify(unit)}: settings not found`,
    );
  }
  return remoteRead(ctx, `${relation.id}/unit/${unit}`, () => bag);
}

export function relationGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, ...RELATION_FLAG, ...APP_FLAG });
  const format = chosenFormat(parsed);
  const relation = relationFlag(ctx, parsed) as Relation;
  const [keyArg, targetArg, ...rest] = parsed.positional;
  checkEmpty(rest);
  const key = keyArg === undefined || keyArg === '-' ? undefined : keyArg;
  let target = targetArg ?? ctx.env['JUJU_REMOTE_UNIT'] ?? '';
  let app = parsed.bools['app'] === true;
  if (target === '') {
    // Created, broken and app-level changed hooks: the remote application's bag.
    target = ctx.env['JUJU_REMOTE_APP'] ?? '';
    app = true;
  }
  if (target === '') throw usageError('no unit or application specified');
  if (!app && !target.includes('/')) throw runtimeError(`${JSON.stringify(target)} is not a valid unit name`);
  const bag = app
    ? readAppBag(ctx, relation, target.includes('/') ? appOf(target) : target)
    : readUnitBag(ctx, relation, target);
  return emit(parsed, key === undefined ? bag : (bag[key] ?? null), format);
}

/** The `--file` map: YAML (JSON is YAML) read as text so values stay exactly as written. */
export function readSettingsFile(path: string, stdin: string | undefined): Record<string, string> {
  let text: string;
  try {
    text = path === '-' ? (stdin ?? '') : readFileSync(path, 'utf8');
  } catch {
    throw runtimeError(`open ${path}: no such file or directory`);
  }
  let data: unknown;
  try {
    data = load(text, { schema: FAILSAFE_SCHEMA });
  } catch (error) {
    throw runtimeError(`yaml: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  if (data === undefined || data === null) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw runtimeError('yaml: expected a map of settings');
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (typeof value !== 'string') throw runtimeError(`yaml: value of ${JSON.stringify(key)} is not a string`);
    settings[key] = value;
  }
  return settings;
}

export function relationSet(ctx: ToolContext, args: readonly string[], stdin: string | undefined): string {
  const parsed = parseFlags(args, {
    ...RELATION_FLAG,
    ...APP_FLAG,
    file: { long: 'file', kind: 'value' },
    format: { long: 'format', kind: 'value' },
  });
  const relation = relationFlag(ctx, parsed) as Relation;
  const pairs = parseKeyValues(parsed.positional);
  if (parsed.values['format'] !== undefined) {
    ctx.warnings.push('--format flag deprecated for command "relation-set"');
  }
  const file = parsed.values['file'];
  const settings = { ...(file === undefined ? {} : readSettingsFile(file, stdin)), ...pairs };
  if (parsed.bools['app'] === true) {
    if (!isLeader(ctx)) throw runtimeError('cannot write relation settings');
    ctx.pending.writeAppBag(relation.id, settings);
  } else {
    ctx.pending.writeUnitBag(relation.id, settings);
  }
  return '';
}

export function relationIds(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  const [endpointArg, ...rest] = parsed.positional;
  checkEmpty(rest);
  const endpoint = endpointArg ?? (ctx.env['JUJU_RELATION'] || undefined);
  if (endpoint === undefined) throw usageError('no relation name specified');
  const breaking = relationHookKind(ctx) === 'broken' ? eventRelationId(ctx) : undefined;
  const unit = unitOf(ctx);
  const ids = Object.values(ctx.model.relations)
    .filter((relation) => relation.life !== 'dead' && relation.id !== breaking)
    .filter((relation) => knownRelation(ctx, relation.id) !== undefined && unit.relations[relation.id]?.broken !== true)
    .filter((relation) => ownEndpoint(ctx, relation) === endpoint)
    .map((relation) => relation.id)
    .sort((a, b) => a - b);
  return emit(
    parsed,
    ids.map((id) => `${endpoint}:${id}`),
    format,
  );
}

export function relationList(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, ...RELATION_FLAG, ...APP_FLAG });
  const format = chosenFormat(parsed);
  const relation = relationFlag(ctx, parsed) as Relation;
  checkEmpty(parsed.positional);
  const unit = unitOf(ctx);
  if (parsed.bools['app'] === true) return emit(parsed, remoteApp(relation, unit.app) ?? '', format);
  const view = unit.relations[relation.id];
  const kind = relation.id === eventRelationId(ctx) ? relationHookKind(ctx) : undefined;
  if (view === undefined || view.broken || kind === 'created' || kind === 'broken') return emit(parsed, [], format);
  // In relation-departed the departing unit is already gone from the list.
  const leaving = kind === 'departed' ? (ctx.env['JUJU_REMOTE_UNIT'] ?? '') : '';
  const units = view.joined.filter((name) => name !== unit.name && name !== leaving).sort(compareUnitNames);
  return emit(parsed, units, format);
}
