// The fake Juju's model state: plain data that the hook-tool fake (tools), the single-unit
// context (scenario) and the model simulator (simulator) all read and write. Keeping it plain
// (no classes, no hidden caches) lets tests build and inspect it directly: test code is
// omnipotent, charm code goes through the hook tools and their rules.
import { type InProcessCharm } from '../charm/runner.js';
import type { CharmMeta, ConfigValue } from '../charm-pack/charm-meta.js';

// The charm's declarations are parsed by lib/charm-pack/charm-meta.ts (the packer reads them
// too); the fake's modules keep importing their types from here.
export type {
  ActionMeta,
  CharmMeta,
  ConfigOptionMeta,
  ConfigType,
  ConfigValue,
  EndpointMeta,
  EndpointRole,
  StorageMeta,
} from '../charm-pack/charm-meta.js';

/** A relation or peer databag, leader settings or a unit's state store: strings only. */
export type Bag = Record<string, string>;

/** How the fake runs a charm for one event: a function in this process, or a real `dispatch`. */
export type CharmExecutor =
  | { kind: 'in-process'; run: InProcessCharm }
  | {
      kind: 'process';
      /** absolute path of the executable `dispatch` */
      dispatch: string;
      charmDir: string;
      /** Extra environment for every hook and action, as a machine's own environment would give it. */
      env?: Record<string, string>;
    };

export type StatusName = 'maintenance' | 'blocked' | 'waiting' | 'active' | 'unknown' | 'error' | 'terminated';

export interface StatusValue {
  status: StatusName;
  message: string;
  data: Record<string, unknown>;
  /** ISO timestamp from the model clock. */
  since: string;
}

export interface LogEntry {
  /** The unit that logged (juju-log, action-log, the charm's stdout/stderr). */
  unit: string;
  level: 'TRACE' | 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
  /** `juju-log`, `action-log`, `stdout`, `stderr`, or `juju` for lines the fake itself writes. */
  source: string;
  /** The hook or action the line was written in (`install`, `backup-now`). */
  event: string;
  message: string;
}

export interface Application {
  name: string;
  charm: CharmMeta;
  executor: CharmExecutor;
  /** Bumped by upgrade; shown in status as charm-rev. */
  charmRevision: number;
  /** Values set by the operator (juju config); defaults come from charm.config. */
  config: Record<string, ConfigValue>;
  exposed: boolean;
  /** application-version-set */
  version: string;
  /** status-set --application (leader only); undefined until set. */
  status?: StatusValue;
  /** Next unit number: numbers are never reused. */
  nextUnitNumber: number;
  /** Name of the leader unit, if any unit exists. */
  leader?: string;
  /** leader-set data and its version (bumped on every net change). */
  leaderSettings: Bag;
  leaderSettingsVersion: number;
  life: 'alive' | 'dying' | 'dead';
  /** The base it was deployed with ("ubuntu@24.04"): `--base`, the bundle's, or the charm's first. */
  base?: string;
}

/** What a unit has seen of one relation; the simulator updates it as it delivers hooks. */
export interface UnitRelationView {
  /** relation-created has run on this unit. */
  created: boolean;
  /** Remote units this unit has run `joined` for and not yet `departed` (sorted). */
  joined: string[];
  /** Remote units this unit has run `departed` for (their bags stay readable). */
  departed: string[];
  /** Remote unit -> bag version this unit last got `relation-changed` for. */
  seenUnitVersion: Record<string, number>;
  /** Remote (or, in a peer relation, own) application -> app-bag version last seen. */
  seenAppVersion: Record<string, number>;
  /** relation-broken has run (or is running) on this unit. */
  broken: boolean;
  /**
   * The unit agent restarted since it learnt this relation: Juju does not reload the remote
   * application's name, so relation-broken runs with JUJU_REMOTE_APP='' (docs/charm-runtime.md).
   */
  remoteAppUnknown?: boolean;
}

export interface FailedHook {
  /** Hook name as Juju reports it (`registration-relation-changed`). */
  hook: string;
  /** The exact environment the hook ran with, so `resolve` re-runs it unchanged. */
  env: Record<string, string>;
}

export interface Unit {
  name: string;
  app: string;
  number: number;
  machine: string;
  /** For a subordinate unit: its principal unit's name. */
  principal?: string;
  life: 'alive' | 'dying' | 'dead';
  workloadStatus: StatusValue;
  /** The charm has called status-set at least once (so Juju leaves the status alone). */
  statusSetByCharm: boolean;
  statusHistory: StatusValue[];
  /** state-set / state-get store (committed). */
  state: Bag;
  /** Committed open ports, e.g. "8080/tcp", "1000-2000/udp", "icmp". */
  ports: string[];
  /** Attached storage instance ids ("backups/0"). */
  storage: string[];
  /** Storage ids whose storage-attached hook has run (the simulator fires it for the others). */
  storageAttachedRun: string[];
  relations: Record<number, UnitRelationView>;
  installed: boolean;
  started: boolean;
  /** Set while the unit is in a hook-error state. */
  error?: FailedHook;
  /** leader-settings version this unit last got leader-settings-changed (or leader-elected) for. */
  seenLeaderSettingsVersion: number;
}

export interface RelationEndpoint {
  app: string;
  endpoint: string;
}

export interface Relation {
  id: number;
  /** Two ends for a regular relation; one for a peer relation. */
  ends: RelationEndpoint[];
  interface: string;
  scope: 'global' | 'container';
  peer: boolean;
  life: 'alive' | 'dying' | 'dead';
  /** Committed application bags by application name. */
  appBags: Record<string, Bag>;
  appBagVersion: Record<string, number>;
  /** Committed unit bags by unit name (kept after a unit departs, until the relation is gone). */
  unitBags: Record<string, Bag>;
  unitBagVersion: Record<string, number>;
}

export interface SecretRevision {
  revision: number;
  content: Bag;
}

export interface SecretGrant {
  /** A grant made with `secret-grant -r`: removed with the relation. */
  relationId?: number;
  /** The application granted, or the single unit when `--unit` was given. */
  app: string;
  unit?: string;
}

export interface SecretConsumer {
  /** The revision this unit tracks (set by its first read, moved by --refresh). */
  tracked: number;
  /** The consumer's own label for the secret. */
  label?: string;
  /** The latest revision this unit has had secret-changed for. */
  notifiedRevision: number;
}

export interface Secret {
  /** The 20-character id; the URI is `secret:<id>`. */
  id: string;
  owner: { kind: 'application'; app: string } | { kind: 'unit'; unit: string };
  label?: string;
  description?: string;
  rotate?: string;
  expire?: string;
  revisions: SecretRevision[];
  grants: SecretGrant[];
  consumers: Record<string, SecretConsumer>;
  /** Obsolete revisions the owner has already been sent secret-remove for. */
  removeNotified: number[];
}

export interface StorageInstance {
  /** "<name>/<n>" */
  id: string;
  name: string;
  kind: 'filesystem' | 'block';
  location: string;
  unit: string;
}

export interface Machine {
  id: string;
  address: string;
}

export interface ActionTask {
  /** Decimal task id, as Juju 3 prints it ("7"). */
  id: string;
  unit: string;
  name: string;
  params: Record<string, unknown>;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'aborted' | 'error';
  message: string;
  /** action-set values (nested by dotted keys) plus return-code, stdout, stderr. */
  results: Record<string, unknown>;
  log: string[];
}

export interface Model {
  name: string;
  uuid: string;
  jujuVersion: string;
  /** The model clock; tests may replace it for stable timestamps. */
  now: () => Date;
  /** One model-wide sequence; ids are never reused. */
  nextRelationId: number;
  nextTaskId: number;
  nextMachineId: number;
  nextStorageNumber: Record<string, number>;
  machines: Record<string, Machine>;
  applications: Record<string, Application>;
  units: Record<string, Unit>;
  relations: Record<number, Relation>;
  secrets: Record<string, Secret>;
  storage: Record<string, StorageInstance>;
  tasks: Record<string, ActionTask>;
  logs: LogEntry[];
}

export function emptyModel(name = 'test-model', now: () => Date = () => new Date()): Model {
  return {
    name,
    uuid: '8d1b7a6e-5f2c-4d1e-9a3b-1c2d3e4f5a6b',
    jujuVersion: '3.6.12',
    now,
    nextRelationId: 0,
    nextTaskId: 1,
    nextMachineId: 0,
    nextStorageNumber: {},
    machines: {},
    applications: {},
    units: {},
    relations: {},
    secrets: {},
    storage: {},
    tasks: {},
    logs: [],
  };
}

export function statusValue(model: Model, status: StatusName, message = ''): StatusValue {
  return { status, message, data: {}, since: model.now().toISOString() };
}

/** An alive application with no units, no leader, no operator config and no leader data yet. */
export function newApplication(name: string, charm: CharmMeta, executor: CharmExecutor): Application {
  return {
    name,
    charm,
    executor,
    charmRevision: 1,
    config: {},
    exposed: false,
    version: '',
    nextUnitNumber: 0,
    leaderSettings: {},
    leaderSettingsVersion: 0,
    life: 'alive',
  };
}

export interface UnitPlacement {
  app: string;
  number: number;
  machine: string;
  /** For a subordinate unit: its principal unit's name. */
  principal?: string | undefined;
}

/**
 * An alive unit that is installed and started, status unknown and never set by the charm, in no
 * relation yet. The caller adds it to `model.units` (the simulator resets it to a fresh unit).
 */
export function newUnit(model: Model, placement: UnitPlacement): Unit {
  const { app, number, machine, principal } = placement;
  const unit: Unit = {
    name: `${app}/${number}`,
    app,
    number,
    machine,
    life: 'alive',
    workloadStatus: statusValue(model, 'unknown'),
    statusSetByCharm: false,
    statusHistory: [],
    state: {},
    ports: [],
    storage: [],
    storageAttachedRun: [],
    relations: {},
    installed: true,
    started: true,
    seenLeaderSettingsVersion: 0,
  };
  if (principal !== undefined) unit.principal = principal;
  return unit;
}

/** An alive relation with no databags yet; one end makes it a peer relation. */
export function newRelation(id: number, ends: RelationEndpoint[], iface: string, scope: Relation['scope']): Relation {
  return {
    id,
    ends,
    interface: iface,
    scope,
    peer: ends.length === 1,
    life: 'alive',
    appBags: {},
    appBagVersion: {},
    unitBags: {},
    unitBagVersion: {},
  };
}

export function emptyRelationView(): UnitRelationView {
  return { created: false, joined: [], departed: [], seenUnitVersion: {}, seenAppVersion: {}, broken: false };
}

/** The unit number of "app/7" (7). */
export function unitNumber(unitName: string): number {
  return Number(unitName.slice(unitName.lastIndexOf('/') + 1));
}

/** "app/7" -> "app". */
export function appOf(unitName: string): string {
  return unitName.slice(0, unitName.lastIndexOf('/'));
}

/** Sorts unit names the way Juju does: by application, then by unit number. */
export function compareUnitNames(a: string, b: string): number {
  return appOf(a) === appOf(b) ? unitNumber(a) - unitNumber(b) : appOf(a) < appOf(b) ? -1 : 1;
}

/** The end of `relation` that belongs to `app` (for a peer relation, the only end). */
export function ownEnd(relation: Relation, app: string): RelationEndpoint | undefined {
  return relation.ends.find((end) => end.app === app);
}

/** The other application of a regular relation; for a peer relation, the application itself. */
export function remoteApp(relation: Relation, app: string): string | undefined {
  if (relation.peer) return relation.ends[0]?.app;
  return relation.ends.find((end) => end.app !== app)?.app;
}

/** Effective config of an application: operator values over defaults; unset options absent. */
export function effectiveConfig(app: Application): Record<string, ConfigValue> {
  const values: Record<string, ConfigValue> = {};
  for (const [key, option] of Object.entries(app.charm.config)) {
    const value = app.config[key] ?? option.default;
    if (value !== undefined) values[key] = value;
  }
  return values;
}

/** The newest revision number of a secret's revisions (0 when it has none). */
export function latestRevision(revisions: readonly { revision: number }[]): number {
  return revisions.reduce((max, r) => Math.max(max, r.revision), 0);
}
