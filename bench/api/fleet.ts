import { createHash } from 'node:crypto';

/**
 * The benchmark's fleet, derived from a seed so the orchestrator and every load-generator
 * process agree on it without passing 100,000 credentials around: machine `i` has a v4 UUID and
 * a 30-alphanumeric secret taken from SHA-512(`seed:i`).
 */

export interface Credentials {
  readonly uuid: string;
  readonly secret: string;
}

export interface RegistrationAuth {
  readonly name: string;
  readonly secret: string;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SSH_PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';

/** Three sources per machine, one per common frequency form. */
export const SOURCES = {
  etc: { path: '/etc' },
  home: { path: '/home', frequency: 'daily, 0200-0600' },
  var: { path: '/var/lib', frequency: 'hourly' },
} as const;
export const SOURCES_PER_MACHINE = Object.keys(SOURCES).length;

export function credentials(seed: string, index: number): Credentials {
  const bytes = createHash('sha512').update(`${seed}:${index}`).digest();
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.subarray(0, 16).toString('hex');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  let secret = '';
  for (let i = 16; i < 46; i++) secret += ALPHANUMERIC.charAt(bytes[i]! % ALPHANUMERIC.length);
  return { uuid, secret };
}

/** `update_config` registering machine `index` with its three sources (docs/api.md, "update_config"). */
export function registrationBody(seed: string, index: number, auth: RegistrationAuth): string {
  const { uuid, secret } = credentials(seed, index);
  return JSON.stringify({
    auth,
    machine: { uuid, secret, unit_name: `bench/${index}`, ssh_public_key: SSH_PUBLIC_KEY, sources: SOURCES },
  });
}

/** `agent_ping_checkin` for machine `index` (docs/api.md, "agent_ping_checkin"). */
export function checkinBody(seed: string, index: number): string {
  const { uuid, secret } = credentials(seed, index);
  return JSON.stringify({ machine: { uuid, secret } });
}

/**
 * `storage_update_config` registering the one storage every machine is assigned to
 * (docs/api.md, "storage_update_config").
 */
export function storageBody(auth: RegistrationAuth): string {
  return JSON.stringify({
    auth,
    storage: {
      name: 'bench',
      secret: 'bench-storage-secret-0123456789',
      ssh_ping_host: '127.0.0.1',
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
      ssh_ping_host_keys: [],
      space_total: 1_000_000,
      space_available: 500_000,
    },
  });
}
