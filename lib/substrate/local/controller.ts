// The local controller (docs/integration.md, "The local controller"): what Juju's controller and
// unit agents are for a local model. It holds the model simulator and its hook-tool server, the
// machines (lib/substrate/local/machine.ts), the agents' ping clock and Juju's update-status
// clock, serializes the model's changes, and writes the model under its directory after each
// change so a controller started again on the directory carries on with the same model.
// It answers the requests of controller-protocol.ts; controller-server.ts puts it on a socket.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

import { parseCliParams } from '../../charm-testing/action-params.js';
import { parseBundle } from '../../charm-testing/bundle.js';
import { type SavedSimulatorState, ModelSimulator, type SimCharm } from '../../charm-testing/simulator.js';
import { ToolServer } from '../../charm-testing/tool-server.js';
import { type ExecOutcome } from '../driver.js';
import { lxdMachineProvider } from '../lxd/model-machines.js';
import {
  type ControllerRequest,
  type ParsedRequest,
  controllerFiles,
  controllerRequest,
} from './controller-protocol.js';
import { showUnit } from './show-unit.js';
import { type LocalMachine, ensureMachine, machineRoot } from './machine.js';
import type { MachineProvider, MachineProviderFactory } from './machine-provider.js';
import { createBridge, gatewayAddress, inNamespace, machineAddress, namespaceName, type Subnet } from './network.js';
import { packedCharm } from './packed-charms.js';
import { ubuntuStandIn } from './stand-ins.js';

const FIVE_MINUTES = 5 * 60 * 1000;

/** Where each kind of machine comes from; namespaces are the controller's own (machine.ts). */
const PROVIDERS: Record<MachinesKind, MachineProviderFactory | undefined> = {
  namespaces: undefined,
  lxd: lxdMachineProvider,
};
export const SUBSTRATE_FILE = 'substrate.json';

/** What a stand-in charm may need of the substrate. */
export interface StandInContext {
  /** Maps a machine id to the directory holding its `/`. */
  readonly rootOf: (machineId: string) => string;
  /** The root namespace's address on the model's bridge: services on this host are reached there. */
  readonly gateway: string;
}

/** A charm the substrate runs in place of a Charmhub one. */
export type StandIn = (context: StandInContext) => SimCharm;

/** What the model's machines are: network namespaces on this host, or LXD system containers. */
export const MACHINE_KINDS = ['namespaces', 'lxd'] as const;
export type MachinesKind = (typeof MACHINE_KINDS)[number];

export interface ControllerSettings {
  /** Default `namespaces`. Saved with the model, so a controller started again keeps its machines. */
  readonly machines?: MachinesKind;
  /**
   * How often every agent machine runs turku-agent-ping (default 5 min, as its timer). 0: never.
   * On LXD machines the agent's own systemd timer runs it, this often when set (0: as the charm set it).
   */
  readonly agentPingIntervalMs?: number;
  /** How often Juju's update-status hook runs (default 5 min). 0: never. */
  readonly updateStatusIntervalMs?: number;
  readonly seed?: number;
}

/** substrate.json: what the model was created with; read by a restarted controller and by teardown. */
export interface SubstrateState extends ControllerSettings {
  readonly model: string;
  readonly subnet: Subnet;
}

/** The answer to a `machine` request: how `turku-local ssh` starts a shell there. */
export interface MachineLogin {
  readonly id: string;
  /** The host command that runs the command appended to it as root on the machine. */
  readonly argv: readonly string[];
  readonly cwd?: string;
}

interface SavedState {
  readonly simulator: SavedSimulatorState;
  /** Where each application's charm came from (a .charm path or a stand-in's name), to load it again. */
  readonly charms: Record<string, string>;
}

/**
 * No hook or action of Turku's charms takes minutes: one that does is stuck (a database that
 * never answers, an exec LXD never ends): it is killed with what it started and shown as
 * failed, so that a test or the demo stops naming it instead of waiting for ever (Juju itself
 * sets no limit; SimulatorOptions.hookTimeoutMs says what goes on after the signal).
 */
export const HOOK_TIMEOUT_MS = 5 * 60_000;

export class LocalController {
  private readonly machines = new Map<string, Promise<LocalMachine>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pinging = new Set<string>();
  private readonly charms: Record<string, string> = {};
  private closed = false;
  readonly sim: ModelSimulator;

  private constructor(
    readonly modelDir: string,
    readonly substrate: SubstrateState,
    private readonly tools: ToolServer,
    private readonly standIns: Readonly<Record<string, StandIn>>,
    /** Where the machines are when not namespaces (machine-provider.ts: LXD containers). */
    private readonly provider?: MachineProvider,
  ) {
    this.sim = new ModelSimulator({
      name: substrate.model,
      seed: substrate.seed ?? 1,
      toolServer: tools,
      machineAddress: (number) => provider?.address(number) ?? machineAddress(substrate.subnet, number),
      hookTimeoutMs: HOOK_TIMEOUT_MS,
      prepareMachine: async (machine) =>
        provider === undefined
          ? void (await this.machine(machine.id, machine.address))
          : provider.provision(machine.id, machine.address),
    });
  }

  /** Makes a new model in `modelDir` (its bridge and substrate.json), ready for a controller. */
  static async createModel(modelDir: string, model: string, settings: ControllerSettings): Promise<void> {
    if (existsSync(join(modelDir, SUBSTRATE_FILE))) {
      throw new Error(`model ${model} already exists in ${modelDir}: tear it down first`);
    }
    await mkdir(modelDir, { recursive: true, mode: 0o755 });
    const subnet = await createBridge();
    const state: SubstrateState = { model, subnet, ...settings };
    await writeFile(join(modelDir, SUBSTRATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }

  /**
   * The controller of the model in `modelDir`, carrying on with its saved state if there is one.
   * `standIns` adds charms by name besides `ubuntu` (they live in this process).
   */
  static async start(modelDir: string, standIns: Readonly<Record<string, StandIn>> = {}): Promise<LocalController> {
    const text = await readFile(join(modelDir, SUBSTRATE_FILE), 'utf8').catch(() => undefined);
    if (text === undefined) throw new Error(`no model in ${modelDir}`);
    const substrate = JSON.parse(text) as SubstrateState;
    const machines = PROVIDERS[substrate.machines ?? 'namespaces'];
    // A killed controller leaves its hook-tool directory behind.
    for (const entry of await readdir(modelDir)) {
      if (entry.startsWith('juju-tools-')) await rm(join(modelDir, entry), { recursive: true, force: true });
    }
    const tools = await ToolServer.start({ dir: modelDir });
    let provider: MachineProvider | undefined;
    try {
      provider = await machines?.({
        model: substrate.model,
        modelDir,
        toolSocket: tools.socketPath,
        ...(substrate.agentPingIntervalMs === undefined ? {} : { agentPingIntervalMs: substrate.agentPingIntervalMs }),
      });
    } catch (error) {
      await tools.close();
      throw error;
    }
    const standInsByName = { ubuntu: () => ubuntuStandIn(), ...standIns };
    const controller = new LocalController(modelDir, substrate, tools, standInsByName, provider);
    try {
      await controller.load();
    } catch (error) {
      await tools.close();
      throw error;
    }
    // Where systemd runs the machines, the agents' own timers ping; elsewhere this clock does.
    if (provider?.runsTimers !== true) {
      controller.startClock(substrate.agentPingIntervalMs ?? FIVE_MINUTES, () => controller.pingAgents());
    }
    controller.startClock(substrate.updateStatusIntervalMs ?? FIVE_MINUTES, () => controller.updateStatus());
    await controller.log(`controller ${process.pid} serving model ${substrate.model}`);
    return controller;
  }

  get gateway(): string {
    return this.provider?.gateway ?? gatewayAddress(this.substrate.subnet);
  }

  rootOf = (machineId: string): string => this.provider?.rootOf(machineId) ?? machineRoot(this.modelDir, machineId);

  /** What the machines are, as saved with the model. */
  get machinesKind(): MachinesKind {
    return this.substrate.machines ?? 'namespaces';
  }

  /** Removes machines a provider made (the namespaces' machines go with the model's teardown). */
  async destroyMachines(): Promise<void> {
    await this.provider?.destroy();
  }

  /** The machine's root, namespace and address, provisioned on first use (or found as left). */
  machine(id: string, address?: string): Promise<LocalMachine> {
    let machine = this.machines.get(id);
    if (machine === undefined) {
      const number = Number(id.split('/').pop());
      machine = ensureMachine(
        this.modelDir,
        this.substrate.subnet,
        id,
        address ?? machineAddress(this.substrate.subnet, number),
      );
      this.machines.set(id, machine);
      machine.catch(() => this.machines.delete(id));
    }
    return machine;
  }

  /** Answers one protocol request (already parsed, or parsed here). */
  async handle(input: ParsedRequest | ControllerRequest): Promise<unknown> {
    const request = controllerRequest.parse(input);
    if (this.closed) throw new Error('the controller is shutting down');
    switch (request.op) {
      case 'status':
        return this.sim.status();
      case 'deploy': {
        const charm = await this.charmFor(request.charm);
        await this.change(async () => {
          await this.sim.deploy(request.app, charm, {
            ...(request.config === undefined ? {} : { config: { ...request.config } }),
            ...(request.numUnits === undefined ? {} : { numUnits: request.numUnits }),
          });
          this.charms[request.app] = request.charm;
        });
        return {};
      }
      case 'deploy-bundle':
        await this.deployBundle(request.bundle, request.overlays ?? []);
        return {};
      case 'add-unit': {
        let added: string[] = [];
        await this.change(async () => void (added = await this.sim.addUnit(request.app, request.count)));
        return { units: added };
      }
      case 'remove-unit':
        await this.change(() => this.sim.removeUnit(request.unit));
        return {};
      case 'integrate':
        await this.change(() => this.sim.integrate(request.a, request.b));
        return {};
      case 'remove-relation':
        await this.change(() => this.sim.removeRelation(request.a, request.b));
        return {};
      case 'config':
        if (request.values !== undefined && Object.keys(request.values).length > 0) {
          const values = request.values;
          await this.change(() => this.sim.config(request.app, { ...values }));
        }
        return this.configOf(request.app);
      case 'run': {
        // As `juju run`: key=value arguments override a --params file's values.
        const params = {
          ...request.params,
          ...(request.args === undefined
            ? {}
            : parseCliParams(request.args, { stringArgs: request.stringArgs === true })),
        };
        return this.serial(async () => {
          try {
            return await this.sim.runAction(request.unit, request.action, params);
          } finally {
            await this.save();
          }
        });
      }
      case 'exec':
        return this.exec(request.unit, request.argv);
      case 'machine':
        return this.login(this.unitNamed(request.unit).machine);
      case 'show-unit':
        return showUnit(this.sim, this.unitNamed(request.unit).name);
      case 'debug-log':
        return {
          lines: this.sim.model.logs.slice(-(request.lines ?? this.sim.model.logs.length)),
          total: this.sim.model.logs.length,
        };
      case 'update-status':
        await this.updateStatus();
        return {};
      case 'ping-agents':
        await this.pingAgents();
        return {};
      case 'shutdown':
        return {};
    }
  }

  private unitNamed(name: string) {
    const unit = this.sim.model.units[name];
    if (unit === undefined) throw new Error(`unit "${name}" not found`);
    return unit;
  }

  private configOf(appName: string): Record<string, unknown> {
    const app = this.sim.model.applications[appName];
    if (app === undefined) throw new Error(`application "${appName}" not found`);
    const settings: Record<string, unknown> = {};
    for (const [key, option] of Object.entries(app.charm.config)) {
      const set = app.config[key];
      settings[key] = {
        ...(option.description === undefined ? {} : { description: option.description }),
        source: set === undefined ? (option.default === undefined ? 'unset' : 'default') : 'user',
        type: option.type,
        ...((set ?? option.default) !== undefined ? { value: set ?? option.default } : {}),
      };
    }
    return { application: appName, charm: app.charm.name, settings };
  }

  /** How a root shell on the machine starts: `argv` with the command appended, in `cwd`. */
  private async login(machineId: string): Promise<MachineLogin> {
    if (this.provider !== undefined) return { id: machineId, argv: this.provider.loginArgv(machineId) };
    // A namespace and a root directory, not a container: the shell runs in the namespace,
    // starting in the machine's root, with MACHINE_ROOT pointing at it.
    const machine = await this.machine(machineId);
    return {
      id: machineId,
      argv: [
        'ip',
        ...inNamespace(machine.netns, ['env', `MACHINE_ROOT=${machine.root}`, `PS1=root@machine-${machineId}:\\w# `]),
      ],
      cwd: machine.root,
    };
  }

  /** Runs argv as root on the unit's machine: its namespace, MACHINE_ROOT its root. */
  async exec(unitName: string, argv: readonly string[]): Promise<ExecOutcome> {
    const machineId = this.unitNamed(unitName).machine;
    if (this.provider !== undefined) return this.provider.exec(machineId, shellCommand(argv));
    const machine = await this.machine(machineId);
    const result = await execa('ip', inNamespace(machine.netns, ['env', `MACHINE_ROOT=${machine.root}`, ...argv]), {
      reject: false,
      stdin: 'ignore',
    });
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  }

  /** Juju's periodic update-status hook on every unit, now. */
  updateStatus(): Promise<void> {
    return this.change(() => this.sim.updateStatus());
  }

  /** One turku-agent-ping per machine with an installed agent, as its timer would run it. */
  async pingAgents(): Promise<void> {
    const machines = new Set(
      Object.values(this.sim.model.units)
        .filter((unit) => unit.installed && this.sim.model.applications[unit.app]?.charm.name === 'turku-agent')
        .map((unit) => unit.machine),
    );
    await Promise.all([...machines].map((id) => this.pingAgentOn(id)));
  }

  /** Stops the clocks, waits for the change under way and closes the hook-tool server; the model stays. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.queue;
    await this.tools.close();
    await this.log(`controller ${process.pid} stopped`);
  }

  async log(line: string): Promise<void> {
    await appendFile(controllerFiles(this.modelDir).log, `${new Date().toISOString()} ${line}\n`).catch(() => {});
  }

  private async deployBundle(bundle: string, overlayFiles: readonly string[]): Promise<void> {
    const overlays = await Promise.all(overlayFiles.map((file) => readFile(file, 'utf8')));
    const parsed = parseBundle(await readFile(bundle, 'utf8'), { bundleDir: dirname(bundle), overlays });
    const charms = new Map<string, SimCharm>();
    for (const app of Object.values(parsed.applications)) charms.set(app.charm, await this.charmFor(app.charm));
    await this.change(async () => {
      await this.sim.deployBundle(bundle, (charm) => charms.get(charm)!, overlays);
      for (const app of Object.values(parsed.applications)) this.charms[app.name] = app.charm;
    });
  }

  private async load(): Promise<void> {
    const text = await readFile(controllerFiles(this.modelDir).state, 'utf8').catch(() => undefined);
    if (text === undefined) return;
    const saved = JSON.parse(text) as SavedState;
    const executors = new Map<string, SimCharm['executor']>();
    for (const [app, source] of Object.entries(saved.charms)) {
      if (saved.simulator.model.applications[app] !== undefined)
        executors.set(app, (await this.charmFor(source)).executor);
    }
    this.sim.loadState(saved.simulator, (app) => {
      const executor = executors.get(app.name);
      if (executor === undefined) throw new Error(`no charm recorded for application ${app.name}`);
      return executor;
    });
    Object.assign(this.charms, saved.charms);
  }

  /** Writes the model atomically (a crash mid-write leaves the previous state), root-only. */
  private async save(): Promise<void> {
    const { state } = controllerFiles(this.modelDir);
    const saved: SavedState = { simulator: this.sim.saveState(), charms: this.charms };
    await writeFile(`${state}.new`, JSON.stringify(saved), { mode: 0o600 });
    await rename(`${state}.new`, state);
  }

  private startClock(intervalMs: number, tick: () => Promise<unknown>): void {
    if (intervalMs <= 0) return;
    const timer = setInterval(() => {
      if (!this.closed) tick().catch((error: unknown) => void this.log(`clock: ${String(error)}`));
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** Runs model operations one at a time, as Juju's controller serializes a model's changes. */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.queue.then(operation, operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** A change, then every hook it causes, then the model saved (also when a hook failed). */
  private async change(operation: () => Promise<unknown>): Promise<void> {
    await this.serial(async () => {
      try {
        await operation();
        await this.sim.settle();
      } finally {
        await this.save();
      }
    });
  }

  private async pingAgentOn(id: string): Promise<void> {
    if (this.pinging.has(id)) return;
    // Where systemd runs the machine, the ping is its timer's service: run that now, and wait for it.
    if (this.provider !== undefined) {
      await this.provider.exec(id, 'systemctl start turku-agent-ping.service');
      return;
    }
    const machine = await this.machine(id);
    const program = join(machine.root, 'usr/local/bin/turku-agent-ping');
    if (!existsSync(program)) return;
    this.pinging.add(id);
    try {
      const result = await execa(
        'ip',
        inNamespace(machine.netns, [program, '--config-dir', join(machine.root, 'etc/turku-agent')]),
        { reject: false, stdin: 'ignore', all: true },
      );
      const log = join(machine.root, 'var/log/turku-agent/clock.log');
      await mkdir(dirname(log), { recursive: true });
      await appendFile(log, `${new Date().toISOString()} exit ${result.exitCode}\n${result.all ?? ''}\n`);
    } finally {
      this.pinging.delete(id);
    }
  }

  private async charmFor(charm: string): Promise<SimCharm> {
    if (charm.endsWith('.charm')) {
      const packed = await packedCharm(charm, this.modelDir, {
        machinesDir: join(this.modelDir, 'machines'),
        netnsPrefix: namespaceName(this.substrate.subnet, ''),
      });
      return this.provider === undefined ? packed : this.provider.charm(packed);
    }
    const standIn = this.standIns[charm.replace(/^ch:/, '')];
    if (standIn === undefined) {
      const known = Object.keys(this.standIns).join(', ');
      throw new Error(`the local substrate cannot deploy "${charm}": give a packed .charm file or one of ${known}`);
    }
    return standIn({ rootOf: this.rootOf, gateway: this.gateway });
  }
}

/** argv as one `sh -c` script, each word single-quoted. */
function shellCommand(argv: readonly string[]): string {
  return argv.map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ');
}
