// One machine of the LXD substrate: a system container from the substrate's image, booted by its
// own systemd, reached by its address on the substrate's bridge. Launch waits until the machine
// is what a cloud machine is when Juju gets it: systemd finished booting and sshd answering.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { modelOfContainer } from './container-names.js';
import { lxc, lxdQuery, type LxcResult, tryLxc } from './lxc.js';
import { BRIDGE, PROFILE } from './resources.js';

export interface LxdMachine {
  /** The instance's name in LXD. */
  readonly name: string;
  readonly address: string;
  /** `systemctl is-system-running` once booted: running, or degraded with the failed units. */
  readonly systemState: string;
  readonly failedUnits: readonly string[];
  /** From `lxc start` to booted, address known and sshd answering (ms), for reports. */
  readonly timings: { readonly startMs: number; readonly bootedMs: number; readonly sshReadyMs: number };
}

export interface LaunchOptions {
  /** The image alias (image.ts ensureImage). */
  readonly image: string;
  /** A fixed address on the bridge (a DHCP lease LXD keeps for this machine); else LXD picks one. */
  readonly address?: string;
  /** Another LXD network for eth0 than the profile's bridge. */
  readonly network?: string;
  readonly timeoutMs?: number;
}

interface InstanceState {
  readonly status: string;
  readonly pid: number;
  readonly memory: { readonly usage: number };
  readonly disk?: Record<string, { readonly usage: number }>;
  readonly network?: Record<string, { readonly addresses: { family: string; address: string; scope: string }[] }>;
}

export function instanceState(name: string): Promise<InstanceState> {
  return lxdQuery<InstanceState>(`/1.0/instances/${name}/state`);
}

/** The instance's IPv4 address on eth0, if it has one yet. */
export async function instanceAddress(name: string): Promise<string | undefined> {
  const state = await instanceState(name);
  return state.network?.['eth0']?.addresses.find((a) => a.family === 'inet' && a.scope === 'global')?.address;
}

/** Runs argv in the machine as root (`lxc exec`), with `env` added; a non-zero exit is returned. */
export function execIn(
  name: string,
  argv: readonly string[],
  options: { env?: Readonly<Record<string, string>>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<LxcResult> {
  const env = Object.entries(options.env ?? {}).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
  const cwd = options.cwd === undefined ? [] : ['--cwd', options.cwd];
  return tryLxc(['exec', name, ...env, ...cwd, '--', ...argv], {
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

/** Copies a host file or directory into the machine (`lxc file push`), making parents. */
export async function pushPath(name: string, source: string, target: string, recursive = false): Promise<void> {
  await lxc(['file', 'push', ...(recursive ? ['-r'] : []), '-p', source, `${name}${target}`]);
}

/** Writes text to a machine file, root-owned with `mode`. */
export async function pushText(name: string, target: string, text: string, mode = 0o644): Promise<void> {
  const dir = target.slice(0, target.lastIndexOf('/')) || '/';
  await execIn(name, ['mkdir', '-p', dir]);
  const written = await execIn(name, ['sh', '-c', `cat > "$1" && chmod ${mode.toString(8)} "$1"`, 'sh', target], {
    input: text,
  });
  if (written.exitCode !== 0) throw new Error(`writing ${target} on ${name}: ${written.stderr.trim()}`);
}

/** Whether something speaking SSH answers on address:22 (the banner starts `SSH-2.0-`). */
export function sshAnswers(address: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 22 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('SSH-2.0-')));
  });
}

async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Waits for the machine's systemd to finish booting (`is-system-running --wait`): `running`, or
 * `degraded` with the failed units named. Any other end state (maintenance, stopping) throws.
 */
async function waitBooted(name: string, deadline: number): Promise<{ state: string; failed: string[] }> {
  const state = await until(`systemd to boot ${name}`, deadline, async () => {
    const remaining = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    // An exec that LXD never ends (the machine's init not ready for it) is stopped and tried again.
    const result = await execIn(name, ['timeout', String(remaining), 'systemctl', 'is-system-running', '--wait'], {
      timeoutMs: remaining * 1000 + 5_000,
    });
    const text = result.stdout.trim();
    // Before systemd listens, exec fails or answers `offline`/empty: try again.
    return ['running', 'degraded', 'maintenance', 'stopping'].includes(text) ? text : undefined;
  });
  if (state !== 'running' && state !== 'degraded') throw new Error(`${name} booted into ${state}`);
  const failed =
    state === 'degraded'
      ? (await execIn(name, ['systemctl', '--failed', '--plain', '--no-legend'])).stdout
          .split('\n')
          .map((line) => line.trim().split(/\s+/)[0] ?? '')
          .filter(Boolean)
      : [];
  return { state, failed };
}

/** Creates and starts a machine, then waits for systemd, its address and sshd. */
export async function launchMachine(name: string, options: LaunchOptions): Promise<LxdMachine> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  if (options.address !== undefined) {
    const holder = await addressHolder(options.address, options.network ?? BRIDGE);
    if (holder !== undefined) throw new AddressTakenError(name, options.address, holder);
  }
  await lxc(['init', options.image, name, '--profile', PROFILE]);
  try {
    if (options.network !== undefined) {
      await lxc(['config', 'device', 'override', name, 'eth0', `network=${options.network}`]);
    }
    if (options.address !== undefined) {
      await lxc(['config', 'device', 'override', name, 'eth0', `ipv4.address=${options.address}`]);
    }
  } catch (error) {
    // A machine without the address it was launched for is nobody's: it would only hold its name.
    await deleteMachine(name);
    throw error;
  }
  return startAndWait(name, deadline);
}

/**
 * Another instance keeps the fixed address a launch asks for. LXD keeps a machine (stopped or
 * not) and its lease after the process that made it is killed, so this is what a model whose
 * controller died without destroying it leaves; the message says how to clear it.
 */
export class AddressTakenError extends Error {
  constructor(
    readonly machine: string,
    readonly address: string,
    readonly holder: string,
  ) {
    const model = modelOfContainer(holder);
    const remedy =
      model === undefined
        ? `delete it (lxc delete --force ${holder})`
        : `destroy its model (turku-local destroy-model ${model}) or delete it (lxc delete --force ${holder})`;
    super(`cannot launch ${machine} at ${address}: LXD instance ${holder} already has that address; ${remedy}`);
    this.name = 'AddressTakenError';
  }
}

/** The instance with a device on `network` that has `address` as its fixed lease, if any. */
async function addressHolder(address: string, network: string): Promise<string | undefined> {
  type Devices = Record<string, Record<string, string> | undefined>;
  const instances = await lxdQuery<{ name: string; expanded_devices?: Devices }[]>('/1.0/instances?recursion=1');
  const holds = (devices: Devices | undefined) =>
    Object.values(devices ?? {}).some((device) => device?.network === network && device['ipv4.address'] === address);
  return instances.find((instance) => holds(instance.expanded_devices))?.name;
}

/**
 * The machine as a restarted controller finds it: started again if it was stopped (a host
 * reboot), then waited for as a new one. Its disk, address lease and devices are as left.
 */
export async function resumeMachine(name: string, timeoutMs = 120_000): Promise<LxdMachine> {
  const deadline = Date.now() + timeoutMs;
  if ((await instanceState(name)).status === 'Running') return waitReady(name, Date.now(), 0, deadline);
  return startAndWait(name, deadline);
}

async function startAndWait(name: string, deadline: number): Promise<LxdMachine> {
  const started = Date.now();
  await lxc(['start', name]);
  return waitReady(name, started, Date.now() - started, deadline);
}

/** Waits for systemd, the address and sshd of a started machine. */
async function waitReady(name: string, started: number, startMs: number, deadline: number): Promise<LxdMachine> {
  const booted = await waitBooted(name, deadline);
  const bootedMs = Date.now() - started;
  const address = await until(`an address for ${name}`, deadline, () => instanceAddress(name));
  await until(`sshd on ${name} (${address})`, deadline, async () => ((await sshAnswers(address)) ? true : undefined));
  const sshReadyMs = Date.now() - started;
  return {
    name,
    address,
    systemState: booted.state,
    failedUnits: booted.failed,
    timings: { startMs, bootedMs, sshReadyMs },
  };
}

/** The names of the instances whose names start with `prefix`. */
export async function instancesNamed(prefix: string): Promise<string[]> {
  const urls = await lxdQuery<string[]>('/1.0/instances');
  return urls.map((url) => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1))).filter((n) => n.startsWith(prefix));
}

/** Stops and deletes the machine with its disk; nothing of it is left in LXD. */
export async function deleteMachine(name: string): Promise<void> {
  const gone = await tryLxc(['delete', '--force', name]);
  if (gone.exitCode !== 0 && !/not found/i.test(gone.stderr)) {
    throw new Error(`lxc delete --force ${name}: ${gone.stderr.trim()}`);
  }
}
