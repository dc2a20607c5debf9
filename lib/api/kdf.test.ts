import { scrypt, scryptSync } from 'node:crypto';

import { describe, expect, test } from '@jest/globals';

import { oneAtATime, scryptKey } from './kdf.js';

const COST = { N: 2 ** 15, r: 8, p: 1 };
const salt = Buffer.from('kdf-test-salt');

describe('scryptKey', () => {
  test('derives what scrypt derives', async () => {
    const key = await scryptKey(Buffer.from('hunter2'), salt, 32, { N: 1024, r: 8, p: 1 });
    expect(key).toEqual(scryptSync('hunter2', salt, 32, { N: 1024, r: 8, p: 1 }));
  });

  test('runs one derivation at a time, so a burst of weak-secret logins holds one core at most', async () => {
    // Asserted on order, not on timing (a busy machine stretches every timing): a derivation asked
    // for while another slow derivation holds the lane has not ended by the time the same
    // derivation, run beside the lane, has; it ends once the lane is free.
    let release!: () => void;
    const holder = oneAtATime(() => new Promise<void>((resolve) => (release = resolve)));
    let queuedEnded = false;
    const queued = scryptKey(Buffer.from('a'), salt, 32, COST).then(() => (queuedEnded = true));
    await new Promise<void>((resolve, reject) =>
      scrypt('b', salt, 32, { ...COST, maxmem: 64 * 1024 * 1024 }, (error) => (error ? reject(error) : resolve())),
    );
    expect(queuedEnded).toBe(false);
    release();
    await holder;
    await queued;
    expect(queuedEnded).toBe(true);
  });

  test('never runs two pieces of slow work at once', async () => {
    let running = 0;
    let most = 0;
    const work = async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
    };
    await Promise.all([work, work, work, work].map((w) => oneAtATime(w)));
    expect(most).toBe(1);
  });

  test('a failed derivation does not stop the ones queued behind it', async () => {
    const tooCostly = scryptKey(Buffer.from('x'), salt, 32, { N: 3, r: 8, p: 1 }); // N not a power of 2
    const next = scryptKey(Buffer.from('y'), salt, 32, { N: 1024, r: 8, p: 1 });
    await expect(tooCostly).rejects.toThrow();
    await expect(next).resolves.toHaveLength(32);
  });
});
