// The multi-unit model simulator (spec 8.3): operator operations (deploy, integrate, add/remove
// unit, remove relation, config, leader change, upgrade, run action, update-status, a unit agent
// restart) change the model and queue work; `settle()` then runs events until every unit is idle,
// choosing each unit's next event with the spec 2.3 scheduler, holding one lock per machine (2.6)
// and interleaving machines by a seeded PRNG so a run is reproducible.
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { seededRandom } from '../common/seeded-random.js';
import { parseCliParams, validateActionParams } from './action-params.js';
import { baseName, parseBaseName, sameBase, shareABase } from '../charm-pack/bases.js';
import { type Bundle, checkBundleSubordinates, parseBundle } from './bundle.js';
import { type CharmEvent } from './events.js';
import {
  type ActionTask,
  type Application,
  type CharmExecutor,
  type CharmMeta,
  type ConfigValue,
  type EndpointMeta,
  type Model,
  type Relation,
  type StatusName,
  type Unit,
  appOf,
  compareUnitNames,
  effectiveConfig,
  emptyModel,
  newApplication,
  newRelation,
  newUnit,
  ownEnd,
  remoteApp,
  statusValue,
} from './model.js';
import { addStorageInstance } from './pending.js';
import {
  type AgentState,
  type Decision,
  enterScope,
  isImplicitSide,
  newAgentState,
  nextDecision,
} from './scheduler.js';
import { type RunEventOptions, runEvent } from './session.js';
import { renderStatus } from './sim-status.js';
import { ConfigValueError, parseConfigValue } from './config-value.js';

/** An operation the real Juju CLI/API would refuse; the message is Juju's. */
export class SimulatorError extends Error {
  override name = 'SimulatorError';
}

export interface SimCharm {
  meta: CharmMeta;
  executor: CharmExecutor;
}

export interface HistoryEntry {
  unit: string;
  /** Hook name, or `action:<name>`. */
  event: string;
  env: Record<string, string>;
}

export interface DeployOptions {
  numUnits?: number;
  config?: Record<string, ConfigValue>;
  storage?: Record<string, number>;
  to?: string[];
  /** `--base ubuntu@22.04`: must be one the charm declares; default its first. */
  base?: string;
}

interface Candidate {
  app: string;
  endpoint: string;
  meta: EndpointMeta;
  implicit: boolean;
}

export class ModelSimulator {
  readonly model: Model;
  /** Every event run, in order. */
  readonly history: HistoryEntry[] = [];
  /** Units that ran `remove` (kept for inspection: status `terminated`). */
  readonly removedUnits: Record<string, Unit> = {};
  private readonly agents = new Map<string, AgentState>();
  /** Failed hook decisions, re-run by resolve. */
  private readonly failed = new Map<string, Decision>();
  private readonly retry = new Map<string, Decision>();
  /** The environment each failed hook ran with: resolve re-runs it with exactly that. */
  private readonly failedEnv = new Map<string, Record<string, string>>();
  private readonly random: () => number;
  private readonly toolServer: RunEventOptions['toolServer'];
  private settling: Promise<void> = Promise.resolve();
  /** Events running right now per machine (the machine lock makes this at most 1). */
  private readonly runningPerMachine = new Map<string, number>();
  /** Most events seen running at once on each machine, and across the model. */
  readonly maxRunningPerMachine: Record<string, number> = {};
  maxRunningOverall = 0;

  /** A settle that runs more events than this is taken to loop forever (a charm answering every change with a change). */
  private readonly maxEvents: number;
  private readonly machineAddress: (machineNumber: number) => string;
  /** Storage counts each application was deployed with (`--storage`, a bundle's `storage:`). */
  private readonly storageDirectives = new Map<string, Record<string, number>>();
  private readonly prepareMachine: ((machine: Readonly<{ id: string; address: string }>) => Promise<void>) | undefined;

  constructor(
    options: {
      seed?: number;
      name?: string;
      now?: () => Date;
      toolServer?: RunEventOptions['toolServer'];
      maxEvents?: number;
      /** The address of new machine number N (default 10.0.0.N+1). */
      machineAddress?: (machineNumber: number) => string;
      /**
       * Awaited before any event runs on a machine: a substrate provisions the machine (its
       * root, its network) there. Called for every event; make it idempotent.
       */
      prepareMachine?: (machine: Readonly<{ id: string; address: string }>) => Promise<void>;
    } = {},
  ) {
    this.maxEvents = options.maxEvents ?? 10000;
    this.machineAddress = options.machineAddress ?? ((number) => `10.0.0.${number + 1}`);
    this.prepareMachine = options.prepareMachine;
    this.model = emptyModel(options.name ?? 'test-model', options.now ?? (() => new Date()));
    this.random = seededRandom(options.seed ?? 1);
    this.toolServer = options.toolServer;
  }

  // ---------------------------------------------------------------- lookups

  private app(name: string): Application {
    const app = this.model.applications[name];
    if (app === undefined || app.life === 'dead') throw new SimulatorError(`application "${name}" not found`);
    return app;
  }

  /** An application that may still gain units and relations (not being removed). */
  private aliveApp(name: string): Application {
    const app = this.app(name);
    if (app.life !== 'alive') throw new SimulatorError(`application "${name}" is not alive`);
    return app;
  }

  private unit(name: string): Unit {
    const unit = this.model.units[name];
    if (unit === undefined) throw new SimulatorError(`unit "${name}" not found`);
    return unit;
  }

  private agent(unitName: string): AgentState {
    let agent = this.agents.get(unitName);
    if (agent === undefined) {
      agent = newAgentState();
      this.agents.set(unitName, agent);
    }
    return agent;
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  // ---------------------------------------------------------------- deploy and units

  async deploy(name: string, charm: SimCharm, options: DeployOptions = {}): Promise<void> {
    const numUnits = options.numUnits ?? (charm.meta.subordinate ? 0 : 1);
    if (charm.meta.subordinate && (numUnits > 0 || (options.to?.length ?? 0) > 0)) {
      throw new SimulatorError('subordinate application must be deployed without units');
    }
    this.deployApp(name, charm, options.config ?? {}, options.storage, options.base);
    const app = this.app(name);
    for (let i = 0; i < numUnits; i += 1)
      this.addUnitNow(app, options.to?.[Math.min(i, options.to.length - 1)], options.storage);
    return Promise.resolve();
  }

  private deployApp(
    name: string,
    charm: SimCharm,
    config: Record<string, ConfigValue>,
    storage?: Record<string, number>,
    base?: string,
  ): void {
    if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*$/.test(name))
      throw new SimulatorError(`invalid application name "${name}"`);
    if (name in this.model.applications)
      throw new SimulatorError(`cannot add application "${name}": application already exists`);
    for (const [store, count] of Object.entries(storage ?? {})) this.checkStorageCount(charm.meta, store, count);
    const deployedBase = this.deployBase(charm.meta, base);
    const app = newApplication(name, charm.meta, charm.executor);
    if (deployedBase !== undefined) app.base = deployedBase;
    app.charmRevision = 0;
    app.config = this.parseConfig(app, config);
    this.model.applications[name] = app;
    // Juju keeps the deploy's storage directives as the application's: add-unit uses them too.
    this.storageDirectives.set(name, { ...storage });
    this.createPeerRelations(app);
  }

  /** The base an application is deployed with: the requested one if the charm declares it, else the charm's first. */
  private deployBase(charm: CharmMeta, requested: string | undefined): string | undefined {
    const declared = charm.bases ?? [];
    if (requested === undefined) return declared[0] === undefined ? undefined : baseName(declared[0]);
    let wanted: { name: string; channel: string };
    try {
      wanted = parseBaseName(requested, 'base');
    } catch (err) {
      throw new SimulatorError((err as Error).message);
    }
    if (declared.length > 0 && !declared.some((b) => sameBase(b, wanted))) {
      throw new SimulatorError(
        `base "${requested}" not supported by charm, the charm supported bases are: ${declared.map(baseName).join(', ')}`,
      );
    }
    return requested;
  }

  private createPeerRelations(app: Application): void {
    for (const [endpoint, meta] of Object.entries(app.charm.endpoints)) {
      if (meta.role !== 'peers') continue;
      const exists = Object.values(this.model.relations).some(
        (r) => r.peer && r.ends[0]?.app === app.name && r.ends[0].endpoint === endpoint,
      );
      if (!exists) this.addRelation([{ app: app.name, endpoint }], meta.interface, 'global');
    }
  }

  /** A new relation with the next id; one end makes it a peer relation. */
  private addRelation(ends: Relation['ends'], iface: string, scope: Relation['scope']): Relation {
    const relation = newRelation(this.model.nextRelationId, ends, iface, scope);
    this.model.nextRelationId += 1;
    this.model.relations[relation.id] = relation;
    return relation;
  }

  private checkStorageCount(meta: CharmMeta, store: string, count: number): void {
    const decl = meta.storage[store];
    if (decl === undefined) throw new SimulatorError(`charm storage "${store}" not found`);
    if (count < decl.range.min)
      throw new SimulatorError(
        `charm "${meta.name}" store "${store}": ${decl.range.min} instances required, ${count} specified`,
      );
    if (decl.range.max !== null && count > decl.range.max) {
      throw new SimulatorError(
        `charm "${meta.name}" store "${store}": at most ${decl.range.max} instances supported, ${count} specified`,
      );
    }
  }

  private newMachine(parent?: string): string {
    const number = this.model.nextMachineId;
    this.model.nextMachineId += 1;
    // Containers get ids under their host; every machine gets its own address.
    const id = parent === undefined ? String(number) : `${parent}/lxd/${number}`;
    this.model.machines[id] = { id, address: this.machineAddress(number) };
    return id;
  }

  private placeMachine(to: string | undefined): string {
    if (to === undefined || to === 'new') return this.newMachine();
    if (to === 'lxd' || to === 'lxd:new') return this.newMachine(this.newMachine());
    const container = to.startsWith('lxd:');
    const target = container ? to.slice(4) : to;
    let host: string;
    if (/^\d+(?:\/lxd\/\d+)?$/.test(target)) {
      if (!(target in this.model.machines)) throw new SimulatorError(`machine ${target} not found`);
      host = target;
    } else if (target.includes('/')) {
      host = this.unit(target).machine;
    } else {
      throw new SimulatorError(`invalid placement "${to}"`);
    }
    return container ? this.newMachine(host) : host;
  }

  private newUnit(app: Application, machine: string, principal?: string): Unit {
    const number = app.nextUnitNumber;
    app.nextUnitNumber += 1;
    const unit = newUnit(this.model, { app: app.name, number, machine, principal });
    // A deployed unit waits for its machine and has run no hook yet.
    unit.workloadStatus = statusValue(this.model, 'waiting', 'waiting for machine');
    unit.statusHistory = [unit.workloadStatus];
    unit.installed = false;
    unit.started = false;
    // -1: never seen, so every non-leader gets leader-settings-changed during setup.
    unit.seenLeaderSettingsVersion = -1;
    this.model.units[unit.name] = unit;
    this.agents.set(unit.name, newAgentState());
    if (app.leader === undefined) this.makeLeader(app, unit.name);
    return unit;
  }

  private addUnitNow(app: Application, to: string | undefined, storage?: Record<string, number>): Unit {
    if (app.charm.subordinate)
      throw new SimulatorError(`cannot add unit to application "${app.name}": application is subordinate`);
    const unit = this.newUnit(app, this.placeMachine(to));
    for (const [store, decl] of Object.entries(app.charm.storage)) {
      const count = storage?.[store] ?? decl.range.min;
      for (let i = 0; i < count; i += 1) addStorageInstance(this.model, unit, store);
    }
    // Subordinates attached to this application follow it onto the new machine.
    for (const relation of Object.values(this.model.relations)) {
      if (
        relation.scope !== 'container' ||
        relation.peer ||
        relation.life !== 'alive' ||
        ownEnd(relation, app.name) === undefined
      )
        continue;
      const other = this.model.applications[remoteApp(relation, app.name) ?? ''];
      if (other?.charm.subordinate === true && other.life === 'alive') this.attachSubordinate(other, unit, relation);
    }
    return unit;
  }

  private attachSubordinate(subApp: Application, principal: Unit, relation: Relation): void {
    const exists = Object.values(this.model.units).some((u) => u.app === subApp.name && u.principal === principal.name);
    if (!exists) this.newUnit(subApp, principal.machine, principal.name);
    // The implicit juju-info side enters scope without running any hook.
    if (isImplicitSide(this.model, relation, principal.app)) enterScope(this.model, principal, relation);
  }

  async addUnit(appName: string, n = 1, options: { to?: string[] } = {}): Promise<string[]> {
    const app = this.aliveApp(appName);
    const names: string[] = [];
    for (let i = 0; i < n; i += 1)
      names.push(
        this.addUnitNow(app, options.to?.[Math.min(i, options.to.length - 1)], this.storageDirectives.get(appName))
          .name,
      );
    return Promise.resolve(names);
  }

  async removeUnit(unitName: string): Promise<void> {
    const unit = this.model.units[unitName];
    if (unit === undefined || unit.life === 'dead')
      throw new SimulatorError(`removing unit ${unitName} failed: unit "${unitName}" does not exist`);
    if (unit.principal !== undefined) {
      throw new SimulatorError(
        `unit "${unitName}" is a subordinate, to remove use remove-relation. Note: this will remove all units of "${unit.app}"`,
      );
    }
    this.markDying(unit);
    return Promise.resolve();
  }

  private markDying(unit: Unit): void {
    if (unit.life !== 'alive') return;
    unit.life = 'dying';
    // The principal's agent destroys its subordinates.
    for (const sub of Object.values(this.model.units)) if (sub.principal === unit.name) this.markDying(sub);
    const app = this.model.applications[unit.app];
    if (app?.leader === unit.name) this.elect(app, unit.name);
  }

  /** Leadership moves to a seeded choice among the other alive units (spec 2.4: cannot be chosen). */
  private elect(app: Application, excluding: string): void {
    const candidates = Object.values(this.model.units)
      .filter((u) => u.app === app.name && u.life === 'alive' && u.name !== excluding)
      .map((u) => u.name)
      .sort(compareUnitNames);
    const next = this.pick(candidates);
    if (next === undefined) {
      delete app.leader;
      return;
    }
    this.makeLeader(app, next);
  }

  private makeLeader(app: Application, unitName: string): void {
    app.leader = unitName;
    this.agent(unitName).leaderElectedPending = true;
    // Everyone else, including a surviving old leader, gets leader-settings-changed.
    for (const unit of Object.values(this.model.units)) {
      if (unit.app === app.name && unit.name !== unitName && unit.installed) unit.seenLeaderSettingsVersion = -1;
    }
  }

  /**
   * The unit agent restarts (a reboot, an agent upgrade). Juju's relation state tracker rejoins the
   * relations the unit is in but never reloads their remote application names, so a later
   * relation-broken of any of them runs with JUJU_REMOTE_APP='' (worker/uniter/relation/
   * statetracker.go: loadInitialState fills no names, only SynchronizeScopes does, for new ones).
   */
  async restartAgent(unitName: string): Promise<void> {
    const unit = this.unit(unitName);
    if (unit.life === 'dead') throw new SimulatorError(`unit "${unitName}" not found`);
    for (const view of Object.values(unit.relations)) if (view.created) view.remoteAppUnknown = true;
    return Promise.resolve();
  }

  async changeLeader(appName: string): Promise<string> {
    const app = this.app(appName);
    this.elect(app, app.leader ?? '');
    if (app.leader === undefined) throw new SimulatorError(`application "${appName}" has no other unit to lead`);
    return Promise.resolve(app.leader);
  }

  async removeApplication(appName: string): Promise<void> {
    const app = this.app(appName);
    app.life = 'dying';
    for (const relation of Object.values(this.model.relations)) {
      if (ownEnd(relation, appName) !== undefined) this.endRelation(relation);
    }
    for (const unit of Object.values(this.model.units)) if (unit.app === appName) this.markDying(unit);
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- relations

  private candidates(appName: string, endpoint: string | undefined): Candidate[] {
    const app = this.app(appName);
    const list: Candidate[] = Object.entries(app.charm.endpoints)
      .filter(([, meta]) => meta.role !== 'peers')
      .map(([name, meta]) => ({ app: appName, endpoint: name, meta, implicit: false }));
    if (!('juju-info' in app.charm.endpoints)) {
      list.push({
        app: appName,
        endpoint: 'juju-info',
        meta: { role: 'provides', interface: 'juju-info', scope: 'global' },
        implicit: true,
      });
    }
    return endpoint === undefined ? list : list.filter((c) => c.endpoint === endpoint);
  }

  private static split(spec: string): [string, string | undefined] {
    const colon = spec.indexOf(':');
    return colon < 0 ? [spec, undefined] : [spec.slice(0, colon), spec.slice(colon + 1)];
  }

  /** `juju integrate a[:ep] b[:ep]`: infers endpoints, checks roles, interfaces, scope and limits. */
  async integrate(a: string, b: string): Promise<number> {
    const [appA, epA] = ModelSimulator.split(a);
    const [appB, epB] = ModelSimulator.split(b);
    this.aliveApp(appA);
    this.aliveApp(appB);
    if (appA === appB) throw new SimulatorError(`cannot relate application "${appA}" to itself`);
    let pairs: [Candidate, Candidate][] = [];
    for (const x of this.candidates(appA, epA)) {
      for (const y of this.candidates(appB, epB)) {
        const complementary =
          (x.meta.role === 'provides' && y.meta.role === 'requires') ||
          (x.meta.role === 'requires' && y.meta.role === 'provides');
        if (complementary && x.meta.interface === y.meta.interface) pairs.push([x, y]);
      }
    }
    // Implicit endpoints lose to declared ones unless named explicitly.
    if (pairs.length > 1) pairs = pairs.filter(([x, y]) => !x.implicit && !y.implicit);
    if (pairs.length === 0) throw new SimulatorError('no relations found');
    if (pairs.length > 1) {
      const options = pairs.map(([x, y]) => `"${x.app}:${x.endpoint} ${y.app}:${y.endpoint}"`).join('; ');
      throw new SimulatorError(`ambiguous relation: "${a} ${b}" could refer to ${options}`);
    }
    const [x, y] = pairs[0]!;
    const label = `${x.app}:${x.endpoint} ${y.app}:${y.endpoint}`;
    const alive = Object.values(this.model.relations).filter((r) => r.life === 'alive' && !r.peer);
    const has = (r: Relation, c: Candidate): boolean =>
      r.ends.some((e) => e.app === c.app && e.endpoint === c.endpoint);
    if (alive.some((r) => has(r, x) && has(r, y))) throw new SimulatorError(`relation ${label} already exists`);
    for (const c of [x, y]) {
      if (c.meta.limit !== undefined && alive.filter((r) => has(r, c)).length >= c.meta.limit) {
        throw new SimulatorError(
          `establishing a new relation for ${c.app}:${c.endpoint} would exceed its maximum relation limit of ${c.meta.limit}`,
        );
      }
    }
    const container = x.meta.scope === 'container' || y.meta.scope === 'container';
    const subX = this.app(x.app).charm.subordinate;
    const subY = this.app(y.app).charm.subordinate;
    // The two ends share machines, so their charms must share a base (OS and release); Juju
    // compares the bases the charms declare, not the ones the applications were deployed with.
    const basesX = this.app(x.app).charm.bases;
    const basesY = this.app(y.app).charm.bases;
    if (container && basesX !== undefined && basesY !== undefined && !shareABase(basesX, basesY))
      throw new SimulatorError("principal and subordinate applications' bases must match");
    if (container && !subX && !subY)
      throw new SimulatorError('container scoped relation requires at least one subordinate application');
    const relation = this.addRelation(
      [
        { app: x.app, endpoint: x.endpoint },
        { app: y.app, endpoint: y.endpoint },
      ],
      x.meta.interface,
      container ? 'container' : 'global',
    );
    if (container && subX !== subY) {
      const sub = this.app(subX ? x.app : y.app);
      const principalApp = subX ? y.app : x.app;
      const principals = Object.values(this.model.units)
        .filter((u) => u.app === principalApp && u.life === 'alive')
        .sort((p, q) => compareUnitNames(p.name, q.name));
      for (const principal of principals) this.attachSubordinate(sub, principal, relation);
    }
    return Promise.resolve(relation.id);
  }

  private findRelation(a: string, b: string): Relation {
    const [appA, epA] = ModelSimulator.split(a);
    const [appB, epB] = ModelSimulator.split(b);
    const matches = (r: Relation, app: string, ep: string | undefined): boolean =>
      r.ends.some((e) => e.app === app && (ep === undefined || e.endpoint === ep));
    const found = Object.values(this.model.relations).filter(
      (r) => !r.peer && r.life === 'alive' && matches(r, appA, epA) && matches(r, appB, epB),
    );
    if (found.length === 0) throw new SimulatorError(`relation "${a} ${b}" not found`);
    if (found.length > 1) throw new SimulatorError(`ambiguous relation: "${a} ${b}" could refer to several relations`);
    return found[0]!;
  }

  /** `juju remove-relation`: departed per remote unit then broken on both sides; relation-scoped grants revoked. */
  async removeRelation(a: string, b: string): Promise<void> {
    this.endRelation(this.findRelation(a, b));
    return Promise.resolve();
  }

  private endRelation(relation: Relation): void {
    if (relation.life !== 'alive') return;
    relation.life = 'dying';
    for (const secret of Object.values(this.model.secrets)) {
      secret.grants = secret.grants.filter((grant) => grant.relationId !== relation.id);
    }
    if (relation.scope === 'container' && !relation.peer) {
      // Subordinate units attached through this relation go with it, unless another container
      // relation still ties them to the same principal application.
      const stillAttached = (sub: string, principalApp: string): boolean =>
        Object.values(this.model.relations).some(
          (r) =>
            r.life === 'alive' &&
            r.scope === 'container' &&
            !r.peer &&
            ownEnd(r, sub) !== undefined &&
            remoteApp(r, sub) === principalApp,
        );
      for (const unit of Object.values(this.model.units)) {
        if (
          unit.principal !== undefined &&
          ownEnd(relation, unit.app) !== undefined &&
          appOf(unit.principal) === remoteApp(relation, unit.app) &&
          !stillAttached(unit.app, appOf(unit.principal))
        ) {
          this.markDying(unit);
        }
      }
    }
  }

  // ---------------------------------------------------------------- config, upgrade, storage

  private parseConfig(app: Application, values: Record<string, ConfigValue>): Record<string, ConfigValue> {
    const parsed: Record<string, ConfigValue> = { ...app.config };
    for (const [key, value] of Object.entries(values)) {
      const option = app.charm.config[key];
      if (option === undefined) throw new SimulatorError(`unknown option "${key}"`);
      try {
        parsed[key] = parseConfigValue(key, option, value);
      } catch (err) {
        throw err instanceof ConfigValueError ? new SimulatorError(err.message) : err;
      }
    }
    return parsed;
  }

  private configChanged(app: Application, before: Record<string, ConfigValue>): void {
    if (JSON.stringify(before) === JSON.stringify(effectiveConfig(app))) return;
    for (const unit of Object.values(this.model.units))
      if (unit.app === app.name) this.agent(unit.name).configPending = true;
  }

  async config(appName: string, values: Record<string, ConfigValue>): Promise<void> {
    const app = this.app(appName);
    const before = effectiveConfig(app);
    app.config = this.parseConfig(app, values);
    this.configChanged(app, before);
    return Promise.resolve();
  }

  async resetConfig(appName: string, keys: string[]): Promise<void> {
    const app = this.app(appName);
    for (const key of keys)
      if (app.charm.config[key] === undefined) throw new SimulatorError(`unknown option "${key}"`);
    const before = effectiveConfig(app);
    for (const key of keys) delete app.config[key];
    this.configChanged(app, before);
    return Promise.resolve();
  }

  /** `juju refresh`: upgrade-charm -> config-changed on every unit (even for an identical local charm). */
  async upgrade(appName: string, charm?: SimCharm): Promise<void> {
    const app = this.app(appName);
    if (charm !== undefined) {
      app.charm = charm.meta;
      app.executor = charm.executor;
      for (const key of Object.keys(app.config)) if (!(key in charm.meta.config)) delete app.config[key];
      this.createPeerRelations(app);
    }
    app.charmRevision += 1;
    for (const unit of Object.values(this.model.units)) {
      if (unit.app !== appName || unit.life !== 'alive') continue;
      this.agent(unit.name).upgradePending = true;
      if (unit.name !== app.leader && unit.installed) unit.seenLeaderSettingsVersion = -1;
    }
    return Promise.resolve();
  }

  /** `juju add-storage <unit> <name>=<count>`: storage-attached runs during normal operation. */
  async attachStorage(unitName: string, name: string, count: number): Promise<string[]> {
    const unit = this.unit(unitName);
    const meta = this.app(unit.app).charm;
    const decl = meta.storage[name];
    if (decl === undefined) throw new SimulatorError(`storage "${name}" not found`);
    const existing = unit.storage.filter((id) => this.model.storage[id]?.name === name).length;
    if (decl.range.max !== null && existing + count > decl.range.max) {
      throw new SimulatorError(
        `adding storage ${name} to unit ${unitName}: storage "${name}" cannot exceed ${decl.range.max} instances`,
      );
    }
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) ids.push(addStorageInstance(this.model, unit, name).id);
    return Promise.resolve(ids);
  }

  async updateStatus(): Promise<void> {
    for (const unit of Object.values(this.model.units))
      if (unit.started && unit.life === 'alive') this.agent(unit.name).updateStatusPending = true;
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- actions and errors

  /** `juju run`: params validated at enqueue (invalid: throws, no task); resolves when the task ends. */
  async runAction(
    target: string,
    name: string,
    params: Record<string, unknown> | string[] = {},
    options: { stringArgs?: boolean } = {},
  ): Promise<ActionTask> {
    let unitName = target;
    if (target.endsWith('/leader')) {
      const app = this.app(appOf(target));
      if (app.leader === undefined) throw new SimulatorError(`application "${app.name}" has no leader`);
      unitName = app.leader;
    }
    const unit = this.model.units[unitName];
    if (unit === undefined || unit.life === 'dead') throw new SimulatorError(`unit "${unitName}" not found`);
    const action = this.app(unit.app).charm.actions[name];
    if (action === undefined) throw new SimulatorError(`action "${name}" not defined on unit "${unitName}"`);
    const raw = Array.isArray(params)
      ? parseCliParams(params, options.stringArgs === true ? { stringArgs: true } : {})
      : params;
    const validated = validateActionParams(name, action, raw);
    const id = String(this.model.nextTaskId);
    this.model.nextTaskId += 1;
    const task: ActionTask = {
      id,
      unit: unitName,
      name,
      params: validated,
      status: 'pending',
      message: '',
      results: {},
      log: [],
    };
    this.model.tasks[id] = task;
    await this.settle();
    return task;
  }

  /** `juju resolve [--no-retry]`: clears the error; re-runs the failed hook unless noRetry. */
  async resolve(unitName: string, options: { noRetry?: boolean } = {}): Promise<void> {
    const unit = this.unit(unitName);
    if (unit.error === undefined) throw new SimulatorError(`unit "${unitName}" is not in an error state`);
    delete unit.error;
    const decision = this.failed.get(unitName);
    this.failed.delete(unitName);
    if (decision === undefined) return;
    if (options.noRetry === true) {
      this.failedEnv.delete(unitName);
      this.afterEvent(unit, decision.event, true);
    } else this.retry.set(unitName, decision);
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- running events

  /** Runs events until every unit is idle (or blocked in a hook error). */
  settle(): Promise<void> {
    const run = this.settling.then(() => this.drain());
    // A failed settle must not poison the ones queued after it.
    this.settling = run.catch(() => undefined);
    return run;
  }

  private nextFor(unitName: string): Decision | undefined {
    const retry = this.retry.get(unitName);
    if (retry !== undefined) return retry;
    return nextDecision(this.model, this.agent(unitName), unitName);
  }

  /** `parallel: true` actions without an execution group run without the machine lock (spec 1.6). */
  private isLockFree(unit: Unit, decision: Decision): boolean {
    if (decision.event.kind !== 'action') return false;
    const action = this.model.applications[unit.app]?.charm.actions[decision.event.name];
    return action?.parallel === true && action.executionGroup === undefined;
  }

  private async drain(): Promise<void> {
    const running = new Set<Promise<void>>();
    const locked = new Set<string>();
    const busy = new Set<string>();
    let failure: unknown;
    let started = 0;
    for (;;) {
      this.cleanup();
      const machines = Object.keys(this.model.machines);
      // Seeded shuffle: which machine starts first is reproducible for a seed.
      for (let i = machines.length - 1; i > 0; i -= 1) {
        const j = Math.floor(this.random() * (i + 1));
        [machines[i], machines[j]] = [machines[j]!, machines[i]!];
      }
      for (const machine of machines) {
        for (;;) {
          // One operation at a time per unit; one lock holder per machine.
          const ready = Object.values(this.model.units)
            .filter((u) => u.machine === machine && !busy.has(u.name))
            .sort((p, q) => compareUnitNames(p.name, q.name))
            .map((u) => ({ unit: u, decision: this.nextFor(u.name) }))
            .filter((c): c is { unit: Unit; decision: Decision } => c.decision !== undefined)
            .filter((c) => !locked.has(machine) || this.isLockFree(c.unit, c.decision));
          const chosen = this.pick(ready);
          if (chosen === undefined) break;
          started += 1;
          if (started > this.maxEvents)
            throw new SimulatorError(`settle did not converge after ${this.maxEvents} events`);
          const takesLock = !this.isLockFree(chosen.unit, chosen.decision);
          if (takesLock) locked.add(machine);
          busy.add(chosen.unit.name);
          const done: Promise<void> = this.runDecision(chosen.unit, chosen.decision, machine, takesLock)
            .catch((err: unknown) => void (failure ??= err))
            .finally(() => {
              busy.delete(chosen.unit.name);
              if (takesLock) locked.delete(machine);
              running.delete(done);
            });
          running.add(done);
        }
      }
      if (running.size === 0) break;
      await Promise.race(running);
      if (failure !== undefined) {
        await Promise.allSettled(running);
        throw failure instanceof Error ? failure : new Error('event run failed');
      }
    }
  }

  private setStatus(unit: Unit, status: StatusName, message: string): void {
    const value = statusValue(this.model, status, message);
    unit.workloadStatus = value;
    unit.statusHistory.push(value);
  }

  private async runDecision(unit: Unit, decision: Decision, machine: string, takesLock: boolean): Promise<void> {
    const retrying = this.retry.get(unit.name) === decision;
    this.retry.delete(unit.name);
    if (!retrying) decision.claim();
    // A retried config-changed sees the current config: later changes coalesce into it.
    else if (decision.event.kind === 'hook' && decision.event.name === 'config-changed')
      this.agent(unit.name).configPending = false;
    const { event } = decision;
    if (event.kind === 'hook' && event.name === 'install' && !unit.statusSetByCharm)
      this.setStatus(unit, 'maintenance', 'installing charm software');
    if (event.kind === 'hook' && event.name === 'stop') this.setStatus(unit, 'maintenance', 'stopping charm software');
    const count = (this.runningPerMachine.get(machine) ?? 0) + (takesLock ? 1 : 0);
    this.runningPerMachine.set(machine, count);
    this.maxRunningPerMachine[machine] = Math.max(this.maxRunningPerMachine[machine] ?? 0, count);
    const overall = [...this.runningPerMachine.values()].reduce((s, n) => s + n, 0);
    this.maxRunningOverall = Math.max(this.maxRunningOverall, overall);
    try {
      const options: RunEventOptions = {};
      if (this.toolServer !== undefined) options.toolServer = this.toolServer;
      const failedEnv = this.failedEnv.get(unit.name);
      this.failedEnv.delete(unit.name);
      if (retrying && failedEnv !== undefined) options.env = failedEnv;
      const host = this.model.machines[machine];
      if (this.prepareMachine !== undefined && host !== undefined) await this.prepareMachine(host);
      const outcome = await runEvent(this.model, unit.name, event, options);
      this.history.push({
        unit: unit.name,
        event: event.kind === 'action' ? `action:${event.name}` : event.name,
        env: outcome.env,
      });
      if (event.kind === 'action') {
        const task = this.model.tasks[event.taskId];
        // Never leave a task pending (it would be picked again forever).
        if (task !== undefined && (task.status === 'pending' || task.status === 'running')) task.status = 'error';
        return;
      }
      if (outcome.exitCode !== 0) {
        this.failed.set(unit.name, decision);
        this.failedEnv.set(unit.name, outcome.env);
        return;
      }
      this.afterEvent(unit, event, false);
    } finally {
      if (takesLock) this.runningPerMachine.set(machine, (this.runningPerMachine.get(machine) ?? 1) - 1);
    }
  }

  /** What Juju does after a hook completed (or was skipped by resolve --no-retry). */
  private afterEvent(unit: Unit, event: CharmEvent, _skipped: boolean): void {
    if (event.kind !== 'hook') return;
    if (event.name === 'start' && !unit.statusSetByCharm) this.setStatus(unit, 'unknown', '');
    if (event.name === 'remove') {
      unit.life = 'dead';
      this.setStatus(unit, 'terminated', '');
    }
  }

  /** Drops dead units, finished relations and applications; runs whenever the model may have moved on. */
  private cleanup(): void {
    for (const unit of Object.values(this.model.units)) {
      // A dying unit that never installed has nothing to run: it goes straight away.
      if (unit.life === 'dying' && !unit.installed && unit.error === undefined && !this.retry.has(unit.name)) {
        unit.life = 'dead';
        this.setStatus(unit, 'terminated', '');
      }
      if (unit.life !== 'dead') continue;
      this.removedUnits[unit.name] = unit;
      delete this.model.units[unit.name];
      this.agents.delete(unit.name);
      for (const id of unit.storage) delete this.model.storage[id];
      // Unit-owned secrets die with the unit; a gone consumer no longer pins old revisions.
      for (const secret of Object.values(this.model.secrets)) {
        if (secret.owner.kind === 'unit' && secret.owner.unit === unit.name) delete this.model.secrets[secret.id];
        else delete secret.consumers[unit.name];
      }
      for (const task of Object.values(this.model.tasks))
        if (task.unit === unit.name && task.status === 'pending') task.status = 'cancelled';
      if (!Object.values(this.model.units).some((u) => u.machine === unit.machine))
        delete this.model.machines[unit.machine];
    }
    for (const relation of Object.values(this.model.relations)) {
      if (relation.life === 'alive') continue;
      const pending = Object.values(this.model.units).some((u) => {
        const view = u.relations[relation.id];
        if (view === undefined || !view.created || isImplicitSide(this.model, relation, u.app)) return false;
        return relation.peer ? view.joined.length > 0 : !view.broken;
      });
      if (pending) continue;
      delete this.model.relations[relation.id];
      for (const unit of Object.values(this.model.units)) delete unit.relations[relation.id];
    }
    for (const app of Object.values(this.model.applications)) {
      if (app.life !== 'dying' || Object.values(this.model.units).some((u) => u.app === app.name)) continue;
      delete this.model.applications[app.name];
      for (const relation of Object.values(this.model.relations))
        if (ownEnd(relation, app.name) !== undefined) delete this.model.relations[relation.id];
    }
  }

  // ---------------------------------------------------------------- bundles

  /** `juju deploy ./bundle.yaml [--overlay ...]`: apps, then relations, then units (so relation-created runs in setup). */
  async deployBundle(
    bundlePathOrText: string,
    charms: (charmPath: string) => SimCharm,
    overlays: string[] = [],
  ): Promise<Bundle> {
    const isPath = !bundlePathOrText.includes('\n') && existsSync(bundlePathOrText);
    const text = isPath ? readFileSync(bundlePathOrText, 'utf8') : bundlePathOrText;
    const bundleDir = isPath ? dirname(bundlePathOrText) : process.cwd();
    const overlayTexts = overlays.map((o) => (!o.includes('\n') && existsSync(o) ? readFileSync(o, 'utf8') : o));
    const bundle = parseBundle(text, { bundleDir, overlays: overlayTexts });
    const resolved = new Map(Object.values(bundle.applications).map((app) => [app.name, charms(app.charm)]));
    checkBundleSubordinates(bundle, (name) => resolved.get(name)?.meta.subordinate === true);
    const counts = (storage: Record<string, string>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [name, directive] of Object.entries(storage)) {
        const count = directive.split(',').find((part) => /^\d+$/.test(part.trim()));
        out[name] = count === undefined ? 1 : Number(count);
      }
      return out;
    };
    for (const app of Object.values(bundle.applications)) {
      const config: Record<string, ConfigValue> = {};
      for (const [key, value] of Object.entries(app.options)) {
        config[key] = typeof value === 'number' || typeof value === 'boolean' ? value : String(value);
      }
      this.deployApp(app.name, resolved.get(app.name)!, config, counts(app.storage), app.base ?? bundle.defaultBase);
      this.app(app.name).exposed = app.expose;
    }
    for (const [a, b] of bundle.relations) await this.integrate(a, b);
    // Units, placing co-located ones after their targets exist.
    const machineIds = new Map<string, string>();
    const placed = new Map<string, Unit[]>();
    const refersToApp = (to: string): boolean => {
      const ref = to.replace(/^lxd:/, '');
      return ref !== 'new' && !/^\d+$/.test(ref);
    };
    const order = Object.values(bundle.applications).sort(
      (p, q) => Number(p.to.some(refersToApp)) - Number(q.to.some(refersToApp)),
    );
    for (const app of order) {
      const units: Unit[] = [];
      for (let i = 0; i < app.numUnits; i += 1) {
        const to = app.to[i];
        let target: string | undefined;
        if (to !== undefined && to !== 'new') {
          const container = to.startsWith('lxd:');
          const ref = container ? to.slice(4) : to;
          let host: string | undefined;
          if (/^\d+$/.test(ref)) {
            if (!machineIds.has(ref)) machineIds.set(ref, this.newMachine());
            host = machineIds.get(ref);
          } else if (ref !== 'new') {
            const [refApp, refNum] = ref.split('/');
            const refUnits = placed.get(refApp!) ?? [];
            host = (refNum === undefined ? refUnits[i % Math.max(refUnits.length, 1)] : refUnits[Number(refNum)])
              ?.machine;
          }
          target = host === undefined ? (container ? 'lxd:new' : undefined) : container ? `lxd:${host}` : host;
        }
        units.push(this.addUnitNow(this.app(app.name), target, counts(app.storage)));
      }
      placed.set(app.name, units);
    }
    return bundle;
  }

  // ---------------------------------------------------------------- status

  /** `juju status --format json` (spec 6.3, Juju 3.1+ relations form). */
  /**
   * Every unit's workload status as `juju status` shows it (`error: hook failed: ...` while a hook
   * is in error), as `<current>: <message>`, subordinates included: what tests assert on.
   */
  workloadStatuses(): Record<string, string> {
    type View = { 'workload-status': { current: string; message?: string }; subordinates?: Record<string, View> };
    const { applications } = this.status() as { applications: Record<string, { units?: Record<string, View> }> };
    const result: Record<string, string> = {};
    const add = (name: string, view: View) => {
      result[name] = `${view['workload-status'].current}: ${view['workload-status'].message ?? ''}`;
    };
    for (const app of Object.values(applications)) {
      for (const [name, unit] of Object.entries(app.units ?? {})) {
        add(name, unit);
        for (const [sub, subordinate] of Object.entries(unit.subordinates ?? {})) add(sub, subordinate);
      }
    }
    return result;
  }

  status(): Record<string, unknown> {
    const busy = new Set([...this.runningPerMachine].filter(([, n]) => n > 0).map(([machine]) => machine));
    return renderStatus(this.model, busy);
  }
}
