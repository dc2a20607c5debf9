import { scrypt, timingSafeEqual } from 'node:crypto';

/**
 * The API's slow key derivation, shared by our weak-secret hashes (secrets.ts) and the original's
 * imported scrypt, Argon2 and bcrypt hashes (legacy-hashes.ts). All of it runs off the event loop
 * (Node's threadpool, or a worker thread for bcrypt). Anyone can make the API run one, by logging in with a
 * short secret, so they run one at a time: a burst of them then takes one core of the machine at
 * most, and check-ins (a few microseconds of HMAC on the event loop) keep the other.
 */

export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

let lane: Promise<unknown> = Promise.resolve();

/** scrypt(secret, salt) of `keyLength` bytes, after every scrypt asked for before it. */
export function scryptKey(secret: Buffer, salt: Buffer, keyLength: number, cost: ScryptCost): Promise<Buffer> {
  // OpenSSL needs about 128·r·(N + p + 2) bytes; leave a margin.
  const maxmem = 128 * cost.r * (cost.N + cost.p + 2) + 1024 * 1024;
  const derive = () =>
    new Promise<Buffer>((resolve, reject) => {
      scrypt(secret, salt, keyLength, { ...cost, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
    });
  return oneAtATime(derive);
}

/** Runs `work` after every slow derivation asked for before it (scrypt, Argon2, bcrypt). */
export function oneAtATime<T>(work: () => Promise<T>): Promise<T> {
  const result = lane.then(work, work);
  lane = result.catch(() => undefined);
  return result;
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
