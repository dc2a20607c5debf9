// A single-unit context in the style of ops Scenario: state in, one event, state out. Unlike
// Scenario it runs the charm against the same fake hook tools as the model simulator (so exit
// codes and stderr texts are Juju's), shows commit and rollback (a failed event returns the
// input's relation data, ports, stored state, secrets and storage, but keeps statuses, the
// workload version, leader data and logs), can express an application-level relation-changed
// (empty JUJU_REMOTE_UNIT) and rejects impossible input states before running anything.
import { ActionParamsError, validateActionParams } from './action-params.js';
import { type ActionEvent, type CharmEvent, type HookEvent } from './events.js';
import {
  type Application,
  type Bag,
  type CharmExecutor,
  type CharmMeta,
  type ConfigValue,
  type EndpointMeta,
  type LogEntry,
  type Model,
  type Relation,
  type SecretGrant,
  type StatusName,
  type StatusValue,
  type Unit,
  type UnitRelationView,
  compareUnitNames,
  emptyModel,
  appOf,
  emptyRelationView,
  newApplication,
  newRelation,
  newUnit,
  statusValue,
  unitNumber,
} from './model.js';
import { isConfigValueOfType } from './config-value.js';
import { storageLocation } from './pending.js';
import { type RunEventOptions, runEvent } from './session.js';

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export interface StatusState {
  status: StatusName;
  message?: string;
}

export interface RelationState {
  /** The relation id; when absent the context picks the lowest free id (shown in the output state). */
  id?: number;
  /** This charm's endpoint (a `requires`, `provides` or `peers` endpoint of the meta). */
  endpoint: string;
  /** The other application; for a peer relation it defaults to (and must be) this application. */
  remoteApp?: string;
  /** The remote application's endpoint name (defaults to `endpoint`). */
  remoteEndpoint?: string;
  /** Remote units that have joined (peer relations: the other units of this application) and their bags. */
  remoteUnits?: Record<string, Bag>;
  remoteAppData?: Bag;
  /** This unit's bag; the three address keys Juju writes are added unless given. */
  localUnitData?: Bag;
  localAppData?: Bag;
  /** Remote units that already departed (their bags stay readable, spec fidelity 27). */
  departed?: Record<string, Bag>;
}

export type SecretOwner = 'application' | 'unit' | { app: string };

export interface SecretState {
  /** 20 characters of [0-9a-v]; generated when absent. */
  id?: string;
  /** This application or unit, or another application (this unit is then a consumer). */
  owner: SecretOwner;
  /** Revisions with their content, oldest first; the last one is the latest. */
  revisions: { revision: number; content: Bag }[];
  label?: string;
  description?: string;
  rotate?: string;
  expire?: string;
  /** Grants; a secret owned by another application defaults to one grant to this application. */
  grants?: SecretGrant[];
  /** The revision this unit tracks as a consumer (unset: it has not read the secret yet). */
  tracked?: number;
  /** This unit's own label for a secret it consumes. */
  consumerLabel?: string;
}

export interface StorageState {
  name: string;
  /** The instance number: "<name>/<index>"; when absent the lowest free one. */
  index?: number;
}

export interface State {
  leader?: boolean;
  /** Operator-set config values (defaults come from the meta). */
  config?: Record<string, ConfigValue>;
  relations?: RelationState[];
  secrets?: SecretState[];
  storages?: StorageState[];
  /** Committed open ports: "8080/tcp", "1000-2000/udp", "icmp". */
  ports?: string[];
  unitStatus?: StatusState;
  appStatus?: StatusState;
  workloadVersion?: string;
  /** The unit's state-get / state-set store. */
  stored?: Bag;
  /** leader-get / leader-set data. */
  leaderData?: Bag;
  model?: { name?: string; uuid?: string };
}

/** Thrown before running anything when the input state and event cannot happen in Juju. */
export class InconsistentScenarioError extends Error {
  override name = 'InconsistentScenarioError';
  constructor(readonly problems: readonly string[]) {
    super(`inconsistent scenario:\n- ${problems.join('\n- ')}`);
  }
}

type RelationHookKind = 'created' | 'joined' | 'changed' | 'departed' | 'broken';

export type ScenarioEvent =
  | { kind: 'hook'; name: string }
  | {
      kind: 'relation';
      hook: RelationHookKind;
      relation: DeepReadonly<RelationState>;
      remoteUnit?: string;
      departingUnit?: string;
      /** relation-broken after a unit agent restart: JUJU_REMOTE_APP is exported empty. */
      remoteAppUnknown?: boolean;
    }
  | { kind: 'storage'; hook: 'attached' | 'detaching'; storage: DeepReadonly<StorageState> }
  | {
      kind: 'secret';
      hook: 'changed' | 'remove' | 'expired' | 'rotate';
      secret: DeepReadonly<SecretState>;
      revision?: number;
    }
  | { kind: 'action'; name: string; params: Record<string, unknown> };

type Rel = DeepReadonly<RelationState>;
type Sec = DeepReadonly<SecretState>;

/** Event builders (`events.relationChanged(rel)` is the application-level changed). */
export const events = {
  install: (): ScenarioEvent => ({ kind: 'hook', name: 'install' }),
  start: (): ScenarioEvent => ({ kind: 'hook', name: 'start' }),
  stop: (): ScenarioEvent => ({ kind: 'hook', name: 'stop' }),
  remove: (): ScenarioEvent => ({ kind: 'hook', name: 'remove' }),
  configChanged: (): ScenarioEvent => ({ kind: 'hook', name: 'config-changed' }),
  upgradeCharm: (): ScenarioEvent => ({ kind: 'hook', name: 'upgrade-charm' }),
  updateStatus: (): ScenarioEvent => ({ kind: 'hook', name: 'update-status' }),
  leaderElected: (): ScenarioEvent => ({ kind: 'hook', name: 'leader-elected' }),
  leaderSettingsChanged: (): ScenarioEvent => ({ kind: 'hook', name: 'leader-settings-changed' }),
  relationCreated: (relation: Rel): ScenarioEvent => ({ kind: 'relation', hook: 'created', relation }),
  relationJoined: (relation: Rel, remoteUnit: string): ScenarioEvent => ({
    kind: 'relation',
    hook: 'joined',
    relation,
    remoteUnit,
  }),
  /** Without `remoteUnit`: the application-level changed (JUJU_REMOTE_UNIT=''). */
  relationChanged: (relation: Rel, remoteUnit?: string): ScenarioEvent => ({
    kind: 'relation',
    hook: 'changed',
    relation,
    ...(remoteUnit === undefined ? {} : { remoteUnit }),
  }),
  /** `departingUnit` defaults to `remoteUnit`; pass the local unit when it is the one leaving. */
  relationDeparted: (relation: Rel, remoteUnit: string, options: { departingUnit?: string } = {}): ScenarioEvent => ({
    kind: 'relation',
    hook: 'departed',
    relation,
    remoteUnit,
    ...(options.departingUnit === undefined ? {} : { departingUnit: options.departingUnit }),
  }),
  /**
   * `afterAgentRestart`: the unit agent restarted since it joined the relation, so Juju exports
   * JUJU_REMOTE_APP empty (it does not reload the remote application's name).
   */
  relationBroken: (relation: Rel, options: { afterAgentRestart?: boolean } = {}): ScenarioEvent => ({
    kind: 'relation',
    hook: 'broken',
    relation,
    ...(options.afterAgentRestart === true ? { remoteAppUnknown: true } : {}),
  }),
  storageAttached: (storage: DeepReadonly<StorageState>): ScenarioEvent => ({
    kind: 'storage',
    hook: 'attached',
    storage,
  }),
  storageDetaching: (storage: DeepReadonly<StorageState>): ScenarioEvent => ({
    kind: 'storage',
    hook: 'detaching',
    storage,
  }),
  secretChanged: (secret: Sec): ScenarioEvent => ({ kind: 'secret', hook: 'changed', secret }),
  secretRemove: (secret: Sec, revision: number): ScenarioEvent => ({
    kind: 'secret',
    hook: 'remove',
    secret,
    revision,
  }),
  secretExpired: (secret: Sec, revision: number): ScenarioEvent => ({
    kind: 'secret',
    hook: 'expired',
    secret,
    revision,
  }),
  secretRotate: (secret: Sec): ScenarioEvent => ({ kind: 'secret', hook: 'rotate', secret }),
  action: (name: string, params: Record<string, unknown> = {}): ScenarioEvent => ({ kind: 'action', name, params }),
};

export interface Output {
  /** The state after the event (a new, deeply frozen object). */
  state: DeepReadonly<State>;
  exitCode: number;
  /** The charm exited non-zero (or the action failed): pending changes were rolled back. */
  failed: boolean;
  /** Log lines written during the event (juju-log, action-log, the charm's stdout/stderr). */
  logs: LogEntry[];
  /** Unit statuses set during the event, in order. */
  statusHistory: StatusValue[];
  /** The environment the charm ran with. */
  env: Record<string, string>;
  stdout: string;
  stderr: string;
  /** Actions: the task's results (action-set keys plus return-code, stdout, stderr). */
  actionResults?: Record<string, unknown>;
  actionStatus?: string;
  actionMessage?: string;
  actionLogs?: string[];
}

export interface ContextOptions {
  meta: CharmMeta;
  executor: CharmExecutor;
  /** Application name (default: the charm name). */
  app?: string;
  unitId?: number;
  jujuVersion?: string;
  /** The model clock (statuses' `since`). */
  now?: () => Date;
  /** Needed for a `process` executor: the server the real hook-tool executables talk to. */
  toolServer?: RunEventOptions['toolServer'];
}

// ---------------------------------------------------------------------------------------------

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as object)) deepFreeze(inner);
  }
  return value as DeepReadonly<T>;
}

const peerOf = (meta: EndpointMeta): boolean => meta.role === 'peers';

function addressBag(address: string): Bag {
  return { 'private-address': address, 'ingress-address': address, 'egress-subnets': `${address}/32` };
}

const SECRET_ID = /^[0-9a-v]{20}$/;

function generatedSecretId(index: number): string {
  return `cs${String(index).padStart(18, '0')}`;
}

/** The input after defaults: ids resolved, peer relations added. Shared by the checker and the builder. */
interface Resolved {
  relations: (Rel & { id: number; remoteApp: string })[];
  secrets: (Sec & { id: string })[];
  storages: { name: string; index: number }[];
}

export class Context {
  readonly meta: CharmMeta;
  readonly appName: string;
  readonly unitName: string;
  private readonly executor: CharmExecutor;
  private readonly jujuVersion: string | undefined;
  private readonly now: (() => Date) | undefined;
  private readonly toolServer: RunEventOptions['toolServer'];

  constructor(options: ContextOptions) {
    this.meta = options.meta;
    this.executor = options.executor;
    this.appName = options.app ?? options.meta.name;
    this.unitName = `${this.appName}/${options.unitId ?? 0}`;
    this.jujuVersion = options.jujuVersion;
    this.now = options.now;
    this.toolServer = options.toolServer;
  }

  /** Runs one event on the unit described by `state`; `state` is frozen and never changed. */
  async run(event: ScenarioEvent, state: State | DeepReadonly<State>): Promise<Output> {
    const input = deepFreeze(state as State);
    const resolved = this.resolve(input);
    this.check(event, input, resolved);
    const model = this.buildModel(input, resolved, event);
    const charmEvent = this.charmEvent(model, event, input, resolved);
    const unit = model.units[this.unitName] as Unit;
    const logsBefore = model.logs.length;
    const historyBefore = unit.statusHistory.length;
    const outcome = await runEvent(
      model,
      this.unitName,
      charmEvent,
      this.toolServer === undefined ? {} : { toolServer: this.toolServer },
    );
    const task = charmEvent.kind === 'action' ? model.tasks[charmEvent.taskId] : undefined;
    const failed = !outcome.committed || (task !== undefined && task.status !== 'completed');
    const output: Output = {
      state: deepFreeze(this.readState(model, input, resolved)),
      exitCode: outcome.exitCode,
      failed,
      logs: model.logs.slice(logsBefore),
      statusHistory: unit.statusHistory.slice(historyBefore),
      env: outcome.env,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
    };
    if (task !== undefined) {
      output.actionResults = task.results;
      output.actionStatus = task.status;
      output.actionMessage = task.message;
      output.actionLogs = task.log;
    }
    return output;
  }

  // -- input resolution and consistency ---------------------------------------------------------

  private resolve(state: DeepReadonly<State>): Resolved {
    const given = state.relations ?? [];
    const taken = new Set(given.flatMap((relation) => (relation.id === undefined ? [] : [relation.id])));
    let next = 0;
    const freeId = (): number => {
      while (taken.has(next)) next += 1;
      taken.add(next);
      return next;
    };
    const relations: Resolved['relations'] = given.map((relation) => ({
      ...relation,
      id: relation.id ?? freeId(),
      remoteApp: relation.remoteApp ?? (this.isPeerEndpoint(relation.endpoint) ? this.appName : ''),
    }));
    // Juju creates peer relations with the application; the state may leave them out.
    for (const [endpoint, meta] of Object.entries(this.meta.endpoints)) {
      if (peerOf(meta) && !given.some((relation) => relation.endpoint === endpoint)) {
        relations.push({ endpoint, id: freeId(), remoteApp: this.appName });
      }
    }
    const secrets = (state.secrets ?? []).map((secret, index) => ({
      ...secret,
      id: secret.id ?? generatedSecretId(index),
    }));
    const usedIndexes: Record<string, Set<number>> = {};
    for (const storage of state.storages ?? []) {
      if (storage.index !== undefined) (usedIndexes[storage.name] ??= new Set()).add(storage.index);
    }
    const storages = (state.storages ?? []).map((storage) => {
      if (storage.index !== undefined) return { name: storage.name, index: storage.index };
      const used = (usedIndexes[storage.name] ??= new Set());
      let index = 0;
      while (used.has(index)) index += 1;
      used.add(index);
      return { name: storage.name, index };
    });
    return { relations, secrets, storages };
  }

  private isPeerEndpoint(endpoint: string): boolean {
    const meta = this.meta.endpoints[endpoint];
    return meta !== undefined && peerOf(meta);
  }

  /** The resolved relation an event names: the same object, else the same id, else the only one on its endpoint. */
  private findRelation(
    resolved: Resolved,
    state: DeepReadonly<State>,
    relation: Rel,
  ): Resolved['relations'][number] | undefined {
    const index = (state.relations ?? []).indexOf(relation);
    if (index >= 0) return resolved.relations[index];
    if (relation.id !== undefined) return resolved.relations.find((candidate) => candidate.id === relation.id);
    const onEndpoint = resolved.relations.filter((candidate) => candidate.endpoint === relation.endpoint);
    return onEndpoint.length === 1 ? onEndpoint[0] : undefined;
  }

  private findSecret(
    resolved: Resolved,
    state: DeepReadonly<State>,
    secret: Sec,
  ): Resolved['secrets'][number] | undefined {
    const index = (state.secrets ?? []).indexOf(secret);
    if (index >= 0) return resolved.secrets[index];
    return secret.id === undefined ? undefined : resolved.secrets.find((candidate) => candidate.id === secret.id);
  }

  private findStorage(
    resolved: Resolved,
    state: DeepReadonly<State>,
    storage: DeepReadonly<StorageState>,
  ): { name: string; index: number } | undefined {
    const index = (state.storages ?? []).indexOf(storage);
    if (index >= 0) return resolved.storages[index];
    return resolved.storages.find(
      (candidate) =>
        candidate.name === storage.name && (storage.index === undefined || candidate.index === storage.index),
    );
  }

  private check(event: ScenarioEvent, state: DeepReadonly<State>, resolved: Resolved): void {
    const problems: string[] = [];
    const leader = state.leader === true;

    for (const [key, value] of Object.entries(state.config ?? {})) {
      const option = this.meta.config[key];
      if (option === undefined) problems.push(`config option "${key}" is not declared in the charm's config`);
      else if (!isConfigValueOfType(option.type, value)) {
        problems.push(`config option "${key}" is of type ${option.type}, got ${JSON.stringify(value)}`);
      }
    }
    if (!leader && state.appStatus !== undefined)
      problems.push('appStatus is set but the unit is not the leader (only the leader can set or see it)');
    for (const status of [state.unitStatus, state.appStatus]) {
      if (
        status !== undefined &&
        !['maintenance', 'blocked', 'waiting', 'active', 'unknown', 'error'].includes(status.status)
      ) {
        problems.push(`status "${status.status}" cannot be a workload status`);
      }
    }

    const seenIds = new Set<number>();
    for (const relation of resolved.relations) {
      const where = `relation ${relation.endpoint}:${relation.id}`;
      if (seenIds.has(relation.id)) problems.push(`${where}: relation id ${relation.id} is used twice`);
      seenIds.add(relation.id);
      const meta = this.meta.endpoints[relation.endpoint];
      if (meta === undefined) {
        problems.push(`${where}: endpoint "${relation.endpoint}" is not declared in the charm's metadata`);
        continue;
      }
      const peer = peerOf(meta);
      if (peer && relation.remoteApp !== this.appName)
        problems.push(`${where}: a peer relation's remote application is the application itself ("${this.appName}")`);
      if (!peer && relation.remoteApp === '') problems.push(`${where}: remoteApp is required for a non-peer relation`);
      if (!peer && relation.remoteApp === this.appName)
        problems.push(`${where}: a non-peer relation cannot relate the application to itself`);
      if (!peer && meta.role === 'requires' && meta.limit !== undefined) {
        const count = resolved.relations.filter((other) => other.endpoint === relation.endpoint).length;
        if (count > meta.limit)
          problems.push(
            `${where}: endpoint "${relation.endpoint}" allows ${meta.limit} relation(s), the state has ${count}`,
          );
      }
      const remoteNames = [...Object.keys(relation.remoteUnits ?? {}), ...Object.keys(relation.departed ?? {})];
      for (const name of remoteNames) {
        if (!/^[a-z][a-z0-9-]*\/\d+$/.test(name) || name.slice(0, name.lastIndexOf('/')) !== relation.remoteApp) {
          problems.push(`${where}: remote unit "${name}" is not a unit of "${relation.remoteApp}"`);
        } else if (name === this.unitName) {
          problems.push(`${where}: the local unit ${this.unitName} cannot be its own remote unit`);
        }
      }
      for (const name of Object.keys(relation.departed ?? {})) {
        if (relation.remoteUnits?.[name] !== undefined)
          problems.push(`${where}: unit "${name}" is both joined and departed`);
      }
      if (peer && relation.remoteAppData !== undefined)
        problems.push(`${where}: a peer relation has one application bag: use localAppData`);
      if (!leader && !peer && relation.localAppData !== undefined && Object.keys(relation.localAppData).length > 0) {
        // Not impossible in Juju, but the charm could neither read nor write it: almost certainly a test mistake.
        problems.push(
          `${where}: localAppData is set but the unit is not the leader (a non-leader cannot read its application bag)`,
        );
      }
    }

    const storageIds = new Set<string>();
    for (const storage of resolved.storages) {
      const meta = this.meta.storage[storage.name];
      if (meta === undefined) problems.push(`storage "${storage.name}" is not declared in the charm's metadata`);
      const id = `${storage.name}/${storage.index}`;
      if (storageIds.has(id)) problems.push(`storage ${id} is listed twice`);
      storageIds.add(id);
      const count = resolved.storages.filter((other) => other.name === storage.name).length;
      if (meta?.range.max !== null && meta !== undefined && count > meta.range.max) {
        problems.push(`storage "${storage.name}" allows at most ${meta.range.max} instance(s), the state has ${count}`);
      }
    }

    for (const secret of resolved.secrets) {
      if (!SECRET_ID.test(secret.id)) problems.push(`secret id "${secret.id}" is not 20 characters of [0-9a-v]`);
      if (secret.revisions.length === 0) problems.push(`secret ${secret.id} has no revisions`);
      const ownedByApp = secret.owner === 'application';
      if (typeof secret.owner === 'object' && secret.owner.app === this.appName) {
        problems.push(`secret ${secret.id}: use owner "application" for a secret this application owns`);
      }
      if (secret.tracked !== undefined && !secret.revisions.some((revision) => revision.revision === secret.tracked)) {
        problems.push(`secret ${secret.id}: tracked revision ${secret.tracked} does not exist`);
      }
      if (ownedByApp && secret.consumerLabel !== undefined)
        problems.push(`secret ${secret.id}: consumerLabel is for secrets owned by another application`);
    }

    for (const port of state.ports ?? []) {
      if (!/^(\d+(-\d+)?\/(tcp|udp)|icmp)$/.test(port))
        problems.push(`port "${port}" is not <port>/<protocol>, <from>-<to>/<protocol> or icmp`);
    }

    this.checkEvent(event, state, resolved, leader, problems);
    if (problems.length > 0) throw new InconsistentScenarioError(problems);
  }

  private checkEvent(
    event: ScenarioEvent,
    state: DeepReadonly<State>,
    resolved: Resolved,
    leader: boolean,
    problems: string[],
  ): void {
    switch (event.kind) {
      case 'hook':
        if (event.name === 'leader-elected' && !leader)
          problems.push('leader-elected runs only on the leader: set leader: true');
        if (event.name === 'leader-settings-changed' && leader)
          problems.push('leader-settings-changed runs only on non-leaders: set leader: false');
        return;
      case 'relation': {
        const relation = this.findRelation(resolved, state, event.relation);
        if (relation === undefined) {
          problems.push(
            `relation-${event.hook} for a relation on "${event.relation.endpoint}" that is not in the state`,
          );
          return;
        }
        if (event.hook === 'joined' || event.hook === 'departed') {
          if (event.remoteUnit === undefined || event.remoteUnit === '')
            problems.push(`relation-${event.hook} needs a remote unit`);
        }
        if (event.remoteUnit !== undefined && event.remoteUnit !== '') {
          if (relation.remoteUnits?.[event.remoteUnit] === undefined) {
            problems.push(
              `relation-${event.hook}: remote unit "${event.remoteUnit}" is not among the relation's remoteUnits`,
            );
          }
        }
        if (event.hook === 'created' || event.hook === 'broken') {
          if (event.remoteUnit !== undefined) problems.push(`relation-${event.hook} has no remote unit`);
        }
        if (event.remoteAppUnknown === true && event.hook !== 'broken')
          problems.push(`relation-${event.hook} always names the remote application; only relation-broken may not`);
        if (
          event.departingUnit !== undefined &&
          event.departingUnit !== this.unitName &&
          event.departingUnit !== event.remoteUnit
        ) {
          problems.push(
            `relation-departed: the departing unit is the remote unit or the local unit, not "${event.departingUnit}"`,
          );
        }
        if (
          event.hook === 'changed' &&
          event.remoteUnit === undefined &&
          relation.remoteApp === this.appName &&
          !this.isPeerEndpoint(relation.endpoint)
        ) {
          problems.push('application-level relation-changed needs a remote application');
        }
        return;
      }
      case 'storage': {
        const storage = this.findStorage(resolved, state, event.storage);
        if (storage === undefined)
          problems.push(`storage-${event.hook} for storage "${event.storage.name}" that is not in the state`);
        return;
      }
      case 'secret': {
        const secret = this.findSecret(resolved, state, event.secret);
        if (secret === undefined) {
          problems.push(`secret-${event.hook} for a secret that is not in the state`);
          return;
        }
        const owned = secret.owner === 'application' || secret.owner === 'unit';
        // A non-leader of the owning application reads (and tracks) it like a consumer.
        const manages = secret.owner === 'unit' || (secret.owner === 'application' && leader);
        if (event.hook === 'changed' && manages)
          problems.push('secret-changed goes to consumers, but this unit owns the secret');
        if (event.hook !== 'changed' && !owned)
          problems.push(`secret-${event.hook} goes to the owner, but the secret belongs to another application`);
        if (event.hook !== 'changed' && secret.owner === 'application' && !leader) {
          problems.push(`secret-${event.hook} of an application-owned secret goes to the leader: set leader: true`);
        }
        if (
          (event.hook === 'remove' || event.hook === 'expired') &&
          !secret.revisions.some((revision) => revision.revision === event.revision)
        ) {
          problems.push(`secret-${event.hook}: revision ${String(event.revision)} is not a revision of the secret`);
        }
        if (event.hook === 'changed' && secret.tracked === undefined)
          problems.push('secret-changed goes to units tracking the secret: set tracked');
        return;
      }
      case 'action': {
        const action = this.meta.actions[event.name];
        if (action === undefined) {
          problems.push(`action "${event.name}" is not declared in the charm's actions`);
          return;
        }
        try {
          validateActionParams(event.name, action, event.params);
        } catch (error) {
          if (!(error instanceof ActionParamsError)) throw error;
          problems.push(`action "${event.name}": ${error.message}`);
        }
        return;
      }
    }
  }

  // -- building the model --------------------------------------------------------------------

  private buildModel(state: DeepReadonly<State>, resolved: Resolved, event: ScenarioEvent): Model {
    const model = emptyModel(state.model?.name ?? 'test-model', this.now);
    if (state.model?.uuid !== undefined) model.uuid = state.model.uuid;
    if (this.jujuVersion !== undefined) model.jujuVersion = this.jujuVersion;

    const addMachine = (): string => {
      const id = String(model.nextMachineId);
      model.nextMachineId += 1;
      model.machines[id] = { id, address: `10.1.0.${Number(id) + 10}` };
      return id;
    };
    const unitOn = (name: string, machine: string): Unit =>
      newUnit(model, { app: appOf(name), number: unitNumber(name), machine });
    const addressOf = (unit: Unit): string => model.machines[unit.machine]?.address ?? '';

    // The local application and unit.
    const leaderData = { ...(state.leaderData ?? {}) };
    const app = newApplication(this.appName, this.meta, this.executor);
    app.config = { ...(state.config ?? {}) };
    app.version = state.workloadVersion ?? '';
    app.nextUnitNumber = unitNumber(this.unitName) + 1;
    app.leaderSettings = leaderData;
    app.leaderSettingsVersion = Object.keys(leaderData).length > 0 ? 1 : 0;
    if (state.appStatus !== undefined)
      app.status = statusValue(model, state.appStatus.status, state.appStatus.message ?? '');
    model.applications[app.name] = app;
    const unit = unitOn(this.unitName, addMachine());
    unit.state = { ...(state.stored ?? {}) };
    unit.ports = [...(state.ports ?? [])];
    unit.seenLeaderSettingsVersion = app.leaderSettingsVersion;
    if (state.unitStatus !== undefined) {
      unit.workloadStatus = statusValue(model, state.unitStatus.status, state.unitStatus.message ?? '');
      unit.statusSetByCharm = true;
    }
    if (event.kind === 'hook' && event.name === 'install') {
      unit.installed = false;
      unit.started = false;
    }
    if (event.kind === 'hook' && event.name === 'start') unit.started = false;
    model.units[unit.name] = unit;

    // Remote applications and units, each unit on its own machine.
    const ensureRemoteUnit = (name: string): Unit => {
      const existing = model.units[name];
      if (existing !== undefined) return existing;
      const remote = unitOn(name, addMachine());
      model.units[name] = remote;
      const owner = model.applications[remote.app];
      if (owner !== undefined) owner.nextUnitNumber = Math.max(owner.nextUnitNumber, remote.number + 1);
      return remote;
    };
    for (const relation of resolved.relations) {
      if (relation.remoteApp === this.appName || model.applications[relation.remoteApp] !== undefined) continue;
      model.applications[relation.remoteApp] = newApplication(
        relation.remoteApp,
        { name: relation.remoteApp, subordinate: false, endpoints: {}, storage: {}, config: {}, actions: {} },
        { kind: 'in-process', run: () => Promise.resolve(0) },
      );
    }

    // Relations, with this unit's view as if every remote unit had joined.
    for (const given of resolved.relations) {
      const meta = this.meta.endpoints[given.endpoint] as EndpointMeta;
      const peer = peerOf(meta);
      const remoteEndpoint = given.remoteEndpoint ?? given.endpoint;
      const remoteApp = model.applications[given.remoteApp];
      if (!peer && remoteApp !== undefined) {
        const role = meta.role === 'requires' ? 'provides' : 'requires';
        remoteApp.charm.endpoints[remoteEndpoint] = { role, interface: meta.interface, scope: meta.scope };
      }
      const relation = newRelation(
        given.id,
        peer
          ? [{ app: app.name, endpoint: given.endpoint }]
          : [
              { app: app.name, endpoint: given.endpoint },
              { app: given.remoteApp, endpoint: remoteEndpoint },
            ],
        meta.interface,
        meta.scope,
      );
      const setAppBag = (name: string, bag: DeepReadonly<Bag> | undefined): void => {
        if (bag === undefined) return;
        relation.appBags[name] = { ...bag };
        relation.appBagVersion[name] = 1;
      };
      setAppBag(app.name, given.localAppData);
      if (!peer) setAppBag(given.remoteApp, given.remoteAppData);
      relation.unitBags[unit.name] = { ...addressBag(addressOf(unit)), ...(given.localUnitData ?? {}) };
      relation.unitBagVersion[unit.name] = 1;
      const view: UnitRelationView = { ...emptyRelationView(), created: true };
      for (const [name, bag] of Object.entries(given.remoteUnits ?? {})) {
        const remote = ensureRemoteUnit(name);
        relation.unitBags[name] = { ...addressBag(addressOf(remote)), ...bag };
        relation.unitBagVersion[name] = 1;
        view.joined.push(name);
        view.seenUnitVersion[name] = 1;
      }
      for (const [name, bag] of Object.entries(given.departed ?? {})) {
        const remote = ensureRemoteUnit(name);
        relation.unitBags[name] = { ...addressBag(addressOf(remote)), ...bag };
        relation.unitBagVersion[name] = 1;
        view.departed.push(name);
      }
      view.joined.sort(compareUnitNames);
      view.departed.sort(compareUnitNames);
      for (const [name, version] of Object.entries(relation.appBagVersion)) view.seenAppVersion[name] = version;
      model.relations[relation.id] = relation;
      unit.relations[relation.id] = view;
      model.nextRelationId = Math.max(model.nextRelationId, relation.id + 1);
    }

    // Leadership: this unit, or (when not the leader) a peer unit if one exists.
    if (state.leader === true) app.leader = unit.name;
    else {
      const others = Object.values(model.units)
        .filter((other) => other.app === app.name && other.name !== unit.name)
        .map((other) => other.name)
        .sort(compareUnitNames);
      if (others[0] !== undefined) app.leader = others[0];
    }

    // Storage attached to this unit.
    for (const storage of resolved.storages) {
      const id = `${storage.name}/${storage.index}`;
      const kind = this.meta.storage[storage.name]?.type ?? 'filesystem';
      model.storage[id] = {
        id,
        name: storage.name,
        kind,
        location: storageLocation(model, unit, storage.name, id),
        unit: unit.name,
      };
      unit.storage.push(id);
      unit.storageAttachedRun.push(id);
      model.nextStorageNumber[storage.name] = Math.max(model.nextStorageNumber[storage.name] ?? 0, storage.index + 1);
    }
    if (event.kind === 'storage' && event.hook === 'attached') {
      const storage = this.findStorage(resolved, state, event.storage);
      if (storage !== undefined)
        unit.storageAttachedRun = unit.storageAttachedRun.filter((id) => id !== `${storage.name}/${storage.index}`);
    }

    // Secrets.
    for (const secret of resolved.secrets) {
      const owner =
        secret.owner === 'application'
          ? { kind: 'application' as const, app: app.name }
          : secret.owner === 'unit'
            ? { kind: 'unit' as const, unit: unit.name }
            : { kind: 'application' as const, app: secret.owner.app };
      const remoteOwned = typeof secret.owner === 'object';
      const latest = secret.revisions[secret.revisions.length - 1]?.revision ?? 0;
      const grants: SecretGrant[] =
        secret.grants !== undefined
          ? secret.grants.map((grant) => ({ ...grant }))
          : remoteOwned
            ? [{ app: app.name }]
            : [];
      model.secrets[secret.id] = {
        id: secret.id,
        owner,
        ...(secret.label === undefined ? {} : { label: secret.label }),
        ...(secret.description === undefined ? {} : { description: secret.description }),
        ...(secret.rotate === undefined ? {} : { rotate: secret.rotate }),
        ...(secret.expire === undefined ? {} : { expire: secret.expire }),
        revisions: secret.revisions.map((revision) => ({
          revision: revision.revision,
          content: { ...revision.content },
        })),
        grants,
        consumers:
          secret.tracked === undefined
            ? {}
            : {
                [unit.name]: {
                  tracked: secret.tracked,
                  // A tracker behind the latest revision has had (or is having) its secret-changed.
                  notifiedRevision: latest,
                  ...(secret.consumerLabel === undefined ? {} : { label: secret.consumerLabel }),
                },
              },
        removeNotified: [],
      };
    }
    return model;
  }

  private charmEvent(model: Model, event: ScenarioEvent, state: DeepReadonly<State>, resolved: Resolved): CharmEvent {
    switch (event.kind) {
      case 'hook':
        return { kind: 'hook', name: event.name };
      case 'relation': {
        const given = this.findRelation(resolved, state, event.relation) as Resolved['relations'][number];
        const relation = model.relations[given.id] as Relation;
        const view = (model.units[this.unitName] as Unit).relations[given.id] as UnitRelationView;
        if (event.hook === 'created') view.created = false;
        if (event.hook === 'broken') {
          view.broken = true;
          relation.life = 'dying';
        }
        if (event.hook === 'departed' && event.departingUnit === this.unitName)
          (model.units[this.unitName] as Unit).life = 'dying';
        const hook: HookEvent = {
          kind: 'hook',
          name: `${given.endpoint}-relation-${event.hook}`,
          relationId: given.id,
          remoteApp: event.remoteAppUnknown === true ? '' : given.remoteApp,
          remoteUnit: event.remoteUnit ?? '',
        };
        if (event.hook === 'departed') hook.departingUnit = event.departingUnit ?? event.remoteUnit ?? '';
        return hook;
      }
      case 'storage': {
        const storage = this.findStorage(resolved, state, event.storage) as { name: string; index: number };
        return {
          kind: 'hook',
          name: `${storage.name}-storage-${event.hook}`,
          storageId: `${storage.name}/${storage.index}`,
        };
      }
      case 'secret': {
        const secret = this.findSecret(resolved, state, event.secret) as Resolved['secrets'][number];
        const hook: HookEvent = { kind: 'hook', name: `secret-${event.hook}`, secretId: `secret:${secret.id}` };
        if (event.revision !== undefined) hook.secretRevision = event.revision;
        return hook;
      }
      case 'action': {
        const action = this.meta.actions[event.name];
        const params =
          action === undefined ? { ...event.params } : validateActionParams(event.name, action, event.params);
        const taskId = String(model.nextTaskId);
        model.nextTaskId += 1;
        model.tasks[taskId] = {
          id: taskId,
          unit: this.unitName,
          name: event.name,
          params,
          status: 'pending',
          message: '',
          results: {},
          log: [],
        };
        const actionEvent: ActionEvent = { kind: 'action', name: event.name, taskId };
        return actionEvent;
      }
    }
  }

  // -- reading the output state ----------------------------------------------------------------

  private readState(model: Model, state: DeepReadonly<State>, resolved: Resolved): State {
    const unit = model.units[this.unitName] as Unit;
    const app = model.applications[this.appName] as Application;
    const out: State = structuredClone(state as State);
    out.leader = app.leader === unit.name;
    out.stored = { ...unit.state };
    out.ports = [...unit.ports];
    out.unitStatus = { status: unit.workloadStatus.status, message: unit.workloadStatus.message };
    if (app.status !== undefined) out.appStatus = { status: app.status.status, message: app.status.message };
    if (app.version !== '' || state.workloadVersion !== undefined) out.workloadVersion = app.version;
    if (Object.keys(app.leaderSettings).length > 0 || state.leaderData !== undefined)
      out.leaderData = { ...app.leaderSettings };
    out.relations = resolved.relations.map((given) => {
      const relation = model.relations[given.id];
      const result: RelationState = structuredClone(given as RelationState);
      if (relation === undefined) return result;
      result.localUnitData = { ...(relation.unitBags[unit.name] ?? {}) };
      const localApp = relation.appBags[app.name];
      if (localApp !== undefined) result.localAppData = { ...localApp };
      const remoteApp = relation.peer ? undefined : relation.appBags[given.remoteApp];
      if (remoteApp !== undefined) result.remoteAppData = { ...remoteApp };
      if (given.remoteUnits !== undefined) {
        result.remoteUnits = Object.fromEntries(
          Object.keys(given.remoteUnits ?? {}).map((name) => [name, { ...(relation.unitBags[name] ?? {}) }]),
        );
      }
      return result;
    });
    out.storages = unit.storage.map((id) => ({ name: id.slice(0, id.lastIndexOf('/')), index: unitNumber(id) }));
    out.secrets = Object.values(model.secrets)
      .filter((secret) => secret.owner.kind === 'application' || secret.owner.unit === unit.name)
      .map((secret) => {
        const owner: SecretOwner =
          secret.owner.kind === 'unit'
            ? 'unit'
            : secret.owner.app === app.name
              ? 'application'
              : { app: secret.owner.app };
        const consumer = secret.consumers[unit.name];
        const result: SecretState = {
          id: secret.id,
          owner,
          revisions: secret.revisions.map((revision) => ({
            revision: revision.revision,
            content: { ...revision.content },
          })),
          grants: secret.grants.map((grant) => ({ ...grant })),
        };
        if (secret.label !== undefined) result.label = secret.label;
        if (secret.description !== undefined) result.description = secret.description;
        if (secret.rotate !== undefined) result.rotate = secret.rotate;
        if (secret.expire !== undefined) result.expire = secret.expire;
        if (consumer !== undefined) {
          result.tracked = consumer.tracked;
          if (consumer.label !== undefined) result.consumerLabel = consumer.label;
        }
        return result;
      });
    return out;
  }
}
