import { isLegacyHash, verifyLegacyHash } from './legacy-hashes.js';

// All known-good vectors below were produced with independent tools, never with the code under test,
// and embedded as constants (the tests need none of those tools). Costs are kept tiny on purpose.
//
// SECRET is a Turku-style machine secret; UNICODE_SECRET checks that secrets are used as UTF-8.
const SECRET = 'Xq7pL2mN9vR4tY8wK3jH6gF1dS5aZ0';
const UNICODE_SECRET = 'pässwörd-€-secret';
const WRONG = 'Xq7pL2mN9vR4tY8wK3jH6gF1dS5aZ1';
// `printf %s "$SECRET" | sha256sum`: the bcrypt password Django's BCryptSHA256PasswordHasher uses.
const SECRET_SHA256_HEX = '46e2e3b74c2d7954d26fe60b032696a470845fa08334827118a0b46c75da96a1';

// Reference argon2 CLI (Debian package `argon2`), prefixed with Django's `argon2`:
//   printf %s "$SECRET" | argon2 c2FsdHNhbHQx -id -t 2 -m 6 -p 1 -l 32 -e
//   printf %s "$SECRET" | argon2 anotherSalt16byt -i -t 3 -m 5 -p 2 -l 32 -e
//   printf %s "$SECRET" | argon2 saltysaltysalty -d -t 1 -m 4 -p 1 -l 16 -e
//   printf %s "$UNICODE_SECRET" | argon2 unicodesalt -id -t 1 -m 5 -p 4 -l 24 -e
const ARGON2ID = 'argon2$argon2id$v=19$m=64,t=2,p=1$YzJGc2RITmhiSFF4$2Ubgl1GnI3ZpOY72rMUDFxpU7peNRRCKvQoo1QU+gyg';
const ARGON2I = 'argon2$argon2i$v=19$m=32,t=3,p=2$YW5vdGhlclNhbHQxNmJ5dA$u6kLPBNpQCK7WCTu4rq07SoJT6NHIY7KbzCreKXHS4g';
const ARGON2D = 'argon2$argon2d$v=19$m=16,t=1,p=1$c2FsdHlzYWx0eXNhbHR5$VM5PrUKLUGfm6v6fgy3UZQ';
const ARGON2ID_UNICODE = 'argon2$argon2id$v=19$m=32,t=1,p=4$dW5pY29kZXNhbHQ$rl4YMfBXnV/IXgYlKaxBtj8LhfZe6dtm';

// Python 3.11 hashlib, base64-encoded with base64.b64encode, in Django's layout:
//   hashlib.pbkdf2_hmac('sha256', SECRET.encode(), b'dPqUR4MCLT2dlqpbnwZ9wZ', 1000)
//   hashlib.pbkdf2_hmac('sha1', SECRET.encode(), b'Kc3pNc1W8uTQ', 1200)
//   hashlib.pbkdf2_hmac('sha256', UNICODE_SECRET.encode(), 'sälz'.encode(), 600)
const PBKDF2_SHA256 = 'pbkdf2_sha256$1000$dPqUR4MCLT2dlqpbnwZ9wZ$9TBPhMNlQ0xR/fI5fNrnZGisWO0KY4JBt6VZYYi3TI4=';
const PBKDF2_SHA1 = 'pbkdf2_sha1$1200$Kc3pNc1W8uTQ$VOriBXTOHxouGCnGnDpGVCsZhfg=';
const PBKDF2_SHA256_UNICODE = 'pbkdf2_sha256$600$sälz$YdolrNatcb9669+YY5MK7iSGzy0ED/tYiGPQJQDFKtQ=';

// Apache htpasswd (Debian package `apache2-utils`), prefixed with Django's algorithm name:
//   htpasswd -bnBC 4 u "$SECRET"             (plain bcrypt)
//   htpasswd -bnBC 5 u "$SECRET_SHA256_HEX"  (bcrypt_sha256: bcrypt over the hex SHA-256)
const BCRYPT = 'bcrypt$$2y$04$7ViSDnV2xH66LNO0.cQh/.VGWBxPvVQ9j9i6vTCIoM9oA.IfODUVa';
const BCRYPT_SHA256 = 'bcrypt_sha256$$2y$05$0ObFnJbipLoQaBp6oVG7beoOXVVyZv8ad0mDeys2p4lrq2jOgS8Me';

// Python 3.11 hashlib.scrypt(SECRET.encode(), salt=…, n=…, r=…, p=…, dklen=64), base64.b64encode,
// in Django's layout scrypt$<N>$<salt>$<r>$<p>$<hash>:
//   salt=b'Qx8mZ2rT5vW9yB3n', n=1024, r=8, p=1
//   salt=b'pqRsT', n=256, r=4, p=2
const SCRYPT =
  'scrypt$1024$Qx8mZ2rT5vW9yB3n$8$1$iyx6gtUDLYeOh1a81QvOIoETNsfnC1ROGuiQTZyguEXgSVq4y9oVE1JTJ2THLECQnhY5h96kEx8P5eK6STtDeA==';
const SCRYPT_P2 =
  'scrypt$256$pqRsT$4$2$6eEIUsmZgMtEIQxQ2LvFsJObT98zDNoNEUdlx5xM8bLbteCC6pr8f03VHnbTO1x2Zcgh2Ay+nFWnD3SYKydTNw==';

const GOOD: [string, string, string][] = [
  ['argon2id', SECRET, ARGON2ID],
  ['argon2i', SECRET, ARGON2I],
  ['argon2d', SECRET, ARGON2D],
  ['argon2id, UTF-8 secret, p=4', UNICODE_SECRET, ARGON2ID_UNICODE],
  ['pbkdf2_sha256', SECRET, PBKDF2_SHA256],
  ['pbkdf2_sha1', SECRET, PBKDF2_SHA1],
  ['pbkdf2_sha256, UTF-8 secret and salt', UNICODE_SECRET, PBKDF2_SHA256_UNICODE],
  ['bcrypt', SECRET, BCRYPT],
  ['bcrypt_sha256', SECRET, BCRYPT_SHA256],
  ['scrypt', SECRET, SCRYPT],
  ['scrypt, r=4 p=2', SECRET, SCRYPT_P2],
];

/** Changes one fully significant character near the end of the hash, keeping the string well-formed. */
function flipHashChar(encoded: string): string {
  const at = encoded.length - 4;
  const char = encoded[at];
  return encoded.slice(0, at) + (char === 'A' ? 'B' : 'A') + encoded.slice(at + 1);
}

describe('verifyLegacyHash: known-good vectors', () => {
  test.each(GOOD)('%s verifies', async (_name, secret, encoded) => {
    await expect(verifyLegacyHash(secret, encoded)).resolves.toBe(true);
  });

  test.each(GOOD)('%s rejects a wrong secret', async (_name, _secret, encoded) => {
    await expect(verifyLegacyHash(WRONG, encoded)).resolves.toBe(false);
    await expect(verifyLegacyHash('', encoded)).resolves.toBe(false);
  });

  test.each(GOOD)('%s rejects a changed hash', async (_name, secret, encoded) => {
    const changed = flipHashChar(encoded);
    expect(changed).not.toBe(encoded);
    await expect(verifyLegacyHash(secret, changed)).resolves.toBe(false);
  });

  test('bcrypt_sha256 pre-hashes the secret, plain bcrypt does not', async () => {
    const data = BCRYPT_SHA256.slice('bcrypt_sha256$'.length);
    await expect(verifyLegacyHash(SECRET, `bcrypt$${data}`)).resolves.toBe(false);
    await expect(verifyLegacyHash(SECRET_SHA256_HEX, `bcrypt$${data}`)).resolves.toBe(true);
    await expect(verifyLegacyHash(SECRET, `bcrypt_sha256$${BCRYPT.slice('bcrypt$'.length)}`)).resolves.toBe(false);
  });

  test('bcrypt accepts the 2a, 2b and 2y markers alike, not 2x', async () => {
    for (const marker of ['2a', '2b', '2y']) {
      await expect(verifyLegacyHash(SECRET, BCRYPT.replace('$2y$', `$${marker}$`))).resolves.toBe(true);
    }
    await expect(verifyLegacyHash(SECRET, BCRYPT.replace('$2y$', '$2x$'))).resolves.toBe(false);
  });

  test('pbkdf2 digest is taken from the prefix', async () => {
    await expect(verifyLegacyHash(SECRET, PBKDF2_SHA1.replace('pbkdf2_sha1$', 'pbkdf2_sha256$'))).resolves.toBe(false);
    await expect(verifyLegacyHash(SECRET, PBKDF2_SHA256.replace('pbkdf2_sha256$', 'pbkdf2_sha1$'))).resolves.toBe(
      false,
    );
  });
});

describe('verifyLegacyHash: malformed strings resolve false', () => {
  const malformed: [string, string][] = [
    // Unknown or missing prefixes.
    ['empty', ''],
    ['no algorithm', 'Xq7pL2mN9vR4tY8wK3jH6gF1dS5aZ0'],
    ['bare PHC string without Django prefix', ARGON2ID.slice('argon2'.length)],
    ['unsupported Django hasher', 'sha1$abc$0123456789abcdef0123456789abcdef01234567'],
    ['prefix case differs', PBKDF2_SHA256.replace('pbkdf2_sha256', 'PBKDF2_SHA256')],
    ['algorithm only', 'argon2'],
    // argon2
    ['argon2: unknown variant', ARGON2ID.replace('argon2id', 'argon2x')],
    ['argon2: missing version (v1.0 layout)', ARGON2ID.replace('$v=19', '')],
    ['argon2: version 16', ARGON2ID.replace('v=19', 'v=16')],
    ['argon2: missing hash', ARGON2ID.slice(0, ARGON2ID.lastIndexOf('$'))],
    ['argon2: extra field', `${ARGON2ID}$AAAA`],
    ['argon2: parameters reordered', ARGON2ID.replace('m=64,t=2,p=1', 't=2,m=64,p=1')],
    ['argon2: missing parameter', ARGON2ID.replace('m=64,t=2,p=1', 'm=64,t=2')],
    ['argon2: bad base64 in hash', ARGON2ID.replace('+gyg', '!gyg')],
    ['argon2: padded base64 in hash', ARGON2ID.replace('+gyg', '+gyg=')],
    ['argon2: bad base64 in salt', ARGON2ID.replace('YzJGc2RITmhiSFF4', 'YzJGc2RITmhiSFF*')],
    ['argon2: salt shorter than 8 bytes', ARGON2ID.replace('YzJGc2RITmhiSFF4', 'YWJj')],
    ['argon2: empty salt', ARGON2ID.replace('YzJGc2RITmhiSFF4', '')],
    ['argon2: t=0', ARGON2ID.replace('t=2', 't=0')],
    ['argon2: p=0', ARGON2ID.replace('p=1', 'p=0')],
    ['argon2: m below 8·p', ARGON2ID.replace('m=64,t=2,p=1', 'm=64,t=2,p=9')],
    ['argon2: leading zero', ARGON2ID.replace('m=64', 'm=064')],
    ['argon2: negative', ARGON2ID.replace('t=2', 't=-2')],
    // pbkdf2
    ['pbkdf2: missing field', 'pbkdf2_sha256$1000$9TBPhMNlQ0xR/fI5fNrnZGisWO0KY4JBt6VZYYi3TI4='],
    ['pbkdf2: extra field', `${PBKDF2_SHA256}$x`],
    ['pbkdf2: empty salt', PBKDF2_SHA256.replace('dPqUR4MCLT2dlqpbnwZ9wZ', '')],
    ['pbkdf2: zero iterations', PBKDF2_SHA256.replace('$1000$', '$0$')],
    ['pbkdf2: non-numeric iterations', PBKDF2_SHA256.replace('$1000$', '$1e3$')],
    ['pbkdf2: leading zero iterations', PBKDF2_SHA256.replace('$1000$', '$01000$')],
    ['pbkdf2: bad base64', PBKDF2_SHA256.replace('TI4=', 'TI*=')],
    ['pbkdf2: missing padding', PBKDF2_SHA256.replace('TI4=', 'TI4')],
    ['pbkdf2: url-safe alphabet', PBKDF2_SHA256.replace('/fI5', '_fI5')],
    ['pbkdf2: hash too short', PBKDF2_SHA256.replace('9TBPhMNlQ0xR/fI5fNrnZGisWO0KY4JBt6VZYYi3TI4=', 'AAAA')],
    ['pbkdf2: empty hash', PBKDF2_SHA256.replace('9TBPhMNlQ0xR/fI5fNrnZGisWO0KY4JBt6VZYYi3TI4=', '')],
    // bcrypt
    ['bcrypt: missing bcrypt string', 'bcrypt$'],
    ['bcrypt: bcrypt string without its $', BCRYPT.replace('bcrypt$$', 'bcrypt$')],
    ['bcrypt: truncated', BCRYPT.slice(0, -1)],
    ['bcrypt: too long', `${BCRYPT}a`],
    ['bcrypt: bad character', BCRYPT.replace('IfODUVa', 'IfODUV!')],
    ['bcrypt: cost below 4', BCRYPT.replace('$04$', '$03$')],
    ['bcrypt: one-digit cost', BCRYPT.replace('$04$', '$4$')],
    ['bcrypt_sha256: wrong marker', BCRYPT_SHA256.replace('$2y$', '$3y$')],
    // scrypt
    ['scrypt: missing field', SCRYPT.replace('$8$1$', '$8$')],
    [
      'scrypt: salt before N (not Django layout)',
      SCRYPT.replace('scrypt$1024$Qx8mZ2rT5vW9yB3n$', 'scrypt$Qx8mZ2rT5vW9yB3n$1024$'),
    ],
    ['scrypt: N not a power of two', SCRYPT.replace('$1024$', '$1000$')],
    ['scrypt: N=1', SCRYPT.replace('$1024$', '$1$')],
    ['scrypt: r=0', SCRYPT.replace('$8$1$', '$0$1$')],
    ['scrypt: p=0', SCRYPT.replace('$8$1$', '$8$0$')],
    ['scrypt: empty salt', SCRYPT.replace('Qx8mZ2rT5vW9yB3n', '')],
    ['scrypt: bad base64', SCRYPT.replace('eA==', 'e*==')],
    ['scrypt: 32-byte key', SCRYPT.replace(/\$[^$]*$/, `$${Buffer.alloc(32, 7).toString('base64')}`)],
  ];

  test.each(malformed)('%s', async (_name, encoded) => {
    await expect(verifyLegacyHash(SECRET, encoded)).resolves.toBe(false);
  });

  test('non-string arguments from untyped callers', async () => {
    await expect(verifyLegacyHash(undefined as unknown as string, PBKDF2_SHA256)).resolves.toBe(false);
    await expect(verifyLegacyHash(SECRET, null as unknown as string)).resolves.toBe(false);
    await expect(verifyLegacyHash(SECRET, 42 as unknown as string)).resolves.toBe(false);
  });

  test('a NUL byte in a bcrypt secret never verifies', async () => {
    await expect(verifyLegacyHash(`${SECRET}\0`, BCRYPT)).resolves.toBe(false);
  });
});

describe('verifyLegacyHash: absurd costs are rejected without doing the work', () => {
  // Each of these would take from seconds to hours, or gigabytes, if it were attempted.
  const absurd: [string, string][] = [
    ['pbkdf2: 10_000_001 iterations', PBKDF2_SHA256.replace('$1000$', '$10000001$')],
    ['pbkdf2: 2^53 iterations', PBKDF2_SHA256.replace('$1000$', '$9007199254740993$')],
    ['pbkdf2_sha1: 4e9 iterations', PBKDF2_SHA1.replace('$1200$', '$4000000000$')],
    ['argon2: m just above 1 GiB', ARGON2ID.replace('m=64', 'm=1048577')],
    ['argon2: m = 4 TiB', ARGON2ID.replace('m=64', 'm=4294967296')],
    ['argon2: t=100000', ARGON2ID.replace('t=2', 't=100000')],
    ['argon2: p=100000', ARGON2ID.replace('p=1', 'p=100000')],
    ['bcrypt: cost 17', BCRYPT.replace('$04$', '$17$')],
    ['bcrypt: cost 31', BCRYPT.replace('$04$', '$31$')],
    ['bcrypt_sha256: cost 99', BCRYPT_SHA256.replace('$05$', '$99$')],
    ['scrypt: N=2^21', SCRYPT.replace('$1024$', '$2097152$')],
    ['scrypt: N=2^30', SCRYPT.replace('$1024$', `$${2 ** 30}$`)],
    ['scrypt: 2 GiB (N=2^20, r=16)', SCRYPT.replace('$1024$', `$${2 ** 20}$`).replace('$8$1$', '$16$1$')],
    ['scrypt: r=1000', SCRYPT.replace('$8$1$', '$1000$1$')],
    ['scrypt: p=1000', SCRYPT.replace('$8$1$', '$8$1000$')],
    ['scrypt: work N·r·p over the bound', SCRYPT.replace('$1024$', `$${2 ** 19}$`).replace('$8$1$', '$8$16$')],
  ];

  test.each(absurd)('%s', async (_name, encoded) => {
    const started = performance.now();
    await expect(verifyLegacyHash(SECRET, encoded)).resolves.toBe(false);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('isLegacyHash', () => {
  test.each([
    ARGON2ID,
    ARGON2I,
    ARGON2D,
    PBKDF2_SHA256,
    PBKDF2_SHA1,
    BCRYPT,
    BCRYPT_SHA256,
    SCRYPT,
    // Recognised by prefix even when malformed.
    'argon2$',
    'pbkdf2_sha256$nonsense',
    'bcrypt$x',
    'scrypt$$$',
  ])('%s is legacy', (encoded) => {
    expect(isLegacyHash(encoded)).toBe(true);
  });

  test.each([
    '',
    'argon2',
    'argon2id$v=19$m=64,t=2,p=1$c2FsdA$aGFzaA',
    ARGON2ID.slice('argon2'.length),
    'pbkdf2_sha512$1000$salt$hash',
    'sha1$salt$hash',
    'md5$salt$hash',
    'bcrypt',
    'scrypt',
    'hmac-sha256$0123',
    '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
  ])('%s is not legacy', (encoded) => {
    expect(isLegacyHash(encoded)).toBe(false);
  });
});
