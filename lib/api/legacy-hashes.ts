/**
 * Verification of the secret hashes found in databases imported from the original Turku
 * (docs/api.md, "Authentication" "Hashes"). The original is a Django app, so its `secret_hash`
 * columns hold Django password-hasher strings. Ours verifies them once and then re-hashes with its
 * fast scheme; it never creates them.
 *
 * Supported (Django's encodings, as stored):
 * - `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` (also `argon2i` / `argon2d`), salt and hash in
 *   unpadded standard base64;
 * - `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` and `pbkdf2_sha1$…` (salt used as UTF-8 text,
 *   key length = digest length);
 * - `bcrypt_sha256$<bcrypt string>` (bcrypt over the lowercase hex SHA-256 of the secret) and
 *   `bcrypt$<bcrypt string>` (plain bcrypt);
 * - `scrypt$<N>$<salt>$<r>$<p>$<base64 hash>` (key length 64). This is Django's field order:
 *   `ScryptPasswordHasher` writes the work factor before the salt.
 *
 * Every parameter is bounded before any work starts, so a crafted row cannot make a check hang or
 * exhaust memory; anything out of bounds, malformed or unknown verifies as false.
 */
import { argon2, createHash, pbkdf2 } from 'node:crypto';

import { bcryptEncoded } from './bcrypt-worker.js';
import { constantTimeEqual, oneAtATime, scryptKey } from './kdf.js';

/** Upper bounds on the work a stored string may ask for. Django's defaults are far below them. */
const LEGACY_HASH_LIMITS = {
  pbkdf2MaxIterations: 10_000_000,
  /** Argon2 memory in KiB (1 GiB). */
  argon2MaxMemoryKiB: 1024 * 1024,
  argon2MaxIterations: 64,
  argon2MaxParallelism: 255,
  argon2MaxHashBytes: 1024,
  argon2MaxSaltBytes: 1024,
  /** bcrypt cost is log2 of the rounds; Django's default is 12. */
  bcryptMaxCost: 16,
  scryptMaxN: 2 ** 20,
  scryptMaxR: 32,
  scryptMaxP: 16,
  /** Bytes of scrypt's big array (128·N·r). */
  scryptMaxMemory: 1024 * 1024 * 1024,
  /** Bounds N·r·p, which is proportional to scrypt's CPU time. */
  scryptMaxWork: 2 ** 24,
} as const;

const PREFIXES = ['argon2$', 'pbkdf2_sha256$', 'pbkdf2_sha1$', 'bcrypt_sha256$', 'bcrypt$', 'scrypt$'] as const;

/** True when `encoded` is one of the legacy formats below (by prefix), whether or not well-formed. */
export function isLegacyHash(encoded: string): boolean {
  return typeof encoded === 'string' && PREFIXES.some((prefix) => encoded.startsWith(prefix));
}

/**
 * Verifies `secret` against a legacy Django-format hash. Resolves false (never throws, never rejects)
 * on mismatch, an unknown format or a malformed string. Comparisons are constant-time.
 */
export async function verifyLegacyHash(secret: string, encoded: string): Promise<boolean> {
  try {
    if (typeof secret !== 'string' || typeof encoded !== 'string') return false;
    const dollar = encoded.indexOf('$');
    if (dollar < 0) return false;
    const algorithm = encoded.slice(0, dollar);
    const rest = encoded.slice(dollar + 1);
    switch (algorithm) {
      case 'argon2':
        return await verifyArgon2(secret, rest);
      case 'pbkdf2_sha256':
        return await verifyPbkdf2(secret, rest, 'sha256', 32);
      case 'pbkdf2_sha1':
        return await verifyPbkdf2(secret, rest, 'sha1', 20);
      case 'bcrypt_sha256':
        return await verifyBcrypt(createHash('sha256').update(secret, 'utf8').digest('hex'), rest);
      case 'bcrypt':
        return await verifyBcrypt(secret, rest);
      case 'scrypt':
        return await verifyScrypt(secret, rest);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers

/** A decimal integer in [min, max] without sign, spaces or leading zeros, else undefined. */
function parseIntIn(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^(?:0|[1-9][0-9]{0,15})$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

/** Canonical, padded standard base64 (what Python's `base64.b64encode` writes), else undefined. */
function decodeBase64Padded(text: string | undefined): Buffer | undefined {
  if (text === undefined || text === '') return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Canonical, unpadded standard base64 (the PHC string encoding), else undefined. */
function decodeBase64Unpadded(text: string | undefined): Buffer | undefined {
  if (text === undefined || text === '' || text.includes('=')) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === text ? bytes : undefined;
}

/** Constant-time equality; differing lengths (which are public) compare unequal. */

// ---------------------------------------------------------------------------------------------
// Argon2: argon2$<PHC string without its leading '$'>

/** Node's Argon2, on the threadpool (hash-wasm's ran on the event loop for its whole cost). */
function argon2Async(
  variant: 'argon2id' | 'argon2i' | 'argon2d',
  parameters: {
    message: Buffer;
    nonce: Buffer;
    parallelism: number;
    tagLength: number;
    memory: number;
    passes: number;
  },
): Promise<Buffer> {
  return oneAtATime(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        argon2(variant, parameters, (error, key) => (error ? reject(error) : resolve(key)));
      }),
  );
}

async function verifyArgon2(secret: string, phc: string): Promise<boolean> {
  const L = LEGACY_HASH_LIMITS;
  // Only version 0x13 (v=19) is supported; the versionless 0x10 strings of very old installs fail.
  const parts = phc.split('$');
  if (parts.length !== 5) return false;
  const [variant, version, params, saltText, hashText] = parts;
  if (variant !== 'argon2id' && variant !== 'argon2i' && variant !== 'argon2d') return false;
  if (version !== 'v=19') return false;
  const match = /^m=([0-9]+),t=([0-9]+),p=([0-9]+)$/.exec(params ?? '');
  if (!match) return false;
  const parallelism = parseIntIn(match[3], 1, L.argon2MaxParallelism);
  if (parallelism === undefined) return false;
  const memorySize = parseIntIn(match[1], 8 * parallelism, L.argon2MaxMemoryKiB);
  const iterations = parseIntIn(match[2], 1, L.argon2MaxIterations);
  const salt = decodeBase64Unpadded(saltText);
  const expected = decodeBase64Unpadded(hashText);
  if (memorySize === undefined || iterations === undefined || salt === undefined || expected === undefined) {
    return false;
  }
  if (salt.length < 8 || salt.length > L.argon2MaxSaltBytes) return false;
  if (expected.length < 4 || expected.length > L.argon2MaxHashBytes) return false;
  const actual = await argon2Async(variant, {
    message: Buffer.from(secret, 'utf8'),
    nonce: salt,
    passes: iterations,
    parallelism,
    memory: memorySize,
    tagLength: expected.length,
  });
  return constantTimeEqual(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// PBKDF2: pbkdf2_<digest>$<iterations>$<salt>$<base64 hash>

function pbkdf2Async(secret: Buffer, salt: Buffer, iterations: number, keyLength: number, digest: string) {
  return new Promise<Buffer>((resolve, reject) => {
    pbkdf2(secret, salt, iterations, keyLength, digest, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

async function verifyPbkdf2(secret: string, rest: string, digest: 'sha256' | 'sha1', keyLength: number) {
  const parts = rest.split('$');
  if (parts.length !== 3) return false;
  const [iterationsText, saltText, hashText] = parts;
  const iterations = parseIntIn(iterationsText, 1, LEGACY_HASH_LIMITS.pbkdf2MaxIterations);
  const expected = decodeBase64Padded(hashText);
  if (iterations === undefined || !saltText || expected?.length !== keyLength) return false;
  const actual = await pbkdf2Async(
    Buffer.from(secret, 'utf8'),
    Buffer.from(saltText, 'utf8'),
    iterations,
    keyLength,
    digest,
  );
  return constantTimeEqual(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// bcrypt: bcrypt[_sha256]$$2b$<cost>$<22 salt chars><31 checksum chars>

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes bcrypt's base64 variant (its own alphabet, no padding) by mapping it onto the standard one. */
function decodeBcryptBase64(text: string): Buffer {
  let standard = '';
  for (const char of text) standard += BASE64_ALPHABET[BCRYPT_ALPHABET.indexOf(char)] ?? '';
  return Buffer.from(standard, 'base64');
}

async function verifyBcrypt(password: string, data: string): Promise<boolean> {
  // 2a, 2b and 2y only differ for passwords over 255 bytes, and bcrypt reads at most 72.
  // 2x (crypt_blowfish's buggy sign-extension mode) is not supported.
  const match = /^\$2[aby]\$([0-9]{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(data);
  if (!match) return false;
  const cost = parseIntIn(match[1]?.replace(/^0/, ''), 4, LEGACY_HASH_LIMITS.bcryptMaxCost);
  const salt = decodeBcryptBase64(match[2] ?? '');
  const expected = match[3] ?? '';
  if (cost === undefined || salt.length !== 16) return false;
  // bcrypt keys on at most 72 bytes; Python's bcrypt rejects NUL bytes, so no stored hash has one.
  const passwordBytes = Buffer.from(password, 'utf8').subarray(0, 72);
  if (passwordBytes.length === 0 || passwordBytes.includes(0)) return false;
  const computed = await bcryptEncoded(passwordBytes, salt, cost);
  return constantTimeEqual(Buffer.from(computed.slice(-31), 'latin1'), Buffer.from(expected, 'latin1'));
}

// ---------------------------------------------------------------------------------------------
// scrypt: scrypt$<N>$<salt>$<r>$<p>$<base64 hash>

const SCRYPT_KEY_LENGTH = 64;

async function verifyScrypt(secret: string, rest: string): Promise<boolean> {
  const L = LEGACY_HASH_LIMITS;
  const parts = rest.split('$');
  if (parts.length !== 5) return false;
  const [nText, saltText, rText, pText, hashText] = parts;
  const N = parseIntIn(nText, 2, L.scryptMaxN);
  const r = parseIntIn(rText, 1, L.scryptMaxR);
  const p = parseIntIn(pText, 1, L.scryptMaxP);
  const expected = decodeBase64Padded(hashText);
  if (N === undefined || r === undefined || p === undefined || !saltText) return false;
  if ((N & (N - 1)) !== 0 || 128 * N * r > L.scryptMaxMemory || N * r * p > L.scryptMaxWork) return false;
  if (expected?.length !== SCRYPT_KEY_LENGTH) return false;
  const actual = await scryptKey(Buffer.from(secret, 'utf8'), Buffer.from(saltText, 'utf8'), SCRYPT_KEY_LENGTH, {
    N,
    r,
    p,
  });
  return constantTimeEqual(actual, expected);
}
