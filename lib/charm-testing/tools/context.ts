// What every fake hook tool sees: the model, the unit and event it runs for, the hook's pending
// transaction, and the action being run (if any). Helpers here hold the rules several tools share.
import { type ActionEvent, type CharmEvent, type HookEvent } from '../events.js';
import { type ActionTask, type Application, type Bag, type Model, type Relation, type Unit, ownEnd } from '../model.js';
import { type PendingChanges } from '../pending.js';
import { type ParsedArgs, runtimeError, usageError } from './flags.js';

/**
 * What an action accumulates until it finishes (docs/charm-runtime.md, "Hook tools": recorded
 * whatever the exit code).
 */
export interface ActionRecord {
  task: ActionTask;
  /** action-set values, nested by dotted keys. */
  results: Record<string, unknown>;
  /** Set by action-fail. */
  failMessage?: string;
}

export interface ToolContext {
  model: Model;
  unitName: string;
  event: CharmEvent;
  env: Readonly<Record<string, string>>;
  pending: PendingChanges;
  action?: ActionRecord;
  /** Remote bags already read in this hook: Juju caches them for the rest of the hook. */
  remoteReads: Map<string, Bag>;
  /** Extra stderr text (warnings) of the running tool, written as is. */
  warnings: string[];
}

export function unitOf(ctx: ToolContext): Unit {
  const unit = ctx.model.units[ctx.unitName];
  if (unit === undefined) throw runtimeError(`unit "${ctx.unitName}" not found`);
  return unit;
}

export function appOfUnit(ctx: ToolContext): Application {
  const unit = unitOf(ctx);
  const app = ctx.model.applications[unit.app];
  if (app === undefined) throw runtimeError(`application "${unit.app}" not found`);
  return app;
}

export function isLeader(ctx: ToolContext): boolean {
  return appOfUnit(ctx).leader === ctx.unitName;
}

export function hookEvent(ctx: ToolContext): HookEvent | undefined {
  return ctx.event.kind === 'hook' ? ctx.event : undefined;
}

export function actionEvent(ctx: ToolContext): ActionEvent | undefined {
  return ctx.event.kind === 'action' ? ctx.event : undefined;
}

/** The hook's relation id, when the event is a relation hook. */
export function eventRelationId(ctx: ToolContext): number | undefined {
  return hookEvent(ctx)?.relationId;
}

/** The hook kind of a relation hook (`joined`, `broken` ...), undefined otherwise. */
export function relationHookKind(ctx: ToolContext): string | undefined {
  const event = hookEvent(ctx);
  if (event?.relationId === undefined) return undefined;
  return /-relation-(created|joined|changed|departed|broken)$/.exec(event.name)?.[1];
}

/** This unit's endpoint name in `relation`. */
export function ownEndpoint(ctx: ToolContext, relation: Relation): string {
  return ownEnd(relation, unitOf(ctx).app)?.endpoint ?? '';
}

/** Relations this unit is in scope of: it has a view of it, and it is not yet broken (except the one breaking now). */
export function knownRelation(ctx: ToolContext, id: number): Relation | undefined {
  const relation = ctx.model.relations[id];
  const view = unitOf(ctx).relations[id];
  if (relation === undefined || view === undefined) return undefined;
  if (ownEnd(relation, unitOf(ctx).app) === undefined) return undefined;
  if (view.broken && eventRelationId(ctx) !== id) return undefined;
  return relation;
}

/**
 * Resolves the `-r` flag (`7` or `endpoint:7`), defaulting to the hook's relation. Unknown ids
 * and mismatching endpoint prefixes fail with exit 2 like Juju 3.6.
 */
export function relationFlag(ctx: ToolContext, parsed: ParsedArgs, required = true): Relation | undefined {
  const text = parsed.values['relation'];
  if (text === undefined) {
    const id = eventRelationId(ctx);
    const relation = id === undefined ? undefined : ctx.model.relations[id];
    if (relation === undefined && required) throw usageError('no relation id specified');
    return relation;
  }
  const spelt = parsed.spelling['relation'] ?? '-r';
  const colon = text.lastIndexOf(':');
  const idText = text.slice(colon + 1);
  if (!/^\d+$/.test(idText))
    throw usageError(`invalid value ${JSON.stringify(text)} for option ${spelt}: invalid relation id`);
  const relation = knownRelation(ctx, Number(idText));
  const prefixOk = colon === -1 || (relation !== undefined && ownEndpoint(ctx, relation) === text.slice(0, colon));
  if (relation === undefined || !prefixOk) {
    throw usageError(`invalid value ${JSON.stringify(text)} for option ${spelt}: relation not found`);
  }
  return relation;
}

export function relationTag(ctx: ToolContext, relation: Relation): string {
  return `${ownEndpoint(ctx, relation)}:${relation.id}`;
}

/** The running action, or Juju's error for action tools elsewhere. */
export function requireAction(ctx: ToolContext): ActionRecord {
  if (ctx.action === undefined) throw runtimeError('not running an action');
  return ctx.action;
}

/** Parses `key=value` arguments (relation-set, leader-set, state-set). */
export function parseKeyValues(args: readonly string[]): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw usageError(`expected "key=value", got ${JSON.stringify(arg)}`);
    const key = arg.slice(0, eq);
    if (key in entries) throw usageError(`key ${JSON.stringify(key)} specified more than once`);
    entries[key] = arg.slice(eq + 1);
  }
  return entries;
}
