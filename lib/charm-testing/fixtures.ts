// Small builders for tests of the tools and sessions: a model with applications, units on
// machines, relations already joined, and action tasks. Test code is omnipotent: these write
// the model directly, with no hooks run.
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type InProcessCharm } from '../charm/runner.js';
import { type CharmEvent, type HookEvent } from './events.js';
import {
  type ActionTask,
  type Application,
  type CharmExecutor,
  type CharmMeta,
  type ConfigValue,
  type EndpointMeta,
  type Model,
  type Relation,
  type Unit,
  emptyModel,
  emptyRelationView,
  newApplication,
  newRelation,
  newUnit,
} from './model.js';
import { createHookSession } from './session.js';

export const FIXED_NOW = new Date('2026-01-01T00:00:00.000Z');

export function fixtureModel(): Model {
  return emptyModel('test-model', () => FIXED_NOW);
}

export function charmMeta(name: string, partial: Partial<CharmMeta> = {}): CharmMeta {
  return { name, subordinate: false, endpoints: {}, storage: {}, config: {}, actions: {}, ...partial };
}

export interface AppOptions {
  charm?: Partial<CharmMeta>;
  /** Endpoints as `name: role` (interface = name) for brevity, or full metas. */
  endpoints?: Record<string, EndpointMeta['role'] | EndpointMeta>;
  units?: number;
  /** Unit number of the leader (default 0 when there are units). */
  leader?: number | null;
  config?: Record<string, ConfigValue>;
  run?: InProcessCharm;
  executor?: CharmExecutor;
}

export function addMachine(model: Model): string {
  const id = String(model.nextMachineId);
  model.nextMachineId += 1;
  model.machines[id] = { id, address: `10.1.2.${10 + Number(id)}` };
  return id;
}

export function addUnit(model: Model, appName: string, machine?: string): Unit {
  const app = model.applications[appName];
  if (app === undefined) throw new Error(`no application ${appName}`);
  const number = app.nextUnitNumber;
  app.nextUnitNumber += 1;
  const unit = newUnit(model, { app: appName, number, machine: machine ?? addMachine(model) });
  model.units[unit.name] = unit;
  return unit;
}

export function addApplication(model: Model, name: string, options: AppOptions = {}): Application {
  const endpoints: Record<string, EndpointMeta> = {};
  for (const [endpoint, meta] of Object.entries(options.endpoints ?? {})) {
    endpoints[endpoint] = typeof meta === 'string' ? { role: meta, interface: endpoint, scope: 'global' } : meta;
  }
  const app = newApplication(
    name,
    charmMeta(name, { endpoints, ...options.charm }),
    options.executor ?? { kind: 'in-process', run: options.run ?? (() => Promise.resolve(0)) },
  );
  app.config = options.config ?? {};
  model.applications[name] = app;
  for (let n = 0; n < (options.units ?? 1); n += 1) addUnit(model, name);
  const leader = options.leader === undefined ? 0 : options.leader;
  if (leader !== null && model.units[`${name}/${leader}`] !== undefined) app.leader = `${name}/${leader}`;
  return app;
}

function unitsOf(model: Model, app: string): Unit[] {
  return Object.values(model.units).filter((unit) => unit.app === app);
}

/**
 * A relation every unit of both sides has fully entered: created, remote units joined, unit
 * bags present (empty) and versions at 0. `a` and `b` are `app:endpoint`; a peer relation has only `a`.
 */
export function relate(model: Model, a: string, b?: string): Relation {
  const [appA, endpointA] = a.split(':') as [string, string];
  const ends = [{ app: appA, endpoint: endpointA }];
  if (b !== undefined) {
    const [appB, endpointB] = b.split(':') as [string, string];
    ends.push({ app: appB, endpoint: endpointB });
  }
  const id = model.nextRelationId;
  model.nextRelationId += 1;
  const relation = newRelation(
    id,
    ends,
    model.applications[appA]?.charm.endpoints[endpointA]?.interface ?? endpointA,
    'global',
  );
  model.relations[id] = relation;
  const members = ends.flatMap((end) => unitsOf(model, end.app));
  for (const unit of members) {
    relation.unitBags[unit.name] = {};
    relation.unitBagVersion[unit.name] = 0;
  }
  for (const unit of members) {
    const view = emptyRelationView();
    view.created = true;
    view.joined = members
      .filter((other) => other.name !== unit.name && (relation.peer || other.app !== unit.app))
      .map((other) => other.name);
    unit.relations[id] = view;
  }
  return relation;
}

export function addTask(
  model: Model,
  unitName: string,
  name: string,
  params: Record<string, unknown> = {},
): ActionTask {
  const id = String(model.nextTaskId);
  model.nextTaskId += 1;
  const task: ActionTask = { id, unit: unitName, name, params, status: 'pending', message: '', results: {}, log: [] };
  model.tasks[id] = task;
  return task;
}

/** A hook session on `unitName` with a terse `run(tool, ...args)` for tests. */
export function toolSession(
  model: Model,
  unitName: string,
  event: CharmEvent = { kind: 'hook', name: 'update-status' },
) {
  const session = createHookSession(model, unitName, event);
  return {
    session,
    run: (tool: string, ...args: string[]) => session.runner.run(tool, args),
    runWithStdin: (stdin: string, tool: string, ...args: string[]) => session.runner.run(tool, args, stdin),
  };
}

/** A relation hook event for `unitName` on relation `id`, named from the unit's own endpoint. */
export function relationEvent(
  model: Model,
  unitName: string,
  id: number,
  kind: 'created' | 'joined' | 'changed' | 'departed' | 'broken',
  remoteUnit = '',
): HookEvent {
  const relation = model.relations[id];
  const unit = model.units[unitName];
  if (relation === undefined || unit === undefined) throw new Error('no such relation or unit');
  const endpoint = relation.ends.find((end) => end.app === unit.app)?.endpoint ?? '';
  const remote = relation.peer ? unit.app : (relation.ends.find((end) => end.app !== unit.app)?.app ?? '');
  const event: HookEvent = {
    kind: 'hook',
    name: `${endpoint}-relation-${kind}`,
    relationId: id,
    remoteUnit,
    remoteApp: remote,
  };
  if (kind === 'departed') event.departingUnit = remoteUnit;
  return event;
}

/** Writes an executable `/bin/sh` script `dispatch` (the given lines) into `charmDir`; returns its path. */
export async function writeShellDispatch(charmDir: string, lines: string[]): Promise<string> {
  const dispatch = join(charmDir, 'dispatch');
  await writeFile(dispatch, ['#!/bin/sh', ...lines, ''].join('\n'));
  await chmod(dispatch, 0o755);
  return dispatch;
}
