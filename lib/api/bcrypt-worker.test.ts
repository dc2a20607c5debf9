import { afterAll, describe, expect, it } from '@jest/globals';

import { distPath } from '../../tests/support/processes.js';
import { stopBcryptWorker, useBcryptWorker } from './bcrypt-worker.js';
import { verifyLegacyHash } from './legacy-hashes.js';

/**
 * bcrypt through the worker thread, as the API server runs it: the built turku-api program
 * (dist/, `npm run build` first) started as a thread. Vectors as in legacy-hashes.test.ts.
 */

const SECRET = 'Xq7pL2mN9vR4tY8wK3jH6gF1dS5aZ0';
const BCRYPT = 'bcrypt$$2y$04$7ViSDnV2xH66LNO0.cQh/.VGWBxPvVQ9j9i6vTCIoM9oA.IfODUVa';
const BCRYPT_SHA256 = 'bcrypt_sha256$$2y$05$0ObFnJbipLoQaBp6oVG7beoOXVVyZv8ad0mDeys2p4lrq2jOgS8Me';

describe('bcrypt in the worker thread', () => {
  useBcryptWorker(distPath('lib/api/main.js'));
  afterAll(async () => {
    useBcryptWorker(undefined);
    await stopBcryptWorker();
  });

  it('verifies the right secret and refuses a wrong one, also many at once', async () => {
    const checks = [
      verifyLegacyHash(SECRET, BCRYPT),
      verifyLegacyHash(SECRET, BCRYPT_SHA256),
      verifyLegacyHash(`${SECRET}x`, BCRYPT),
      verifyLegacyHash(`${SECRET}x`, BCRYPT_SHA256),
      ...Array.from({ length: 6 }, () => verifyLegacyHash(SECRET, BCRYPT)),
    ];
    expect(await Promise.all(checks)).toEqual([true, true, false, false, true, true, true, true, true, true]);
  });
});
