// What the LXD substrate sets up inside LXD, once per host: a storage pool, a bridge and a
// profile that launches a machine on both. Everything is named `turku…`, so it is told apart
// from anything else the host's LXD holds and removed by name alone.
import { randomInt } from 'node:crypto';

import { takenPrefixes } from '../local/network.js';
import { lxc, lxdHas, lxdQuery, tryLxc } from './lxc.js';

export const POOL = 'turku';
export const BRIDGE = 'turkubr0';
export const PROFILE = 'turku';
/** The loop file behind a btrfs pool (sparse: it takes what the containers write). */
const POOL_SIZE = '12GiB';

export interface SubstrateResources {
  readonly pool: string;
  readonly driver: 'btrfs' | 'dir';
  readonly bridge: string;
  /** The bridge's address on the host, e.g. `10.12.34.1/24`. */
  readonly gatewayCidr: string;
  readonly profile: string;
}

/** A btrfs pool on a loop file (copy-on-write: a machine costs what it writes), else a `dir` pool. */
export async function ensureStoragePool(): Promise<'btrfs' | 'dir'> {
  if (await lxdHas(`/1.0/storage-pools/${POOL}`)) {
    return (await lxdQuery<{ driver: string }>(`/1.0/storage-pools/${POOL}`)).driver === 'btrfs' ? 'btrfs' : 'dir';
  }
  const btrfs = await tryLxc(['storage', 'create', POOL, 'btrfs', `size=${POOL_SIZE}`]);
  if (btrfs.exitCode === 0) return 'btrfs';
  await lxc(['storage', 'create', POOL, 'dir']);
  return 'dir';
}

/**
 * A 10.X.Y.1/24 clear of this host's routes and addresses (X in 64-254, as the namespace
 * substrate's bridges): LXD's own `auto` gives up on hosts without a default route it likes.
 */
async function freeGatewayCidr(): Promise<string> {
  const taken = await takenPrefixes();
  for (let attempt = 0; attempt < 100; attempt++) {
    const prefix = `10.${randomInt(64, 255)}.${randomInt(0, 256)}`;
    if (!taken.has(prefix)) return `${prefix}.1/24`;
  }
  throw new Error('no free 10.X.Y.0/24 for the LXD bridge after 100 attempts');
}

/**
 * The substrate's bridge on a free 10.X.Y.0/24: NAT so the machines reach the host's apt
 * mirror as a cloud machine reaches its own; no IPv6; LXD's dnsmasq gives out the leases.
 */
export async function ensureBridge(name = BRIDGE): Promise<string> {
  if (!(await lxdHas(`/1.0/networks/${name}`))) {
    const cidr = await freeGatewayCidr();
    await lxc(['network', 'create', name, `ipv4.address=${cidr}`, 'ipv4.nat=true', 'ipv6.address=none']);
  }
  const network = await lxdQuery<{ config: Record<string, string> }>(`/1.0/networks/${name}`);
  const cidr = network.config['ipv4.address'];
  if (cidr === undefined || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) {
    throw new Error(`LXD network ${name} has no IPv4 address (${cidr ?? 'none'})`);
  }
  return cidr;
}

/** The profile's YAML: the root disk on the pool, eth0 on the bridge. */
export function profileYaml(pool = POOL, bridge = BRIDGE): string {
  return [
    'description: Turku machine (lib/substrate/lxd)',
    'config:',
    '  boot.autostart: "false"',
    'devices:',
    '  root:',
    '    type: disk',
    '    path: /',
    `    pool: ${pool}`,
    '  eth0:',
    '    type: nic',
    '    name: eth0',
    `    network: ${bridge}`,
    '',
  ].join('\n');
}

export async function ensureProfile(): Promise<void> {
  if (!(await lxdHas(`/1.0/profiles/${PROFILE}`))) await lxc(['profile', 'create', PROFILE]);
  await lxc(['profile', 'edit', PROFILE], { input: profileYaml() });
}

/** Pool, bridge and profile, made where missing. LXD must be running (daemon.ts). */
export async function ensureResources(): Promise<SubstrateResources> {
  const driver = await ensureStoragePool();
  const gatewayCidr = await ensureBridge();
  await ensureProfile();
  return { pool: POOL, driver, bridge: BRIDGE, gatewayCidr, profile: PROFILE };
}

/** The instances launched with the substrate's profile. */
export async function substrateInstances(): Promise<string[]> {
  if (!(await lxdHas(`/1.0/profiles/${PROFILE}`))) return [];
  const profile = await lxdQuery<{ used_by?: string[] }>(`/1.0/profiles/${PROFILE}`);
  return (profile.used_by ?? [])
    .filter((url) => url.startsWith('/1.0/instances/'))
    .map((url) => decodeURIComponent(url.slice('/1.0/instances/'.length).split('?')[0]!));
}

/**
 * Removes every instance on the profile, then the profile, the bridge and the pool (with the
 * image volumes LXD unpacked into it). The imported images and the build cache stay, so the next
 * set-up does not rebuild. Idempotent.
 */
export async function removeResources(): Promise<string[]> {
  const removed: string[] = [];
  for (const instance of await substrateInstances()) {
    await lxc(['delete', '--force', instance]);
    removed.push(`instance ${instance}`);
  }
  if (await lxdHas(`/1.0/profiles/${PROFILE}`)) {
    await lxc(['profile', 'delete', PROFILE]);
    removed.push(`profile ${PROFILE}`);
  }
  if (await lxdHas(`/1.0/networks/${BRIDGE}`)) {
    await lxc(['network', 'delete', BRIDGE]);
    removed.push(`network ${BRIDGE}`);
  }
  if (await lxdHas(`/1.0/storage-pools/${POOL}`)) {
    const volumes = await lxdQuery<string[]>(`/1.0/storage-pools/${POOL}/volumes`);
    for (const url of volumes) {
      // `/1.0/storage-pools/turku/volumes/image/<fingerprint>`: what launches unpacked.
      const [type, name] = url.split('/volumes/')[1]?.split('/') ?? [];
      if (type !== undefined && name !== undefined) await lxc(['storage', 'volume', 'delete', POOL, `${type}/${name}`]);
    }
    await lxc(['storage', 'delete', POOL]);
    removed.push(`storage pool ${POOL}`);
  }
  return removed;
}
