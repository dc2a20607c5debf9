// A single-unit context in the style of ops Scenario: state in, one event, state out. Unlike
// Scenario it runs the charm against the same fake hook tools as the model simulator (so exit
// codes and stderr texts are Juju's), shows commit and rollback (a failed event returns the
// input's relation data, ports, stored state, secrets and storage, but keeps statuses, the
// workload version, leader data and logs), can express an application-level relation-changed
// (empty JUJU_REMOTE_UNIT) and rejects impossible input states before running anything.
//
// The scenario's parts: its data (scenario-state.ts), the input after defaults (scenario-input.ts),
// the consistency check (scenario-check.ts), the model built from it (scenario-model.ts), the
// event as run (scenario-event.ts) and the state read back (scenario-output.ts).
import { type CharmExecutor, type CharmMeta, type Unit } from './model.js';
import { checkScenario } from './scenario-check.js';
import { toCharmEvent } from './scenario-event.js';
import { resolve } from './scenario-input.js';
import { type ModelInput, buildModel } from './scenario-model.js';
import { readState } from './scenario-output.js';
import { type DeepReadonly, type Output, type ScenarioEvent, type State, deepFreeze } from './scenario-state.js';
import { type RunEventOptions, runEvent } from './session.js';

// Tests import the scenario's data types and event builders from here, with Context.
export {
  InconsistentScenarioError,
  type Output,
  type RelationState,
  type ScenarioEvent,
  type SecretOwner,
  type SecretState,
  type State,
  type StatusState,
  type StorageState,
  events,
} from './scenario-state.js';

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

export class Context implements ModelInput {
  readonly meta: CharmMeta;
  readonly appName: string;
  readonly unitName: string;
  readonly executor: CharmExecutor;
  readonly jujuVersion: string | undefined;
  readonly now: (() => Date) | undefined;
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
    const resolved = resolve(this, input);
    checkScenario(this, event, input, resolved);
    const model = buildModel(this, input, resolved, event);
    const charmEvent = toCharmEvent(this, model, event, input, resolved);
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
      state: deepFreeze(readState(this, model, input, resolved)),
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
}
