// What a model simulator (simulator.ts) writes down so another process can carry on with the
// model: the model's plain data (applications, units, relations and their data, config,
// machines, secrets, storage, statuses, tasks, logs) and each unit agent's small private state.
// Not saved: the charms' executors (functions; the loader rebuilds them from where each charm
// came from), the event history, and a failed hook's pending retry (the unit stays in error;
// `resolve --no-retry` still clears it).
import type { AgentState } from './scheduler.js';
import type { Application, CharmExecutor, Model } from './model.js';

/** How many log lines are kept across a save (juju debug-log keeps a bounded log too). */
export const SAVED_LOG_LINES = 5000;

export type SavedApplication = Omit<Application, 'executor'>;

export interface SavedSimulatorState {
  readonly version: 1;
  readonly model: Omit<Model, 'now' | 'applications'> & { applications: Record<string, SavedApplication> };
  readonly agents: Record<string, AgentState>;
  readonly storageDirectives: Record<string, Record<string, number>>;
}

/** The model as plain JSON-able data (a deep copy: later changes do not leak into it). */
export function saveModel(
  model: Model,
  agents: ReadonlyMap<string, AgentState>,
  storageDirectives: ReadonlyMap<string, Record<string, number>>,
): SavedSimulatorState {
  const { now: _now, applications, logs, ...rest } = model;
  const saved = {
    ...rest,
    logs: logs.slice(-SAVED_LOG_LINES),
    applications: Object.fromEntries(
      Object.entries(applications).map(([name, { executor: _executor, ...app }]) => [name, app]),
    ),
  };
  return structuredClone({
    version: 1,
    model: saved,
    agents: Object.fromEntries(agents),
    storageDirectives: Object.fromEntries(storageDirectives),
  });
}

/**
 * Puts a saved model into `model` (keeping its clock), with each application's executor from
 * `executorOf`. A task that was running when the state was saved cannot finish any more: it is
 * marked aborted, as Juju marks the tasks of an agent that went away.
 */
export function loadModel(
  model: Model,
  saved: SavedSimulatorState,
  executorOf: (app: SavedApplication) => CharmExecutor,
): { agents: Map<string, AgentState>; storageDirectives: Map<string, Record<string, number>> } {
  if (saved.version !== 1) throw new Error(`saved model state version ${String(saved.version)} is not 1`);
  const copy = structuredClone(saved);
  const applications: Record<string, Application> = {};
  for (const [name, app] of Object.entries(copy.model.applications)) {
    applications[name] = { ...app, executor: executorOf(app) };
  }
  Object.assign(model, { ...copy.model, applications, now: model.now });
  for (const task of Object.values(model.tasks)) {
    if (task.status === 'running') {
      task.status = 'aborted';
      task.message = 'the controller stopped while the task ran';
    }
  }
  return {
    agents: new Map(Object.entries(copy.agents)),
    storageDirectives: new Map(Object.entries(copy.storageDirectives)),
  };
}
