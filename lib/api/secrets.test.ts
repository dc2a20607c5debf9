import { createHmac } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import {
  generateSecret,
  hashSecret,
  isWeakHash,
  NO_RECORD_HASH,
  STRONG_SECRET_LENGTH,
  verifySecret,
  verifySecretFast,
} from './secrets.js';

const SECRET = 'secret-of-thirty-characters-xx';
/** Django's PBKDF2-SHA256 encoding of SECRET with salt "salty" and 1000 iterations (made with Python's hashlib). */
const LEGACY_PBKDF2 = 'pbkdf2_sha256$1000$salty$TFLIsvfAlviSuyTVgky6rW4OT46UMXAUhfWXA8vv888=';
const FAST_HASH = /^hmac-sha256\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;
const SLOW_HASH = /^scrypt-short\$ln=14,r=8,p=5\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9_-]{43})$/;
const WEAK = 'hunter2';
/** Python's hashlib.scrypt(b'hunter2', salt=bytes(range(16)), n=2**14, r=8, p=5, dklen=32), base64url. */
const WEAK_KNOWN = 'scrypt-short$ln=14,r=8,p=5$AAECAwQFBgcICQoLDA0ODw$j4eHys0taBqJNPJbIkfx4mtmBWK0uXDl52PQjdiz_DM';
/** The same with older, cheaper parameters (n=2**10, p=1): verifies, and asks to be re-hashed. */
const WEAK_OLD_PARAMS = 'scrypt-short$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$DXBGFk5ctjv6hJ1qqn6_vDJxvAFTl2yR3xWBXu_gyII';
/** Django's PBKDF2-SHA256 of WEAK, salt "salty", 1000 iterations (Python's hashlib). */
const WEAK_LEGACY = 'pbkdf2_sha256$1000$salty$iyQ7xtxsM2CNBt/1qlfUAoa9QuSQmOynBamelM++P98=';

const partsOf = (stored: string): { salt: string; hash: string } => {
  const match = FAST_HASH.exec(stored);
  if (match === null) throw new Error(`not a fast hash: ${stored}`);
  return { salt: match[1]!, hash: match[2]! };
};

describe('hashSecret', () => {
  it('produces hmac-sha256$<salt>$<HMAC-SHA-256 keyed by the salt>, base64url', async () => {
    const stored = await hashSecret(SECRET);
    expect(stored).toMatch(FAST_HASH);
    const { salt, hash } = partsOf(stored);
    expect(hash).toBe(createHmac('sha256', salt).update(SECRET, 'utf8').digest('base64url'));
    expect(Buffer.from(hash, 'base64url')).toHaveLength(32);
  });

  it('never stores the secret itself', async () => {
    expect(await hashSecret(SECRET)).not.toContain(SECRET);
    expect(await hashSecret(WEAK)).not.toContain(WEAK);
  });

  it('salts each hash: equal secrets get different salts and hashes, and both verify', async () => {
    const first = await hashSecret(SECRET);
    const second = await hashSecret(SECRET);
    expect(first).not.toBe(second);
    expect(partsOf(first).salt).not.toBe(partsOf(second).salt);
    await expect(verifySecret(SECRET, first)).resolves.toEqual({ ok: true, rehash: false });
    await expect(verifySecret(SECRET, second)).resolves.toEqual({ ok: true, rehash: false });
  });
});

describe('verifySecret', () => {
  let stored: string;
  beforeAll(async () => {
    stored = await hashSecret(SECRET);
  });

  it('accepts the right secret without asking for a rehash', async () => {
    await expect(verifySecret(SECRET, stored)).resolves.toEqual({ ok: true, rehash: false });
  });

  it('rejects wrong secrets, including near misses', async () => {
    for (const wrong of ['', SECRET.toUpperCase(), `${SECRET}x`, SECRET.slice(0, -1), ` ${SECRET}`]) {
      await expect(verifySecret(wrong, stored)).resolves.toEqual({ ok: false, rehash: false });
    }
  });

  it('round-trips generated secrets', async () => {
    const secret = generateSecret();
    const hashed = await hashSecret(secret);
    await expect(verifySecret(secret, hashed)).resolves.toEqual({ ok: true, rehash: false });
    await expect(verifySecret(generateSecret(), hashed)).resolves.toEqual({ ok: false, rehash: false });
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

  it('verifies a legacy PBKDF2-SHA256 hash and asks for a rehash (docs/api.md, "Authentication")', async () => {
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
  it('answers synchronously for a strong secret against a fast hash', async () => {
    const stored = await hashSecret(SECRET);
    expect(verifySecretFast(SECRET, stored)).toEqual({ ok: true, rehash: false });
    expect(verifySecretFast('wrong'.repeat(6), stored)).toEqual({ ok: false, rehash: false });
    expect(verifySecretFast(SECRET, 'hmac-sha256$')).toEqual({ ok: false, rehash: false });
  });

  it('returns undefined for a legacy hash, leaving it to the slow path', () => {
    expect(verifySecretFast(SECRET, LEGACY_PBKDF2)).toBeUndefined();
    expect(verifySecretFast(SECRET, 'argon2$argon2id$v=19$m=512,t=2,p=2$c2FsdA$aGFzaA')).toBeUndefined();
  });

  it('never answers for a weak secret, which always pays for one scrypt', async () => {
    for (const stored of [await hashSecret(SECRET), WEAK_KNOWN, NO_RECORD_HASH, 'garbage']) {
      expect(verifySecretFast(WEAK, stored)).toBeUndefined();
    }
  });

  it('rejects a strong secret against a weak-secret hash at once: only weak secrets are stored so', () => {
    expect(verifySecretFast(SECRET, WEAK_KNOWN)).toEqual({ ok: false, rehash: false });
    expect(verifySecretFast(`${WEAK}${'x'.repeat(STRONG_SECRET_LENGTH)}`, WEAK_KNOWN)).toEqual({
      ok: false,
      rehash: false,
    });
  });
});

describe('weak secrets (shorter than 20 characters)', () => {
  it('are stored with scrypt (N = 2^14, r = 8, p = 5), salted, and verify', async () => {
    expect(STRONG_SECRET_LENGTH).toBe(20);
    const first = await hashSecret(WEAK);
    const second = await hashSecret(WEAK);
    expect(first).toMatch(SLOW_HASH);
    expect(first).not.toBe(second);
    await expect(verifySecret(WEAK, first)).resolves.toEqual({ ok: true, rehash: false });
    await expect(verifySecret('hunter3', first)).resolves.toEqual({ ok: false, rehash: false });
    const nineteen = 'x'.repeat(STRONG_SECRET_LENGTH - 1);
    expect(await hashSecret(nineteen)).toMatch(SLOW_HASH);
    expect(await hashSecret(`${nineteen}x`)).toMatch(FAST_HASH);
    // A one-character secret is accepted too.
    await expect(verifySecret('s', await hashSecret('s'))).resolves.toEqual({ ok: true, rehash: false });
  }, 30_000);

  it('match an independent scrypt implementation (Python hashlib)', async () => {
    await expect(verifySecret(WEAK, WEAK_KNOWN)).resolves.toEqual({ ok: true, rehash: false });
    await expect(verifySecret('Hunter2', WEAK_KNOWN)).resolves.toEqual({ ok: false, rehash: false });
  });

  it('stored with older parameters verify and ask to be re-hashed with the current ones', async () => {
    await expect(verifySecret(WEAK, WEAK_OLD_PARAMS)).resolves.toEqual({ ok: true, rehash: true });
    await expect(verifySecret('hunter3', WEAK_OLD_PARAMS)).resolves.toEqual({ ok: false, rehash: false });
  });

  it('imported from the original re-hash to the slow format, a strong one to the fast format', async () => {
    await expect(verifySecret(WEAK, WEAK_LEGACY)).resolves.toEqual({ ok: true, rehash: true });
    expect(await hashSecret(WEAK)).toMatch(SLOW_HASH);
    await expect(verifySecret(SECRET, LEGACY_PBKDF2)).resolves.toEqual({ ok: true, rehash: true });
    expect(await hashSecret(SECRET)).toMatch(FAST_HASH);
  });

  it('found under a fast hash (written by hand) verify and ask to move to the slow format', async () => {
    const salt = 'c2FsdHNhbHQ';
    const handMade = `hmac-sha256$${salt}$${createHmac('sha256', salt).update(WEAK).digest('base64url')}`;
    await expect(verifySecret(WEAK, handMade)).resolves.toEqual({ ok: true, rehash: true });
  });

  it('cost one scrypt even when the record is missing or holds a strong secret', async () => {
    const started = performance.now();
    await expect(verifySecret(WEAK, NO_RECORD_HASH)).resolves.toEqual({ ok: false, rehash: false });
    await expect(verifySecret(WEAK, await hashSecret(SECRET))).resolves.toEqual({ ok: false, rehash: false });
    // Two scrypts of 16 MiB and N·p = 81,920 take far longer than two HMACs on any machine.
    expect(performance.now() - started).toBeGreaterThan(20);
  });

  it('reject malformed or out-of-bounds slow hashes without throwing', async () => {
    const [, , salt, key] = WEAK_KNOWN.split('$') as [string, string, string, string];
    for (const bad of [
      'scrypt-short$',
      `scrypt-short$ln=14,r=8,p=5$${salt}`,
      `scrypt-short$ln=14,r=8,p=5$${salt}$${key}$`,
      `scrypt-short$ln=14,r=8,p=5$${salt}$${key.slice(0, -2)}`,
      `scrypt-short$ln=14,r=8,p=5$$${key}`,
      `scrypt-short$ln=30,r=8,p=5$${salt}$${key}`,
      `scrypt-short$ln=20,r=32,p=16$${salt}$${key}`,
      `scrypt-short$ln=14,r=8,p=0$${salt}$${key}`,
      `scrypt-short$ln=014,r=8,p=5$${salt}$${key}`,
      `scrypt-short$N=16384,r=8,p=5$${salt}$${key}`,
    ]) {
      await expect(verifySecret(WEAK, bad)).resolves.toEqual({ ok: false, rehash: false });
    }
  }, 30_000);
});

describe('isWeakHash', () => {
  it('tells weak from strong by the stored format; unknown for an imported hash', async () => {
    expect(isWeakHash(await hashSecret(WEAK))).toBe(true);
    expect(isWeakHash(await hashSecret(SECRET))).toBe(false);
    expect(isWeakHash(LEGACY_PBKDF2)).toBeUndefined();
    expect(isWeakHash(WEAK_LEGACY)).toBeUndefined();
  });
});

describe('generateSecret', () => {
  it('makes 30 characters from [A-Za-z0-9] by default: a strong secret', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^[A-Za-z0-9]{30}$/);
    expect(secret.length).toBeGreaterThanOrEqual(STRONG_SECRET_LENGTH);
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
