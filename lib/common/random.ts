import { randomInt, randomUUID } from 'node:crypto';

/** Values the agent makes up per session or once per machine, all from the CSPRNG. */

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of [A-Za-z0-9]: machine secrets and one-time rsync passwords. */
export function randomAlphanumeric(length = 30): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return text;
}

/** The dynamic port range (RFC 6335) from which tunnel ports are drawn. */
export const TUNNEL_PORT_MIN = 49152;
export const TUNNEL_PORT_MAX = 65535;

export function randomTunnelPort(): number {
  return randomInt(TUNNEL_PORT_MIN, TUNNEL_PORT_MAX + 1);
}

export function randomUuid(): string {
  return randomUUID();
}
