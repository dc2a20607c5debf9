import { describe, expect, test } from '@jest/globals';

import { rowWarnings } from './warnings.js';

describe('rowWarnings: secret hashes', () => {
  const warningsFor = (secret_hash: string) => rowWarnings('auths', { secret_hash }, 'auth "x"');

  test.each([
    ['an original Argon2id hash', 'argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA'],
    ['an original PBKDF2 hash', 'pbkdf2_sha256$260000$salt$aGFzaA=='],
    ['our fast hash', 'hmac-sha256$c2FsdA$aGFzaA'],
    ['our weak-secret hash', 'scrypt-short$ln=14,r=8,p=5$c2FsdA$aGFzaA'],
  ])('%s: no warning', (_, hash) => {
    expect(warningsFor(hash)).toEqual([]);
  });

  test.each([
    ['md5$salt$hash', '"md5"'],
    ['!unusable', 'an unusable password'],
    ['', 'empty'],
  ])('%s: cannot be verified, said without the hash', (hash, format) => {
    expect(warningsFor(hash)).toEqual([
      `auth "x": its secret hash is in a format this API cannot verify (${format}), so it can register nothing until it is given a new secret`,
    ]);
  });
});
