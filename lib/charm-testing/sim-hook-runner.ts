// Running the model simulator's queued work: `settle()` runs events until every unit is idle,
// choosing each unit's next event with the scheduler (docs/charm-runtime.md, "Which hook runs
// next"), holding one lock per machine and interleaving machines by the seeded PRNG so a run is
// reproducible; failed hooks wait for resolve; dead units, relations and applications go.
import { type CharmEvent } from './events.js';
import { type StatusName, type Unit, compareUnitNames, ownEnd, statusValue } from './model.js';
import { type Decision, isImplicitSide, nextDecision } from './scheduler.js';
import { type RunEventOptions, runEvent } from './session.js';
import { SimRelations } from './sim-relations.js';
import { type HistoryEntry, SimulatorError } from './sim-types.js';

export abstract class SimHookRunner extends SimRelations {
  /** Every event run, in order. */
  readonly history: HistoryEntry[] = [];
  /** Units that ran `remove` (kept for inspection: status `terminated`). */
  readonly removedUnits: Record<string, Unit> = {};
  /** Failed hook decisions, re-run by resolve. */
  protected readonly failed = new Map<string, Decision>();
  protected readonly retry = new Map<string, Decision>();
  /** The environment each failed hook ran with: resolve re-runs it with exactly that. */
  protected readonly failedEnv = new Map<string, Record<string, string>>();
  protected settling: Promise<void> = Promise.resolve();
  /** Events running right now per machine (the machine lock makes this at most 1). */
  protected readonly runningPerMachine = new Map<string, number>();
  /** Most events seen running at once on each machine, and across the model. */
  readonly maxRunningPerMachine: Record<string, number> = {};
  maxRunningOverall = 0;

  // ---------------------------------------------------------------- running events

  /** Runs events until every unit is idle (or blocked in a hook error). */
  settle(): Promise<void> {
    const run = this.settling.then(() => this.drain());
    // A failed settle must not poison the ones queued after it.
    this.settling = run.catch(() => undefined);
    return run;
  }

  protected nextFor(unitName: string): Decision | undefined {
    const retry = this.retry.get(unitName);
    if (retry !== undefined) return retry;
    return nextDecision(this.model, this.agent(unitName), unitName);
  }

  /**
   * `parallel: true` actions without an execution group run without the machine lock
   * (docs/charm-runtime.md, "Charm metadata": actions).
   */
  protected isLockFree(unit: Unit, decision: Decision): boolean {
    if (decision.event.kind !== 'action') return false;
    const action = this.model.applications[unit.app]?.charm.actions[decision.event.name];
    return action?.parallel === true && action.executionGroup === undefined;
  }

  protected async drain(): Promise<void> {
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

  protected setStatus(unit: Unit, status: StatusName, message: string): void {
    const value = statusValue(this.model, status, message);
    unit.workloadStatus = value;
    unit.statusHistory.push(value);
  }

  protected async runDecision(unit: Unit, decision: Decision, machine: string, takesLock: boolean): Promise<void> {
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
      if (this.hookTimeoutMs !== undefined) options.timeoutMs = this.hookTimeoutMs;
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
  protected afterEvent(unit: Unit, event: CharmEvent, _skipped: boolean): void {
    if (event.kind !== 'hook') return;
    if (event.name === 'start' && !unit.statusSetByCharm) this.setStatus(unit, 'unknown', '');
    if (event.name === 'remove') {
      unit.life = 'dead';
      this.setStatus(unit, 'terminated', '');
    }
  }

  /** Drops dead units, finished relations and applications; runs whenever the model may have moved on. */
  protected cleanup(): void {
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
}
