// What the model simulator (simulator.ts) takes and reports: charms, options, history, errors.
import { type CharmExecutor, type CharmMeta, type ConfigValue } from './model.js';
import { type RunEventOptions } from './session.js';

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

export interface SimulatorOptions {
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
  /**
   * [SUBSTRATE] How long a process charm's hook or action may run before it is killed and the
   * run counted as failed (Juju sets no limit: a stuck hook holds its unit for ever, saying
   * nothing). The `dispatch` run leads its own process group, and the whole group gets SIGTERM,
   * then SIGKILL 3 s later: what a substrate's wrapper started (`lxc exec`, which passes TERM on
   * into the container, or `ip netns exec`) ends with it. Unset: no limit.
   */
  hookTimeoutMs?: number;
}
