// A model's Juju machines as LXD containers: the machine provider the local substrate can use
// instead of a root directory and a network namespace. Each machine is launched from the
// substrate's image with the address the model simulator gave it (a fixed lease on the
// substrate's bridge), gets the hook tools and the agent socket (a `proxy` device to a relay on
// the host), and runs its units' hooks with `lxc exec` (hook-scripts.ts). The charms see a real
// machine: `/` is theirs, systemd runs it, so they take their systemd paths.
import { readFile, mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

import type { SimCharm } from '../../charm-testing/simulator.js';
import type { MachineProvider, MachineProviderFactory } from '../local/machine-provider.js';
import { HOOK_TOOL_NAMES, hookToolShimPath } from '../../charm-testing/tool-server.js';
import { AGENT_SOCKET, dispatchWrapper, SHIM_DIR, TOOLS_DIR, toolScript } from './hook-scripts.js';
import { containerName, containerPrefix, isModelContainer } from './container-names.js';
import { lxdAnswers } from './daemon.js';
import { debianArch } from './image.js';
import { lxc, LXC_TIMEOUT_MS, lxdHas } from './lxc.js';
import {
  deleteMachine,
  execIn,
  instancesNamed,
  launchMachine,
  type LxdMachine,
  pushText,
  resumeMachine,
} from './machine.js';
import { prepareLxdSubstrate } from './prepare.js';
import { POOL } from './resources.js';
import { ToolRelay } from './tool-relay.js';

export interface ModelMachinesOptions {
  readonly model: string;
  /** The image alias (ensureImage). */
  readonly image: string;
  /** `10.X.Y`: the substrate bridge's /24 (ensureResources' gatewayCidr). */
  readonly prefix: string;
  /** The model's directory on the host: relay sockets, dispatch wrappers, hooks.log. */
  readonly modelDir: string;
  /** The simulator's tool server socket. */
  readonly toolSocket: string;
  /** The bridge's address on the host. */
  readonly gateway?: string;
  /** How often the agent's timer pings (a drop-in on every machine); else as the charm sets it. */
  readonly agentPingIntervalMs?: number;
}

/** The drop-in that runs the agent's ping timer at once and then every `intervalMs`. */
export const AGENT_TIMER_DROP_IN = '/etc/systemd/system/turku-agent-ping.timer.d/local-substrate.conf';

export function agentTimerDropIn(intervalMs: number): string {
  // The charm's timer is monotonic (lib/timers/render.ts): its start-up delay is cleared, the
  // first run is a second after the timer starts, and the spread is left out. systemd's default
  // accuracy, a minute, would let it run the agent once in up to a minute instead of each interval.
  const seconds = Math.max(1, Math.round(intervalMs / 1000));
  return `[Timer]\nOnStartupSec=\nOnActiveSec=1s\nOnUnitActiveSec=${seconds}s\nRandomizedDelaySec=0\nAccuracySec=1s\n`;
}

/** Deletes every container of the model, whether or not a controller is running it. */
export async function deleteModelMachines(model: string): Promise<string[]> {
  // A stopped LXD runs none of them; the substrate's teardown deletes them when it runs again.
  if (!(await lxdAnswers())) return [];
  const names = (await instancesNamed(containerPrefix(model))).filter((name) => isModelContainer(name, model));
  for (const name of names) await deleteMachine(name);
  return names;
}

/** The host path of a container's `/` on the substrate's pool. */
export function containerRoot(name: string): string {
  return `/var/lib/lxd/storage-pools/${POOL}/containers/${name}/rootfs`;
}

export class LxdModelMachines implements MachineProvider {
  readonly runsTimers = true;

  private readonly machines = new Map<string, Promise<LxdMachine>>();
  private readonly relays: ToolRelay[] = [];

  constructor(private readonly options: ModelMachinesOptions) {}

  get gateway(): string {
    return this.options.gateway ?? `${this.options.prefix}.1`;
  }

  async provision(id: string, address: string): Promise<void> {
    await this.machine(id, address);
  }

  rootOf(machineId: string): string {
    return containerRoot(this.containerName(machineId));
  }

  containerName(machineId: string): string {
    return containerName(this.options.model, machineId);
  }

  get containerPrefix(): string {
    return containerPrefix(this.options.model);
  }

  /** Machine N's address: .10+N on the bridge (the low ones stay for the gateway and LXD's own). */
  address(machineNumber: number): string {
    if (machineNumber > 240) throw new Error(`the LXD substrate has room for machines 0-240, not ${machineNumber}`);
    return `${this.options.prefix}.${machineNumber + 10}`;
  }

  /** The machine, launched on first use with its hook tools and agent socket. */
  machine(id: string, address: string): Promise<LxdMachine> {
    let machine = this.machines.get(id);
    if (machine === undefined) {
      machine = this.launch(id, address);
      this.machines.set(id, machine);
    }
    return machine;
  }

  private async launch(id: string, address: string): Promise<LxdMachine> {
    const name = this.containerName(id);
    // A restarted controller finds its machines as it left them, hook tools and agent device
    // included: only the relay behind the device is new.
    const existing = await lxdHas(`/1.0/instances/${name}`);
    const machine = existing
      ? await resumeMachine(name)
      : await launchMachine(name, { image: this.options.image, address });
    const relayDir = join(this.options.modelDir, 'lxd');
    await mkdir(relayDir, { recursive: true });
    const relay = await ToolRelay.start(join(relayDir, `${name}.sock`), this.options.toolSocket, containerRoot(name));
    this.relays.push(relay);
    if (existing) return machine;
    await lxc([
      'config',
      'device',
      'add',
      name,
      'juju-agent',
      'proxy',
      `connect=unix:${relay.socketPath}`,
      `listen=unix:${AGENT_SOCKET}`,
      'bind=container',
      'mode=0600',
    ]);
    await this.installHookTools(name, relayDir);
    // Written before any charm installs the timer: systemd reads it with the unit.
    const interval = this.options.agentPingIntervalMs;
    if (interval !== undefined && interval > 0) await pushText(name, AGENT_TIMER_DROP_IN, agentTimerDropIn(interval));
    return machine;
  }

  /** The tool scripts and shim copies, written on the host and unpacked in the machine in one go. */
  private async installHookTools(name: string, workDir: string): Promise<void> {
    const staging = join(workDir, `${name}.tools`);
    const shim = await readFile(hookToolShimPath(), 'utf8');
    for (const dir of [SHIM_DIR, TOOLS_DIR]) await mkdir(join(staging, dir), { recursive: true });
    for (const tool of HOOK_TOOL_NAMES) {
      await writeFile(join(staging, SHIM_DIR, tool), shim, { mode: 0o644 });
      await writeFile(join(staging, TOOLS_DIR, tool), toolScript(tool), { mode: 0o755 });
    }
    const copied = await execa(
      'sh',
      ['-c', 'tar -C "$1" -cf - var | lxc exec "$2" -- tar -xf - -C /', 'sh', staging, name],
      { reject: false, stdin: 'ignore', timeout: LXC_TIMEOUT_MS },
    );
    await rm(staging, { recursive: true, force: true });
    if (copied.exitCode !== 0) {
      const reason = copied.timedOut ? `timed out after ${LXC_TIMEOUT_MS / 1000} s` : copied.stderr.trim();
      throw new Error(`installing the hook tools on ${name}: ${reason}`);
    }
  }

  /** A packed charm (lib/substrate/local/packed-charms.ts) with its hooks run in the unit's machine. */
  async charm(packed: SimCharm): Promise<SimCharm> {
    if (packed.executor.kind !== 'process') throw new Error('only packed charms run in LXD machines');
    const arch = await debianArch();
    const name = packed.meta.name;
    const wrapper = join(this.options.modelDir, 'lxd', 'dispatch', name);
    await mkdir(join(this.options.modelDir, 'lxd', 'dispatch'), { recursive: true });
    await writeFile(
      wrapper,
      dispatchWrapper({
        hostCharmDir: packed.executor.charmDir,
        containerPrefix: this.containerPrefix,
        skipNodeArchs: ['amd64', 'arm64'].filter((other) => other !== arch),
        hooksLog: join(this.options.modelDir, 'hooks.log'),
      }),
      { mode: 0o755 },
    );
    return { ...packed, executor: { ...packed.executor, dispatch: wrapper } };
  }

  loginArgv(machineId: string): string[] {
    return ['lxc', 'exec', this.containerName(machineId), '--env', 'MACHINE_ROOT=', '--'];
  }

  /** Runs a shell script on the machine as root (`juju exec`). */
  async exec(machineId: string, script: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    // Scripts written for both substrates address the machine's files as "$MACHINE_ROOT/...".
    return execIn(this.containerName(machineId), ['sh', '-c', script], { env: { MACHINE_ROOT: '' } });
  }

  /** Deletes the model's containers (also those this controller has not touched yet) and stops the relays. */
  async destroy(): Promise<void> {
    // Launches under way finish first, so that none makes a container after the deletion; one
    // still going after a minute is stuck in LXD, and its container goes all the same.
    const launches = [...this.machines.values()].map((machine) => machine.catch(() => undefined));
    await Promise.race([Promise.all(launches), sleep(60_000, undefined, { ref: false })]);
    this.machines.clear();
    await deleteModelMachines(this.options.model);
    for (const relay of this.relays.splice(0)) await relay.close();
    await rm(join(this.options.modelDir, 'lxd'), { recursive: true, force: true });
  }
}

/** The local substrate's machines as LXD containers: prepares LXD, its resources and the image first. */
export const lxdMachineProvider: MachineProviderFactory = async (context) => {
  const prepared = await prepareLxdSubstrate();
  return new LxdModelMachines({
    model: context.model,
    image: prepared.image.alias,
    prefix: prefixOf(prepared.resources.gatewayCidr),
    gateway: prepared.resources.gatewayCidr.split('/')[0]!,
    modelDir: context.modelDir,
    toolSocket: context.toolSocket,
    ...(context.agentPingIntervalMs === undefined ? {} : { agentPingIntervalMs: context.agentPingIntervalMs }),
  });
};

/** `10.X.Y` of a gateway CIDR `10.X.Y.1/24`. */
export function prefixOf(gatewayCidr: string): string {
  const match = /^(\d+\.\d+\.\d+)\.\d+\/24$/.exec(gatewayCidr);
  if (match === null) throw new Error(`the LXD substrate needs a /24 bridge, not ${gatewayCidr}`);
  return match[1]!;
}
