// The local substrate's ModelDriver: every call is a request to the model's local controller
// (controller.ts) over its socket, the same path `turku-local` (cli.ts) takes, so the
// integration scenarios and a user at the CLI drive one model the same way. The controller runs
// as a detached process (it outlives the driver), or, when the caller brings stand-in charms of
// its own (functions, which cannot cross a process), inside this process, still on the socket.
// A test and demo substrate, not a place to keep backups.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { removeTreeWithImmutables } from '../../common/remove-tree.js';
import type { ActionOutcome, ExecOutcome, ModelDriver, ModelStatus, WaitOptions } from '../driver.js';
import { parseJujuStatus } from '../juju-status.js';
import { deleteModelMachines } from '../lxd/model-machines.js';
import { prepareLxdSubstrate } from '../lxd/prepare.js';
import { waitForStatus } from '../wait.js';
import {
  type ControllerSettings,
  LocalController,
  type MachinesKind,
  type StandIn,
  SUBSTRATE_FILE,
  type SubstrateState,
} from './controller.js';
import { controllerAnswers, request, startControllerProcess, stopController } from './controller-client.js';
import { type ControllerRequest, controllerFiles } from './controller-protocol.js';
import { type ControllerServer, serveController } from './controller-server.js';
import { machineRoot } from './machine.js';
import { gatewayAddress, removeNetwork } from './network.js';

export type { StandIn, StandInContext } from './controller.js';

/** Where models live by default; not under /tmp, whose mode sshd's StrictModes refuses. */
export const DEFAULT_BASE_DIR = '/var/lib/turku-local';

/** `machines: 'lxd'` places the machines in LXD system containers (lib/substrate/lxd). */
export interface LocalDriverOptions extends ControllerSettings {
  /** Model name (default `local-<hex>`); its files are in `<baseDir>/<model>`. */
  readonly model?: string;
  readonly baseDir?: string;
  /** Stand-in charms by name besides `ubuntu`; given any, the controller runs in this process. */
  readonly standIns?: Readonly<Record<string, StandIn>>;
}

interface InProcess {
  readonly controller: LocalController;
  readonly server: ControllerServer;
}

interface LogLine {
  unit: string;
  level: string;
  source: string;
  event: string;
  message: string;
}

export function validModelName(model: string): string {
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(model)) throw new Error(`invalid model name "${model}"`);
  return model;
}

export class LocalDriver implements ModelDriver {
  readonly kind = 'local';
  private released = false;

  private constructor(
    readonly model: string,
    /** `<baseDir>/<model>`: machine roots, unpacked charms, the controller's socket, state and log. */
    readonly modelDir: string,
    readonly substrate: SubstrateState,
    private readonly inProcess?: InProcess,
  ) {}

  /** A new model with its controller (detached, or in this process when given stand-ins). */
  static async create(options: LocalDriverOptions = {}): Promise<LocalDriver> {
    const model = validModelName(options.model ?? `local-${randomBytes(3).toString('hex')}`);
    const modelDir = join(options.baseDir ?? DEFAULT_BASE_DIR, model);
    const settings: ControllerSettings = {
      ...(options.agentPingIntervalMs === undefined ? {} : { agentPingIntervalMs: options.agentPingIntervalMs }),
      ...(options.updateStatusIntervalMs === undefined
        ? {}
        : { updateStatusIntervalMs: options.updateStatusIntervalMs }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.machines === undefined ? {} : { machines: options.machines }),
    };
    // LXD's first set-up builds the machines' image (minutes): before the controller's start, which is timed.
    if (options.machines === 'lxd') await prepareLxdSubstrate();
    await LocalController.createModel(modelDir, model, settings);
    try {
      if (Object.keys(options.standIns ?? {}).length > 0) {
        return await LocalDriver.inThisProcess(modelDir, options.standIns ?? {});
      }
      await startControllerProcess(modelDir);
      return await LocalDriver.connect(modelDir);
    } catch (error) {
      await LocalDriver.teardown(modelDir);
      throw error;
    }
  }

  private static async inThisProcess(
    modelDir: string,
    standIns: Readonly<Record<string, StandIn>>,
  ): Promise<LocalDriver> {
    const controller = await LocalController.start(modelDir, standIns);
    const server = await serveController(controller, controllerFiles(modelDir).socket);
    const driver = new LocalDriver(controller.substrate.model, modelDir, controller.substrate, { controller, server });
    // `turku-local destroy-model` (or a shutdown request) ends it as it ends a detached one.
    void server.shutdownRequested.then(() => driver.detach());
    return driver;
  }

  /** The existing model in `modelDir`; its controller is started (detached) if none answers. */
  static async connect(modelDir: string): Promise<LocalDriver> {
    const text = await readFile(join(modelDir, SUBSTRATE_FILE), 'utf8').catch(() => undefined);
    if (text === undefined) throw new Error(`no model in ${modelDir}`);
    const substrate = JSON.parse(text) as SubstrateState;
    if (!(await controllerAnswers(modelDir))) await startControllerProcess(modelDir);
    return new LocalDriver(substrate.model, modelDir, substrate);
  }

  /** Stops the model's controller and removes its machines, network, processes and files. */
  static async teardown(modelDir: string): Promise<void> {
    await stopController(modelDir);
    const text = await readFile(join(modelDir, SUBSTRATE_FILE), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      const substrate = JSON.parse(text) as SubstrateState;
      if (substrate.machines === 'lxd') await deleteModelMachines(substrate.model);
      await removeNetwork(substrate.subnet);
    }
    removeTreeWithImmutables(modelDir);
  }

  /** This host's address on the machines' network (of a detached controller: namespaces only). */
  get gateway(): string {
    if (this.inProcess !== undefined) return this.inProcess.controller.gateway;
    if (this.machinesKind !== 'namespaces')
      throw new Error(`the gateway of ${this.machinesKind} machines is the controller's`);
    return gatewayAddress(this.substrate.subnet);
  }

  /** What the machines are: `namespaces` or `lxd`. */
  get machinesKind(): MachinesKind {
    return this.substrate.machines ?? 'namespaces';
  }

  /** Where a machine's `/` is on this host (of a detached controller: namespaces only). */
  rootOf = (machineId: string): string => {
    if (this.inProcess !== undefined) return this.inProcess.controller.rootOf(machineId);
    if (this.machinesKind !== 'namespaces')
      throw new Error(`the roots of ${this.machinesKind} machines are the controller's`);
    return machineRoot(this.modelDir, machineId);
  };

  private call<T = unknown>(body: ControllerRequest): Promise<T> {
    if (this.released) return Promise.reject(new Error(`model ${this.model}: this driver has let go of it`));
    return request<T>(controllerFiles(this.modelDir).socket, body);
  }

  /** Juju's periodic update-status hook on every unit, now. */
  async updateStatus(): Promise<void> {
    await this.call({ op: 'update-status' });
  }

  /** One turku-agent-ping per machine with an installed agent, as its timer would run it. */
  async pingAgents(): Promise<void> {
    await this.call({ op: 'ping-agents' });
  }

  async deployBundle(bundle: string, options: { overlays?: readonly string[] } = {}): Promise<void> {
    await this.call({
      op: 'deploy-bundle',
      bundle: resolve(bundle),
      overlays: (options.overlays ?? []).map((overlay) => resolve(overlay)),
    });
  }

  async deploy(
    charm: string,
    app: string,
    options: { config?: Readonly<Record<string, string | number | boolean>>; numUnits?: number } = {},
  ): Promise<void> {
    await this.call({
      op: 'deploy',
      charm: charm.endsWith('.charm') ? resolve(charm) : charm,
      app,
      ...(options.config === undefined ? {} : { config: { ...options.config } }),
      ...(options.numUnits === undefined ? {} : { numUnits: options.numUnits }),
    });
  }

  async integrate(a: string, b: string): Promise<void> {
    await this.call({ op: 'integrate', a, b });
  }

  async removeRelation(a: string, b: string): Promise<void> {
    await this.call({ op: 'remove-relation', a, b });
  }

  async addUnit(app: string, count = 1): Promise<string[]> {
    return (await this.call<{ units: string[] }>({ op: 'add-unit', app, count })).units;
  }

  async removeUnit(unit: string): Promise<void> {
    await this.call({ op: 'remove-unit', unit });
  }

  async config(app: string, values: Readonly<Record<string, string | number | boolean>>): Promise<void> {
    await this.call({ op: 'config', app, values: { ...values } });
  }

  async runAction(
    unit: string,
    action: string,
    params: Readonly<Record<string, unknown>> = {},
  ): Promise<ActionOutcome> {
    const task = await this.call<ActionOutcome>({ op: 'run', unit, action, params: { ...params } });
    return { status: task.status, message: task.message, results: task.results };
  }

  exec(unit: string, script: string): Promise<ExecOutcome> {
    return this.call<ExecOutcome>({ op: 'exec', unit, argv: ['sh', '-c', script] });
  }

  async status(): Promise<ModelStatus> {
    return parseJujuStatus(await this.call({ op: 'status' }));
  }

  async waitUntil(predicate: (status: ModelStatus) => boolean, options: WaitOptions = {}): Promise<ModelStatus> {
    try {
      return await waitForStatus(() => this.status(), predicate, options);
    } catch (error) {
      // What `juju debug-log` would show: the failed hooks' last lines.
      const log = await this.debugLog().catch(() => '');
      if (error instanceof Error && log !== '') error.message += `\nhook errors:\n${log}`;
      throw error;
    }
  }

  /** The last error lines each unit logged (juju-log ERROR, stderr), most recent last. */
  async debugLog(linesPerUnit = 5): Promise<string> {
    const { lines } = await this.call<{ lines: LogLine[] }>({ op: 'debug-log' });
    const byUnit = new Map<string, string[]>();
    for (const line of lines) {
      if (line.level !== 'ERROR' && line.source !== 'stderr') continue;
      const kept = byUnit.get(line.unit) ?? [];
      kept.push(`  ${line.unit} ${line.event}: ${line.message.trim()}`);
      byUnit.set(line.unit, kept.slice(-linesPerUnit));
    }
    return [...byUnit.values()].flat().join('\n');
  }

  /**
   * Lets go of the model without removing it. A detached controller keeps serving it (the CLI
   * drives it on); one in this process stops, and the model waits, saved, for
   * `LocalDriver.connect` or `turku-local bootstrap` to start a controller on it again.
   */
  async detach(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.inProcess !== undefined) {
      await this.inProcess.server.close();
      await this.inProcess.controller.close();
    }
  }

  async destroy(): Promise<void> {
    // Machines from a provider (LXD containers) go with the model; namespaces go in teardown.
    await this.inProcess?.controller.destroyMachines();
    await this.detach();
    if (existsSync(this.modelDir)) await LocalDriver.teardown(this.modelDir);
  }
}
