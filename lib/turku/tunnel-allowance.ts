import { createHash } from 'node:crypto';

/**
 * [NEW] A machine's tunnel port allowance (docs/datapath.md, "Tunnel ports"): the few loopback
 * ports its key may listen on at its storage. The API assigns them once, when our agent first
 * asks for them, avoiding the ports other machines of the same storage already hold; the
 * storage writes them as `permitlisten` entries in the machine's authorized_keys line, and our
 * agent takes its tunnel port from them.
 */

/** Ports per machine: one taken port (a collision, a storage service) leaves the agent three. */
export const TUNNEL_ALLOWANCE_SIZE = 4;

/** The dynamic range (RFC 6335), the one original agents draw from too. */
export const ALLOWANCE_PORT_MIN = 49152;
export const ALLOWANCE_PORT_MAX = 65535;
const RANGE_SIZE = ALLOWANCE_PORT_MAX - ALLOWANCE_PORT_MIN + 1;

/** The longest list a storage or agent accepts from an API, and the lowest port in it. */
const MAX_LISTED = 16;
const LOWEST_LISTED = 1024;

/** Hash-derived candidates tried before a plain scan for free ports. */
const HASHED_CANDIDATES = 256;

/**
 * The ports for the machine `uuid` on a storage where `taken` are already assigned: distinct,
 * in the dynamic range, none of `taken` while enough ports are free. Deterministic: candidates
 * come from a hash of the UUID, then (on a crowded storage) from a scan starting at the first
 * candidate. Once fewer than `size` ports are free (over 4,000 machines on one storage), the
 * rest are hash candidates that another machine holds too, which only costs a retry.
 */
export function tunnelAllowance(
  uuid: string,
  taken: ReadonlySet<number> = new Set(),
  size = TUNNEL_ALLOWANCE_SIZE,
): number[] {
  if (!Number.isInteger(size) || size < 1 || size > MAX_LISTED) throw new RangeError(`invalid allowance size ${size}`);
  const chosen: number[] = [];
  const candidates = hashedPorts(uuid, HASHED_CANDIDATES);
  const free = (port: number) => !taken.has(port) && !chosen.includes(port);
  for (const port of candidates) {
    if (chosen.length === size) return chosen;
    if (free(port)) chosen.push(port);
  }
  const start = candidates[0]! - ALLOWANCE_PORT_MIN;
  for (let i = 0; i < RANGE_SIZE && chosen.length < size; i++) {
    const port = ALLOWANCE_PORT_MIN + ((start + i) % RANGE_SIZE);
    if (free(port)) chosen.push(port);
  }
  // A full storage: share ports with other machines rather than give none.
  for (const port of candidates) {
    if (chosen.length === size) break;
    if (!chosen.includes(port)) chosen.push(port);
  }
  return chosen;
}

/** `count` ports in the dynamic range from SHA-256 of the UUID and a counter, 2 bytes each. */
function hashedPorts(uuid: string, count: number): number[] {
  const ports: number[] = [];
  for (let block = 0; ports.length < count; block++) {
    const digest = createHash('sha256').update(`turku tunnel ports\0${uuid}\0${block}`).digest();
    for (let i = 0; i + 1 < digest.length && ports.length < count; i += 2) {
      // 65536 is a multiple of the range's 16384, so the ports are uniform.
      ports.push(ALLOWANCE_PORT_MIN + (digest.readUInt16BE(i) % RANGE_SIZE));
    }
  }
  return ports;
}

/**
 * Why a `tunnel_ports` value from an API is unusable, if it is: agents and storages check it,
 * so a wrong API can never make a storage permit a privileged port or a malformed option.
 */
export function tunnelPortsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'is not a list';
  if (value.length === 0 || value.length > MAX_LISTED) return `must list 1-${MAX_LISTED} ports`;
  for (const port of value) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < LOWEST_LISTED || port > 65535) {
      return `lists ${JSON.stringify(port)}, not a port in ${LOWEST_LISTED}-65535`;
    }
  }
  if (new Set(value).size !== value.length) return 'lists a port twice';
  return undefined;
}

/** The list if it is usable, else undefined. */
export function usableTunnelPorts(value: unknown): number[] | undefined {
  return tunnelPortsProblem(value) === undefined ? [...(value as number[])] : undefined;
}
