import { scryptSync } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import { scryptKey } from './kdf.js';

const COST = { N: 2 ** 15, r: 8, p: 1 };
const salt = Buffer.from('kdf-test-salt');

describe('scryptKey', () => {
  test('derives what scrypt derives', async () => {
    const key = await scryptKey(Buffer.from('hunter2'), salt, 32, { N: 1024, r: 8, p: 1 });
    expect(key).toEqual(scryptSync('hunter2', salt, 32, { N: 1024, r: 8, p: 1 }));
  });

  test('runs one derivation at a time, so a burst of weak-secret logins holds one core at most', async () => {
    const finished: number[] = [];
    const started = Date.now();
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((secret) =>
        scryptKey(Buffer.from(secret), salt, 32, COST).then(() => finished.push(Date.now() - started)),
      ),
    );
    const [first, , , last] = finished as [number, number, number, number];
    // In parallel (libuv runs four at once) they would end together; one at a time, the last
    // ends about three derivations after the first.
    expect(last - first).toBeGreaterThan(1.5 * first);
  });

  test('a failed derivation does not stop the ones queued behind it', async () => {
    const tooCostly = scryptKey(Buffer.from('x'), salt, 32, { N: 3, r: 8, p: 1 }); // N not a power of 2
    const next = scryptKey(Buffer.from('y'), salt, 32, { N: 1024, r: 8, p: 1 });
    await expect(tooCostly).rejects.toThrow();
    await expect(next).resolves.toHaveLength(32);
  });
});
