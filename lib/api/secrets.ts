import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

import { isLegacyHash, verifyLegacyHash } from './legacy-hashes.js';

/**
 * Stored secrets (spec §2.2). Every secret here is machine-generated: registration secrets and
 * machine secrets are 30 random alphanumerics (about 178 bits), and we refuse new secrets under
 * 20 characters (about 119 bits). Guessing such a secret is out of reach at any hashing speed, so
 * a slow password hash would only slow the check-in path (the original spent 0.38 s of CPU per
 * request on Argon2id) without adding safety. We store
 *
 *     hmac-sha256$<salt, base64url>$<HMAC-SHA-256(key = salt, secret), base64url>
 *
 * The per-row random salt keeps equal secrets from having equal hashes; verifying costs a few
 * microseconds. Hashes imported from the original (Argon2id, PBKDF2, bcrypt, scrypt) are checked
 * once with their own slow algorithm, and the caller then stores a fresh fast hash.
 */

export const MIN_SECRET_LENGTH = 20;
const FAST_PREFIX = 'hmac-sha256$';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function hashSecret(secret: string): string {
  const salt = randomBytes(16).toString('base64url');
  return `${FAST_PREFIX}${salt}$${digest(salt, secret)}`;
}

export interface Verification {
  readonly ok: boolean;
  /** The stored hash is a slow legacy format: replace it with `hashSecret(secret)`. */
  readonly rehash: boolean;
}

const REJECTED: Verification = { ok: false, rehash: false };

/** Fast hashes verify synchronously; only a legacy hash needs the asynchronous slow path. */
export function verifySecretFast(secret: string, stored: string): Verification | undefined {
  if (!stored.startsWith(FAST_PREFIX)) return undefined;
  const parts = stored.slice(FAST_PREFIX.length).split('$');
  const [salt, expected] = parts;
  if (parts.length !== 2 || !salt || !expected) return REJECTED;
  const actual = Buffer.from(digest(salt, secret));
  const wanted = Buffer.from(expected);
  return { ok: actual.length === wanted.length && timingSafeEqual(actual, wanted), rehash: false };
}

export async function verifySecret(secret: string, stored: string): Promise<Verification> {
  const fast = verifySecretFast(secret, stored);
  if (fast !== undefined) return fast;
  if (!isLegacyHash(stored)) return REJECTED;
  const ok = await verifyLegacyHash(secret, stored);
  return { ok, rehash: ok };
}

/** A new random secret of `length` characters from [A-Za-z0-9], as the original's agents make. */
export function generateSecret(length = 30): string {
  let secret = '';
  for (let i = 0; i < length; i++) secret += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return secret;
}

function digest(salt: string, secret: string): string {
  return createHmac('sha256', salt).update(secret, 'utf8').digest('base64url');
}
