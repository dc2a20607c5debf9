// The model simulator's state and the bookkeeping every operation shares: applications, machines
// and units (placement, subordinates), leadership, peer relations, storage counts and config
// values, each checked as Juju checks it (SimulatorError with Juju's message).
import { seededRandom } from '../common/seeded-random.js';
import { baseName, parseBaseName, sameBase } from '../charm-pack/bases.js';
import { ConfigValueError, parseConfigValue } from './config-value.js';
import {
  type Application,
  type CharmMeta,
  type ConfigValue,
  type Model,
  type Relation,
  type Unit,
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
import { type AgentState, enterScope, isImplicitSide, newAgentState } from './scheduler.js';
import { type RunEventOptions } from './session.js';
import { type SimCharm, SimulatorError, type SimulatorOptions } from './sim-types.js';

export abstract class SimModelState {
  readonly model: Model;
  protected readonly agents = new Map<string, AgentState>();
  protected readonly random: () => number;
  protected readonly toolServer: RunEventOptions['toolServer'];
  /** A settle that runs more events than this is taken to loop forever (a charm answering every change with a change). */
  protected readonly maxEvents: number;
  protected readonly machineAddress: (machineNumber: number) => string;
  /** Storage counts each application was deployed with (`--storage`, a bundle's `storage:`). */
  protected readonly storageDirectives = new Map<string, Record<string, number>>();
  protected readonly prepareMachine:
    ((machine: Readonly<{ id: string; address: string }>) => Promise<void>) | undefined;
  protected readonly hookTimeoutMs: number | undefined;

  constructor(options: SimulatorOptions = {}) {
    this.maxEvents = options.maxEvents ?? 10000;
    this.machineAddress = options.machineAddress ?? ((number) => `10.0.0.${number + 1}`);
    this.prepareMachine = options.prepareMachine;
    this.hookTimeoutMs = options.hookTimeoutMs;
    this.model = emptyModel(options.name ?? 'test-model', options.now ?? (() => new Date()));
    this.random = seededRandom(options.seed ?? 1);
    this.toolServer = options.toolServer;
  }

  // ---------------------------------------------------------------- lookups

  protected app(name: string): Application {
    const app = this.model.applications[name];
    if (app === undefined || app.life === 'dead') throw new SimulatorError(`application "${name}" not found`);
    return app;
  }

  /** An application that may still gain units and relations (not being removed). */
  protected aliveApp(name: string): Application {
    const app = this.app(name);
    if (app.life !== 'alive') throw new SimulatorError(`application "${name}" is not alive`);
    return app;
  }

  protected unit(name: string): Unit {
    const unit = this.model.units[name];
    if (unit === undefined) throw new SimulatorError(`unit "${name}" not found`);
    return unit;
  }

  protected agent(unitName: string): AgentState {
    let agent = this.agents.get(unitName);
    if (agent === undefined) {
      agent = newAgentState();
      this.agents.set(unitName, agent);
    }
    return agent;
  }

  protected pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  // ---------------------------------------------------------------- deploy and units

  protected deployApp(
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
  protected deployBase(charm: CharmMeta, requested: string | undefined): string | undefined {
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

  protected createPeerRelations(app: Application): void {
    for (const [endpoint, meta] of Object.entries(app.charm.endpoints)) {
      if (meta.role !== 'peers') continue;
      const exists = Object.values(this.model.relations).some(
        (r) => r.peer && r.ends[0]?.app === app.name && r.ends[0].endpoint === endpoint,
      );
      if (!exists) this.addRelation([{ app: app.name, endpoint }], meta.interface, 'global');
    }
  }

  /** A new relation with the next id; one end makes it a peer relation. */
  protected addRelation(ends: Relation['ends'], iface: string, scope: Relation['scope']): Relation {
    const relation = newRelation(this.model.nextRelationId, ends, iface, scope);
    this.model.nextRelationId += 1;
    this.model.relations[relation.id] = relation;
    return relation;
  }

  protected checkStorageCount(meta: CharmMeta, store: string, count: number): void {
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

  protected newMachine(parent?: string): string {
    const number = this.model.nextMachineId;
    this.model.nextMachineId += 1;
    // Containers get ids under their host; every machine gets its own address.
    const id = parent === undefined ? String(number) : `${parent}/lxd/${number}`;
    this.model.machines[id] = { id, address: this.machineAddress(number) };
    return id;
  }

  protected placeMachine(to: string | undefined): string {
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

  protected newUnit(app: Application, machine: string, principal?: string): Unit {
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

  protected addUnitNow(app: Application, to: string | undefined, storage?: Record<string, number>): Unit {
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

  protected attachSubordinate(subApp: Application, principal: Unit, relation: Relation): void {
    const exists = Object.values(this.model.units).some((u) => u.app === subApp.name && u.principal === principal.name);
    if (!exists) this.newUnit(subApp, principal.machine, principal.name);
    // The implicit juju-info side enters scope without running any hook.
    if (isImplicitSide(this.model, relation, principal.app)) enterScope(this.model, principal, relation);
  }

  protected markDying(unit: Unit): void {
    if (unit.life !== 'alive') return;
    unit.life = 'dying';
    // The principal's agent destroys its subordinates.
    for (const sub of Object.values(this.model.units)) if (sub.principal === unit.name) this.markDying(sub);
    const app = this.model.applications[unit.app];
    if (app?.leader === unit.name) this.elect(app, unit.name);
  }

  /**
   * Leadership moves to a seeded choice among the other alive units; the leaving one cannot be
   * chosen (docs/charm-runtime.md, "Which hook runs next").
   */
  protected elect(app: Application, excluding: string): void {
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

  protected makeLeader(app: Application, unitName: string): void {
    app.leader = unitName;
    this.agent(unitName).leaderElectedPending = true;
    // Everyone else, including a surviving old leader, gets leader-settings-changed.
    for (const unit of Object.values(this.model.units)) {
      if (unit.app === app.name && unit.name !== unitName && unit.installed) unit.seenLeaderSettingsVersion = -1;
    }
  }

  protected parseConfig(app: Application, values: Record<string, ConfigValue>): Record<string, ConfigValue> {
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

  protected configChanged(app: Application, before: Record<string, ConfigValue>): void {
    if (JSON.stringify(before) === JSON.stringify(effectiveConfig(app))) return;
    for (const unit of Object.values(this.model.units))
      if (unit.app === app.name) this.agent(unit.name).configPending = true;
  }
}
