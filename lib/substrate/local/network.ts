// The local substrate's network: one Linux bridge per model and one network namespace per
// machine, joined to the bridge by a veth pair and given the address the model's simulator
// reports for that machine (network-get, relation ingress-address), so the charms' real
// addresses lead somewhere. The root namespace holds the bridge's gateway address and reaches
// every machine; nothing is forwarded beyond the bridge.
import { randomInt } from 'node:crypto';
import { execa } from 'execa';

export interface Subnet {
  /** Four hex digits naming the model's interfaces and namespaces. */
  readonly tag: string;
  /** `10.X.Y` */
  readonly prefix: string;
}

export const NETNS_PREFIX = 'turku-local-';
const GATEWAY_HOST = 254;
/** Machine numbers map to host addresses .1 to .250. */
export const MAX_MACHINES = 250;

export function bridgeName(subnet: Subnet): string {
  return `tkb${subnet.tag}`;
}

export function gatewayAddress(subnet: Subnet): string {
  return `${subnet.prefix}.${GATEWAY_HOST}`;
}

export function machineAddress(subnet: Subnet, machineNumber: number): string {
  if (!Number.isInteger(machineNumber) || machineNumber < 0 || machineNumber >= MAX_MACHINES) {
    throw new Error(`the local substrate has room for machines 0-${MAX_MACHINES - 1}, not ${machineNumber}`);
  }
  return `${subnet.prefix}.${machineNumber + 1}`;
}

/** `turku-local-<tag>-m<N>`; a container id `0/lxd/1` becomes `0-lxd-1`. */
export function namespaceName(subnet: Subnet, machineId: string): string {
  return `${NETNS_PREFIX}${subnet.tag}-m${machineId.replaceAll('/', '-')}`;
}

function vethName(subnet: Subnet, machineId: string): string {
  // Interface names have at most 15 characters.
  const name = `tk${subnet.tag}m${machineId.replaceAll('/lxd/', 'c')}`;
  if (name.length > 14) throw new Error(`machine id ${machineId} is too long for an interface name`);
  return name;
}

async function ip(args: readonly string[]): Promise<string> {
  const result = await execa('ip', args, { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim().split('\n').pop() ?? ''}`);
  return result.stdout;
}

/** /24 networks of 10.0.0.0/8 already routed or addressed here, to stay clear of. */
export async function takenPrefixes(): Promise<Set<string>> {
  const text = `${await ip(['-4', 'route', 'show', 'table', 'all'])}\n${await ip(['-4', '-o', 'addr', 'show'])}`;
  const taken = new Set<string>();
  for (const match of text.matchAll(/\b10\.(\d{1,3})\.(\d{1,3})\.\d{1,3}(?:\/(\d{1,2}))?\b/g)) {
    const bits = Number(match[3] ?? '32');
    // A route wider than /16 under 10/8 would cover many of ours: mark its whole second octet.
    if (bits < 16) for (let y = 0; y < 256; y++) taken.add(`10.${match[1]}.${y}`);
    else taken.add(`10.${match[1]}.${match[2]}`);
  }
  return taken;
}

/** Creates the model's bridge on a free 10.X.Y.0/24 (X in 64-254, clear of common container networks). */
export async function createBridge(): Promise<Subnet> {
  const taken = await takenPrefixes();
  for (let attempt = 0; attempt < 50; attempt++) {
    const x = randomInt(64, 255);
    const y = randomInt(0, 256);
    const prefix = `10.${x}.${y}`;
    if (taken.has(prefix)) continue;
    const subnet = { tag: x.toString(16).padStart(2, '0') + y.toString(16).padStart(2, '0'), prefix };
    const bridge = bridgeName(subnet);
    const made = await execa('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'], { reject: false });
    if (made.exitCode !== 0) {
      if (/exists/i.test(made.stderr)) continue;
      throw new Error(`ip link add ${bridge} type bridge: ${made.stderr.trim()}`);
    }
    await ip(['addr', 'add', `${gatewayAddress(subnet)}/24`, 'dev', bridge]);
    await ip(['link', 'set', bridge, 'up']);
    return subnet;
  }
  throw new Error('no free 10.X.Y.0/24 network for the local substrate after 50 attempts');
}

/** A machine's namespace on the bridge, with `address`/24, loopback up and a route via the gateway. */
export async function createMachineNamespace(subnet: Subnet, machineId: string, address: string): Promise<string> {
  const netns = namespaceName(subnet, machineId);
  const outside = vethName(subnet, machineId);
  const inside = `${outside}p`;
  await ip(['netns', 'add', netns]);
  await ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', netns]);
  await ip(['link', 'set', outside, 'master', bridgeName(subnet)]);
  await ip(['link', 'set', outside, 'up']);
  await ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', inside]);
  await ip(['-n', netns, 'link', 'set', inside, 'up']);
  await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', netns, 'route', 'add', 'default', 'via', gatewayAddress(subnet)]);
  return netns;
}

/** The arguments of `ip` that run argv on a machine's network: `ip netns exec <netns> argv...`. */
export function inNamespace(netns: string, argv: readonly string[]): string[] {
  return ['netns', 'exec', netns, ...argv];
}

/**
 * Kills every process left in the model's namespaces (the API, sshd, agents' sessions),
 * deletes them and the bridge. Idempotent, and works from the names alone, so a teardown in a
 * later process (the demo's `down`) finds what an earlier one made.
 */
export async function removeNetwork(subnet: Subnet): Promise<void> {
  const listed = await execa('ip', ['netns', 'list'], { reject: false, stdin: 'ignore' });
  const mine = listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${NETNS_PREFIX}${subnet.tag}-`));
  for (const netns of mine) {
    const pids = await execa('ip', ['netns', 'pids', netns], { reject: false, stdin: 'ignore' });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await execa('ip', ['netns', 'del', netns], { reject: false, stdin: 'ignore' });
  }
  await execa('ip', ['link', 'del', bridgeName(subnet)], { reject: false, stdin: 'ignore' });
}
