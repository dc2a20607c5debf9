import { createHmac } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { generateSecret, hashSecret, MIN_SECRET_LENGTH, verifySecret, verifySecretFast } from './secrets.js';

const SECRET = 'secret-of-thirty-characters-xx';
/** Django's PBKDF2-SHA256 encoding of SECRET with salt "salty" and 1000 iterations (made with Python's hashlib). */
const LEGACY_PBKDF2 = 'pbkdf2_sha256$1000$salty$TFLIsvfAlviSuyTVgky6rW4OT46UMXAUhfWXA8vv888=';
const FAST_HASH = /^hmac-sha256\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

const partsOf = (stored: string): { salt: string; hash: string } => {
  const match = FAST_HASH.exec(stored);
  if (match === null) throw new Error(`not a fast hash: ${stored}`);
  return { salt: match[1]!, hash: match[2]! };
};

describe('hashSecret', () => {
  it('produces hmac-sha256$<salt>$<HMAC-SHA-256 keyed by the salt>, base64url', () => {
    const stored = hashSecret(SECRET);
    expect(stored).toMatch(FAST_HASH);
    const { salt, hash } = partsOf(stored);
    expect(hash).toBe(createHmac('sha256', salt).update(SECRET, 'utf8').digest('base64url'));
    expect(Buffer.from(hash, 'base64url')).toHaveLength(32);
  });

  it('never stores the secret itself', () => {
    expect(hashSecret(SECRET)).not.toContain(SECRET);
  });

  it('salts each hash: equal secrets get different salts and hashes, and both verify', async () => {
    const first = hashSecret(SECRET);
    const second = hashSecret(SECRET);
    expect(first).not.toBe(second);
    expect(partsOf(first).salt).not.toBe(partsOf(second).salt);
    await expect(verifySecret(SECRET, first)).resolves.toEqual({ ok: true, rehash: false });
    await expect(verifySecret(SECRET, second)).resolves.toEqual({ ok: true, rehash: false });
  });
});

describe('verifySecret', () => {
  const stored = hashSecret(SECRET);

  it('accepts the right secret without asking for a rehash', async () => {
    await expect(verifySecret(SECRET, stored)).resolves.toEqual({ ok: true, rehash: false });
  });

  it('rejects wrong secrets, including near misses', async () => {
    for (const wrong of ['', 'x', SECRET.toUpperCase(), `${SECRET}x`, SECRET.slice(0, -1), ` ${SECRET}`]) {
      await expect(verifySecret(wrong, stored)).resolves.toEqual({ ok: false, rehash: false });
    }
  });

  it('round-trips generated secrets', async () => {
    const secret = generateSecret();
    await expect(verifySecret(secret, hashSecret(secret))).resolves.toEqual({ ok: true, rehash: false });
    await expect(verifySecret(generateSecret(), hashSecret(secret))).resolves.toEqual({ ok: false, rehash: false });
  });

  it('rejects a malformed fast hash without throwing', async () => {
    const { salt, hash } = partsOf(stored);
    const flipped = `${hash.startsWith('A') ? 'B' : 'A'}${hash.slice(1)}`;
    for (const bad of [
      'hmac-sha256$',
      `hmac-sha256$${salt}`,
      `hmac-sha256$${salt}$`,
      `hmac-sha256$${salt}$${hash.slice(0, -1)}`,
      `hmac-sha256$${salt}$${hash}A`,
      `hmac-sha256$${salt}$${flipped}`,
      `hmac-sha256$${salt}x$${hash}`,
      `${stored}$`,
      `${stored}$junk`,
      `hmac-sha256$$${hash}`,
    ]) {
      await expect(verifySecret(SECRET, bad)).resolves.toEqual({ ok: false, rehash: false });
    }
  });

  it('rejects unknown formats, including a plaintext secret stored as is', async () => {
    for (const bad of [
      '',
      SECRET,
      `md5$salt$${'0'.repeat(32)}`,
      `sha1$salt$${'0'.repeat(40)}`,
      `HMAC-SHA256$${stored.slice('hmac-sha256$'.length)}`,
      `unsalted_sha1$$${'0'.repeat(40)}`,
    ]) {
      await expect(verifySecret(SECRET, bad)).resolves.toEqual({ ok: false, rehash: false });
    }
  });

  it('verifies a legacy PBKDF2-SHA256 hash and asks for a rehash (§2.2)', async () => {
    await expect(verifySecret(SECRET, LEGACY_PBKDF2)).resolves.toEqual({ ok: true, rehash: true });
  });

  it('rejects the wrong secret against a legacy hash without asking for a rehash', async () => {
    await expect(verifySecret(`${SECRET}y`, LEGACY_PBKDF2)).resolves.toEqual({ ok: false, rehash: false });
    await expect(verifySecret(SECRET, LEGACY_PBKDF2.replace('$salty$', '$salt$'))).resolves.toEqual({
      ok: false,
      rehash: false,
    });
  });
});

describe('verifySecretFast', () => {
  it('answers synchronously for fast hashes', () => {
    const stored = hashSecret(SECRET);
    expect(verifySecretFast(SECRET, stored)).toEqual({ ok: true, rehash: false });
    expect(verifySecretFast('wrong', stored)).toEqual({ ok: false, rehash: false });
    expect(verifySecretFast(SECRET, 'hmac-sha256$')).toEqual({ ok: false, rehash: false });
  });

  it('returns undefined for a legacy hash, leaving it to the slow path', () => {
    expect(verifySecretFast(SECRET, LEGACY_PBKDF2)).toBeUndefined();
    expect(verifySecretFast(SECRET, 'argon2$argon2id$v=19$m=512,t=2,p=2$c2FsdA$aGFzaA')).toBeUndefined();
  });
});

describe('generateSecret', () => {
  it('makes 30 characters from [A-Za-z0-9] by default, at least MIN_SECRET_LENGTH', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^[A-Za-z0-9]{30}$/);
    expect(secret.length).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    expect(MIN_SECRET_LENGTH).toBe(20);
  });

  it('honours an explicit length', () => {
    expect(generateSecret(20)).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(generateSecret(64)).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(generateSecret(0)).toBe('');
  });

  it('does not repeat itself and uses the whole alphabet', () => {
    const secrets = Array.from({ length: 1000 }, () => generateSecret());
    expect(new Set(secrets).size).toBe(1000);
    // 30,000 characters: missing any of the 62 has probability about 62 · e^(−484).
    const seen = new Set(secrets.join(''));
    expect(seen.size).toBe(62);
    for (const secret of secrets) expect(secret).toMatch(/^[A-Za-z0-9]{30}$/);
  });
});
