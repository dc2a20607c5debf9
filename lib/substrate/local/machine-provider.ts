// The seam where the local substrate's machines can come from somewhere other than a root
// directory and a network namespace (lib/substrate/local/machine.ts): a provider places each Juju
// machine (lib/substrate/lxd: an LXD system container), runs the units' hooks there and `juju
// exec` scripts. The driver keeps the model, the simulator and the hook-tool server.
import type { SimCharm } from '../../charm-testing/simulator.js';
import type { ExecOutcome } from '../driver.js';

export interface MachineProviderContext {
  readonly model: string;
  readonly modelDir: string;
  /** The simulator's hook-tool server socket, for the machines' hooks to reach. */
  readonly toolSocket: string;
  /** The model's agent ping interval, where it is set (controller.ts ControllerSettings). */
  readonly agentPingIntervalMs?: number;
}

export interface MachineProvider {
  /** The host's address on the machines' network: services on this host are reached there. */
  readonly gateway: string;
  /** The address of machine number N, as the simulator reports it. */
  address(machineNumber: number): string;
  /** Makes the machine (idempotent: called before every event on it). */
  provision(machineId: string, address: string): Promise<void>;
  /** Where the machine's `/` is on the host, for stand-in charms that write there. */
  rootOf(machineId: string): string;
  /** The packed charm with its hooks run on the unit's machine. */
  charm(packed: SimCharm): Promise<SimCharm>;
  /** The host command that runs the command appended to it as root on the machine (`juju ssh`). */
  loginArgv(machineId: string): string[];
  /** `juju exec`: a shell script as root on the machine, MACHINE_ROOT empty. */
  exec(machineId: string, script: string): Promise<ExecOutcome>;
  /**
   * The machines run systemd, whose timers ping the agents: the controller's clock does not
   * (a set agent ping interval is the timers' then).
   */
  readonly runsTimers: boolean;
  /** Removes the machines. */
  destroy(): Promise<void>;
}

export type MachineProviderFactory = (context: MachineProviderContext) => Promise<MachineProvider>;
