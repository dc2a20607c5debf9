import { createHmac, randomBytes, randomInt } from 'node:crypto';

import { isWeakSecret, STRONG_SECRET_LENGTH } from '../turku/secret-strength.js';
import { constantTimeEqual, scryptKey } from './kdf.js';
import { isLegacyHash, verifyLegacyHash } from './legacy-hashes.js';

/**
 * Stored secrets (docs/api.md, "Secrets"). Two formats of our own:
 *
 *     hmac-sha256$<salt>$<HMAC-SHA-256(key = salt, secret)>              strong secrets (>= 20 chars)
 *     scrypt-short$ln=<log2 N>,r=<r>,p=<p>$<salt>$<scrypt(secret, salt)>   weak secrets (1-19 chars)
 *
 * (salt and digest in base64url). A strong secret is random, 20 characters and more (119 bits and
 * up; ours are 30, about 178 bits): guessing it is out of reach at any hashing speed, so the check-in
 * path pays a few microseconds of HMAC instead of the original's 0.38 s of Argon2id. A weak secret
 * is one an operator typed into a storage's config (original storages in the field have them); a
 * leaked hash of it could be brute-forced at HMAC speed, so it gets scrypt with OWASP's minimum
 * parameters for password storage, N = 2^14, r = 8, p = 5: 16 MiB of memory per check (little
 * parallel hardware gains) and roughly a quarter of a second of CPU, paid only by weak-secret
 * logins, which are rare (a storage's hourly update and its pings; Argon2id cost the original more
 * on every request). The parameters are in the string, so raising them later re-hashes each
 * secret at its next successful login.
 *
 * What a check costs depends only on the secret offered, never on what is stored or whether the
 * record exists: a weak secret always pays one scrypt, a strong one one HMAC (verifying against
 * `NO_RECORD_HASH` when the record is missing). So timing tells a caller nothing the 403 hides.
 * The one exception is a slow hash imported from the original (Argon2id, PBKDF2, bcrypt,
 * scrypt): it is verified with its own algorithm once, then replaced.
 */

export { STRONG_SECRET_LENGTH };

const FAST_PREFIX = 'hmac-sha256$';
const SLOW_PREFIX = 'scrypt-short$';
const SCRYPT = { ln: 14, r: 8, p: 5 } as const;
const SCRYPT_PARAMS = `ln=${SCRYPT.ln},r=${SCRYPT.r},p=${SCRYPT.p}`;
const SCRYPT_KEY_BYTES = 32;
/** Bounds a stored string's parameters, so a crafted row cannot make a check hang or exhaust memory. */
const SCRYPT_LIMITS = { maxLn: 20, maxR: 32, maxP: 16, maxMemory: 1024 * 1024 * 1024, maxWork: 2 ** 24 };
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface Verification {
  readonly ok: boolean;
  /** The stored hash is not the right format for this secret: replace it with `hashSecret(secret)`. */
  readonly rehash: boolean;
}

const REJECTED: Verification = { ok: false, rehash: false };

/** Verify against this when the record is missing, so unknown and known records cost the same. */
export const NO_RECORD_HASH = hashSecretFast(randomBytes(24).toString('base64url'))!;

/** The stored form of `secret`: the fast hash for a strong secret, scrypt for a weak one. */
export async function hashSecret(secret: string): Promise<string> {
  const fast = hashSecretFast(secret);
  if (fast !== undefined) return fast;
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, SCRYPT);
  return `${SLOW_PREFIX}${SCRYPT_PARAMS}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** The fast hash of a strong secret; undefined for a weak one, which needs `hashSecret`. */
export function hashSecretFast(secret: string): string | undefined {
  if (isWeakSecret(secret)) return undefined;
  const salt = randomBytes(16).toString('base64url');
  return `${FAST_PREFIX}${salt}$${hmac(salt, secret)}`;
}

/**
 * The answer when it needs no slow work: a strong secret against a fast hash (the check-in path),
 * or against a weak-secret hash, which only weak secrets can match. Undefined otherwise: the
 * caller then needs `verifySecret`.
 */
export function verifySecretFast(secret: string, stored: string): Verification | undefined {
  if (isWeakSecret(secret)) return undefined;
  if (stored.startsWith(FAST_PREFIX)) return { ok: matchesFast(secret, stored), rehash: false };
  if (stored.startsWith(SLOW_PREFIX)) return REJECTED;
  return isLegacyHash(stored) ? undefined : REJECTED;
}

export async function verifySecret(secret: string, stored: string): Promise<Verification> {
  const fast = verifySecretFast(secret, stored);
  if (fast !== undefined) return fast;
  if (isLegacyHash(stored)) {
    const ok = await verifyLegacyHash(secret, stored);
    return { ok, rehash: ok };
  }
  // A weak secret from here on: one scrypt whatever is stored.
  const slow = stored.startsWith(SLOW_PREFIX) ? parseSlow(stored) : undefined;
  if (slow === undefined) {
    await scryptAsync(secret, NO_RECORD_SALT, SCRYPT);
    // A fast hash never holds a weak secret unless written by hand; honour it, then fix it.
    const ok = stored.startsWith(FAST_PREFIX) && matchesFast(secret, stored);
    return { ok, rehash: ok };
  }
  const actual = await scryptAsync(secret, slow.salt, slow.params);
  const ok = constantTimeEqual(actual, slow.key);
  return { ok, rehash: ok && slow.paramsText !== SCRYPT_PARAMS };
}

/**
 * Whether a stored hash holds a weak secret: true for our scrypt format, false for the fast one,
 * undefined for an imported hash not yet verified (its secret's length is unknown until then).
 */
export function isWeakHash(stored: string): boolean | undefined {
  if (stored.startsWith(SLOW_PREFIX)) return true;
  if (stored.startsWith(FAST_PREFIX)) return false;
  return undefined;
}

/** A new random secret of `length` characters from [A-Za-z0-9], as the original's agents make. */
export function generateSecret(length = 30): string {
  let secret = '';
  for (let i = 0; i < length; i++) secret += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return secret;
}

// ---------------------------------------------------------------------------------------------

const NO_RECORD_SALT = randomBytes(16);

function hmac(salt: string, secret: string): string {
  return createHmac('sha256', salt).update(secret, 'utf8').digest('base64url');
}

function matchesFast(secret: string, stored: string): boolean {
  const parts = stored.slice(FAST_PREFIX.length).split('$');
  const [salt, expected] = parts;
  if (parts.length !== 2 || !salt || !expected) return false;
  return constantTimeEqual(Buffer.from(hmac(salt, secret)), Buffer.from(expected));
}

interface ScryptParams {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

interface SlowHash {
  readonly params: ScryptParams;
  readonly paramsText: string;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parseSlow(stored: string): SlowHash | undefined {
  const parts = stored.slice(SLOW_PREFIX.length).split('$');
  if (parts.length !== 3) return undefined;
  const [paramsText, saltText, keyText] = parts as [string, string, string];
  const match = /^ln=([1-9][0-9]?),r=([1-9][0-9]?),p=([1-9][0-9]?)$/.exec(paramsText);
  if (match === null) return undefined;
  const [ln, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const L = SCRYPT_LIMITS;
  if (ln > L.maxLn || r > L.maxR || p > L.maxP) return undefined;
  if (128 * 2 ** ln * r > L.maxMemory || 2 ** ln * r * p > L.maxWork) return undefined;
  const salt = decodeBase64url(saltText);
  const key = decodeBase64url(keyText);
  if (salt === undefined || key?.length !== SCRYPT_KEY_BYTES) return undefined;
  return { params: { ln, r, p }, paramsText, salt, key };
}

/** Canonical unpadded base64url, else undefined. */
function decodeBase64url(text: string): Buffer | undefined {
  if (text === '') return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function scryptAsync(secret: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return scryptKey(Buffer.from(secret, 'utf8'), salt, SCRYPT_KEY_BYTES, {
    N: 2 ** params.ln,
    r: params.r,
    p: params.p,
  });
}
