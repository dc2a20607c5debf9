// The multi-unit model simulator (docs/charm-runtime.md, "Testing charms against the fake"):
// operator operations (deploy, integrate, add/remove unit, remove relation, config, leader change,
// upgrade, run action, update-status, a unit agent restart) change the model and queue work;
// `settle()` then runs events until every unit is idle, choosing each unit's next event as Juju
// does, holding one lock per machine and interleaving machines by a seeded PRNG so a run is
// reproducible.
//
// The simulator in layers, each its own file: state and bookkeeping (sim-model-state.ts),
// relations (sim-relations.ts), running events (sim-hook-runner.ts); this file is the operator's
// side, what the juju CLI would do.
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseCliParams, validateActionParams } from './action-params.js';
import { type Bundle, checkBundleSubordinates, parseBundle } from './bundle.js';
import { type ActionTask, type ConfigValue, type Unit, appOf, effectiveConfig, ownEnd } from './model.js';
import { addStorageInstance } from './pending.js';
import { SimHookRunner } from './sim-hook-runner.js';
import { type SavedApplication, type SavedSimulatorState, loadModel, saveModel } from './sim-saved-state.js';
import { renderStatus } from './sim-status.js';
import { type DeployOptions, type SimCharm, SimulatorError } from './sim-types.js';

export { type SavedApplication, type SavedSimulatorState } from './sim-saved-state.js';
export {
  type DeployOptions,
  type HistoryEntry,
  type SimCharm,
  SimulatorError,
  type SimulatorOptions,
} from './sim-types.js';

export class ModelSimulator extends SimHookRunner {
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

  // ---------------------------------------------------------------- config, upgrade, storage

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

  // ---------------------------------------------------------------- saving and loading

  /** The model as plain data, for a later `loadState` in this or another process (sim-saved-state.ts). */
  saveState(): SavedSimulatorState {
    return saveModel(this.model, this.agents, this.storageDirectives);
  }

  /** Carries on with a saved model; `executorOf` gives each application its charm's executor again. */
  loadState(saved: SavedSimulatorState, executorOf: (app: SavedApplication) => SimCharm['executor']): void {
    const { agents, storageDirectives } = loadModel(this.model, saved, executorOf);
    this.agents.clear();
    for (const [unit, agent] of agents) this.agents.set(unit, agent);
    this.storageDirectives.clear();
    for (const [app, directives] of storageDirectives) this.storageDirectives.set(app, directives);
  }

  // ---------------------------------------------------------------- status

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

  /**
   * `juju status --format json`, Juju 3.1+ relations form (docs/charm-runtime.md, "Bundles and
   * `juju status`").
   */
  status(): Record<string, unknown> {
    const busy = new Set([...this.runningPerMachine].filter(([, n]) => n > 0).map(([machine]) => machine));
    return renderStatus(this.model, busy);
  }
}
