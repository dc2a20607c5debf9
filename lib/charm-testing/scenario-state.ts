// What a scenario (scenario.ts) is made of: the unit's state in and out, the event, the output,
// all plain data a test writes by hand.
import {
  type Bag,
  type ConfigValue,
  type LogEntry,
  type SecretGrant,
  type StatusName,
  type StatusValue,
} from './model.js';

export type DeepReadonly<T> = T extends (infer U)[]
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
  /** Remote units that already departed (their bags stay readable: docs/charm-runtime.md, "The fidelity checklist", item 27). */
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

export type Rel = DeepReadonly<RelationState>;
export type Sec = DeepReadonly<SecretState>;

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

/** Freezes `value` and everything in it: a scenario never changes the state it was given. */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as object)) deepFreeze(inner);
  }
  return value as DeepReadonly<T>;
}
