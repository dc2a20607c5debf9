// The local substrate: deploys the packed charms on this machine, each Juju machine a root
// directory plus a network namespace (lib/substrate/local/machine.ts), through the Juju fake's
// model simulator with the charms' real `dispatch` processes calling the fake's hook tools. The
// workloads are real: turku-api serving, an sshd per machine, agents pinging on this driver's
// clock instead of systemd timers. A test and demo substrate, not a place to keep backups.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

import { parseBundle } from '../../charm-testing/bundle.js';
import { removeTreeWithImmutables } from '../../common/remove-tree.js';
import { ModelSimulator, type SimCharm } from '../../charm-testing/simulator.js';
import { ToolServer } from '../../charm-testing/tool-server.js';
import type { ActionOutcome, ExecOutcome, ModelDriver, ModelStatus, WaitOptions } from '../driver.js';
import { parseJujuStatus } from '../juju-status.js';
import { waitForStatus } from '../wait.js';
import { type LocalMachine, machineRoot, provisionMachine } from './machine.js';
import type { MachineProvider, MachineProviderFactory } from './machine-provider.js';
import {
  createBridge,
  gatewayAddress,
  inNamespace,
  machineAddress,
  namespaceName,
  removeNetwork,
  type Subnet,
} from './network.js';
import { packedCharm } from './packed-charms.js';
import { ubuntuStandIn } from './stand-ins.js';

/** Where models live by default; not under /tmp, whose mode sshd's StrictModes refuses. */
export const DEFAULT_BASE_DIR = '/var/lib/turku-local';
const STATE_FILE = 'substrate.json';
const FIVE_MINUTES = 5 * 60 * 1000;

/** What a stand-in charm may need of the substrate. */
export interface StandInContext {
  /** Maps a machine id to the directory holding its `/`. */
  readonly rootOf: (machineId: string) => string;
  /** The root namespace's address on the model's bridge: services on this host are reached there. */
  readonly gateway: string;
}

/** A charm the substrate runs in place of a Charmhub one. */
export type StandIn = (context: StandInContext) => SimCharm;

export interface LocalDriverOptions {
  /** Model name (default `local-<hex>`); its files are in `<baseDir>/<model>`. */
  readonly model?: string;
  readonly baseDir?: string;
  /** How often every agent machine runs turku-agent-ping (default 5 min, as its timer). 0: never. */
  readonly agentPingIntervalMs?: number;
  /** How often Juju's update-status hook runs (default 5 min). 0: never. */
  readonly updateStatusIntervalMs?: number;
  /** More stand-in charms by name, besides `ubuntu`. */
  readonly standIns?: Readonly<Record<string, StandIn>>;
  readonly seed?: number;
  /** Machines from elsewhere than a root directory and a namespace (lib/substrate/lxd: containers). */
  readonly machines?: MachineProviderFactory;
}

interface SubstrateState {
  readonly model: string;
  readonly subnet: Subnet;
}

export class LocalDriver implements ModelDriver {
  readonly kind = 'local';
  private readonly machines = new Map<string, Promise<LocalMachine>>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pinging = new Set<string>();
  private destroyed = false;

  private constructor(
    readonly model: string,
    /** `<baseDir>/<model>`: machine roots, unpacked charms, logs. */
    readonly modelDir: string,
    private readonly subnet: Subnet,
    private readonly tools: ToolServer,
    readonly sim: ModelSimulator,
    private readonly standIns: Readonly<Record<string, StandIn>>,
    /** Where the machines are when not namespaces (machine-provider.ts). */
    readonly provider?: MachineProvider,
  ) {}

  static async create(options: LocalDriverOptions = {}): Promise<LocalDriver> {
    const model = options.model ?? `local-${randomBytes(3).toString('hex')}`;
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(model)) throw new Error(`invalid model name "${model}"`);
    const modelDir = join(options.baseDir ?? DEFAULT_BASE_DIR, model);
    if (existsSync(join(modelDir, STATE_FILE))) {
      throw new Error(`model ${model} already exists in ${modelDir}: tear it down first`);
    }
    await mkdir(modelDir, { recursive: true, mode: 0o755 });
    const subnet = await createBridge();
    const state: SubstrateState = { model, subnet };
    await writeFile(join(modelDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    const tools = await ToolServer.start();
    const provider = await options.machines?.({ model, modelDir, toolSocket: tools.socketPath });
    // eslint-disable-next-line prefer-const -- assigned once the simulator it serves exists
    let driver: LocalDriver | undefined;
    const sim = new ModelSimulator({
      name: model,
      seed: options.seed ?? 1,
      toolServer: tools,
      machineAddress: (number) => provider?.address(number) ?? machineAddress(subnet, number),
      prepareMachine: async (machine) =>
        provider === undefined
          ? void (await driver!.machine(machine.id, machine.address))
          : provider.provision(machine.id, machine.address),
    });
    driver = new LocalDriver(
      model,
      modelDir,
      subnet,
      tools,
      sim,
      { ubuntu: () => ubuntuStandIn(), ...options.standIns },
      provider,
    );
    if (provider?.runsTimers !== true) {
      driver.startClock(options.agentPingIntervalMs ?? FIVE_MINUTES, () => driver.pingAgents());
    }
    driver.startClock(options.updateStatusIntervalMs ?? FIVE_MINUTES, () => driver.updateStatus());
    return driver;
  }

  /** Juju's periodic update-status hook on every unit, now. */
  updateStatus(): Promise<void> {
    return this.change(() => this.sim.updateStatus());
  }

  /** Removes a model another process left running (the demo's `down`): its network, processes and files. */
  static async teardown(modelDir: string): Promise<void> {
    const text = await readFile(join(modelDir, STATE_FILE), 'utf8').catch(() => undefined);
    if (text !== undefined) await removeNetwork((JSON.parse(text) as SubstrateState).subnet);
    removeTreeWithImmutables(modelDir);
  }

  rootOf = (machineId: string): string => this.provider?.rootOf(machineId) ?? machineRoot(this.modelDir, machineId);

  get gateway(): string {
    return this.provider?.gateway ?? gatewayAddress(this.subnet);
  }

  /** The machine's root, namespace and address, provisioned on first use. */
  machine(id: string, address?: string): Promise<LocalMachine> {
    let machine = this.machines.get(id);
    if (machine === undefined) {
      const number = Number(id.split('/').pop());
      machine = provisionMachine(this.modelDir, this.subnet, id, address ?? machineAddress(this.subnet, number));
      this.machines.set(id, machine);
    }
    return machine;
  }

  private startClock(intervalMs: number, tick: () => Promise<unknown>): void {
    if (intervalMs <= 0) return;
    const timer = setInterval(() => {
      if (!this.destroyed) tick().catch((error: unknown) => void this.log(`clock: ${String(error)}`));
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  private async log(line: string): Promise<void> {
    await appendFile(join(this.modelDir, 'substrate.log'), `${new Date().toISOString()} ${line}\n`).catch(() => {});
  }

  /** Runs simulator operations one at a time, as Juju's controller serializes a model's changes. */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const next = this.queue.then(operation, operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async change(operation: () => Promise<unknown>): Promise<void> {
    await this.serial(async () => {
      await operation();
      await this.sim.settle();
    });
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
        netnsPrefix: namespaceName(this.subnet, ''),
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

  async deployBundle(bundle: string, options: { overlays?: readonly string[] } = {}): Promise<void> {
    const overlays = await Promise.all((options.overlays ?? []).map((file) => readFile(file, 'utf8')));
    const parsed = parseBundle(await readFile(bundle, 'utf8'), { bundleDir: dirname(bundle), overlays });
    const charms = new Map<string, SimCharm>();
    for (const app of Object.values(parsed.applications)) charms.set(app.charm, await this.charmFor(app.charm));
    await this.change(() => this.sim.deployBundle(bundle, (charm) => charms.get(charm)!, overlays));
  }

  async deploy(
    charm: string,
    app: string,
    options: { config?: Readonly<Record<string, string | number | boolean>>; numUnits?: number } = {},
  ): Promise<void> {
    const resolved = await this.charmFor(charm);
    await this.change(() =>
      this.sim.deploy(app, resolved, {
        ...(options.config === undefined ? {} : { config: { ...options.config } }),
        ...(options.numUnits === undefined ? {} : { numUnits: options.numUnits }),
      }),
    );
  }

  integrate(a: string, b: string): Promise<void> {
    return this.change(() => this.sim.integrate(a, b));
  }

  removeRelation(a: string, b: string): Promise<void> {
    return this.change(() => this.sim.removeRelation(a, b));
  }

  async addUnit(app: string, count = 1): Promise<string[]> {
    let added: string[] = [];
    await this.change(async () => {
      added = await this.sim.addUnit(app, count);
    });
    return added;
  }

  removeUnit(unit: string): Promise<void> {
    return this.change(() => this.sim.removeUnit(unit));
  }

  config(app: string, values: Readonly<Record<string, string | number | boolean>>): Promise<void> {
    return this.change(() => this.sim.config(app, { ...values }));
  }

  runAction(unit: string, action: string, params: Readonly<Record<string, unknown>> = {}): Promise<ActionOutcome> {
    return this.serial(async () => {
      const task = await this.sim.runAction(unit, action, { ...params });
      return { status: task.status, message: task.message, results: task.results };
    });
  }

  async exec(unit: string, script: string): Promise<ExecOutcome> {
    const found = this.sim.model.units[unit];
    if (found === undefined) throw new Error(`unit "${unit}" not found`);
    if (this.provider !== undefined) return this.provider.exec(found.machine, script);
    const machine = await this.machine(found.machine);
    const result = await execa(
      'ip',
      inNamespace(machine.netns, ['env', `MACHINE_ROOT=${machine.root}`, 'sh', '-c', script]),
      { reject: false, stdin: 'ignore' },
    );
    return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
  }

  status(): Promise<ModelStatus> {
    return Promise.resolve(parseJujuStatus(this.sim.status()));
  }

  async waitUntil(predicate: (status: ModelStatus) => boolean, options: WaitOptions = {}): Promise<ModelStatus> {
    try {
      return await waitForStatus(() => this.status(), predicate, options);
    } catch (error) {
      // What `juju debug-log` would show: the failed hooks' last lines.
      const log = this.debugLog();
      if (error instanceof Error && log !== '') error.message += `\nhook errors:\n${log}`;
      throw error;
    }
  }

  /** The last error lines each unit logged (juju-log ERROR, stderr), most recent last. */
  debugLog(linesPerUnit = 5): string {
    const byUnit = new Map<string, string[]>();
    for (const line of this.sim.model.logs) {
      if (line.level !== 'ERROR' && line.source !== 'stderr') continue;
      const lines = byUnit.get(line.unit) ?? [];
      lines.push(`  ${line.unit} ${line.event}: ${line.message.trim()}`);
      byUnit.set(line.unit, lines.slice(-linesPerUnit));
    }
    return [...byUnit.values()].flat().join('\n');
  }

  /**
   * Lets go of the model without removing it: the machines' processes (the API, sshd) keep
   * running and their files stay, for `teardown` from another process. The model can no longer
   * be changed: its Juju side lived in this process.
   */
  async detach(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.queue;
    await this.tools.close();
  }

  async destroy(): Promise<void> {
    const detached = this.destroyed;
    await this.detach();
    await this.provider?.destroy();
    if (!detached || existsSync(this.modelDir)) await LocalDriver.teardown(this.modelDir);
  }
}
