import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { DEFAULT_BACKOFF, retryDelaySeconds } from './backoff.js';

describe('retryDelaySeconds', () => {
  it('defaults to 300 s initial and 21600 s max (docs/api.md, "When a source is due")', () => {
    expect(DEFAULT_BACKOFF).toEqual({ initial: 300, max: 21_600 });
  });

  it('with the defaults gives 5, 10, 20, 40, 80, 160, 320, then 360 minutes for failures 1..10', () => {
    const delays = Array.from({ length: 10 }, (_, i) => retryDelaySeconds(i + 1));
    expect(delays).toEqual([300, 600, 1200, 2400, 4800, 9600, 19_200, 21_600, 21_600, 21_600]);
    expect(delays.map((seconds) => seconds / 60)).toEqual([5, 10, 20, 40, 80, 160, 320, 360, 360, 360]);
  });

  it('passing DEFAULT_BACKOFF explicitly is the same as passing nothing', () => {
    for (let k = 1; k <= 12; k++) expect(retryDelaySeconds(k, DEFAULT_BACKOFF)).toBe(retryDelaySeconds(k));
  });

  it('uses custom settings: initial × 2^(k−1), capped at max', () => {
    const backoff = { initial: 60, max: 1000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((k) => retryDelaySeconds(k, backoff))).toEqual([
      60, 120, 240, 480, 960, 1000, 1000,
    ]);
  });

  it('a cap that is not reached leaves the doubling alone', () => {
    const backoff = { initial: 1, max: 1e9 };
    expect(retryDelaySeconds(1, backoff)).toBe(1);
    expect(retryDelaySeconds(11, backoff)).toBe(1024);
    expect(retryDelaySeconds(30, backoff)).toBe(2 ** 29);
  });

  it('max equal to initial gives a constant delay', () => {
    for (let k = 1; k <= 5; k++) expect(retryDelaySeconds(k, { initial: 90, max: 90 })).toBe(90);
  });

  it('k = 0 (no failure yet) gives a finite delay no longer than the first retry', () => {
    const delay = retryDelaySeconds(0);
    expect(Number.isFinite(delay)).toBe(true);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(300);
  });

  it('huge k gives the cap, never Infinity or NaN', () => {
    for (const k of [11, 64, 1023, 1024, 1025, 1100, 1e6, Number.MAX_SAFE_INTEGER]) {
      expect(retryDelaySeconds(k)).toBe(21_600);
      expect(retryDelaySeconds(k, { initial: 7, max: 123 })).toBe(123);
    }
  });

  it('never decreases with k and stays within (0, max] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 5000 }),
        (initial, extra, k0, step) => {
          const backoff = { initial, max: initial + extra };
          const a = retryDelaySeconds(k0, backoff);
          const b = retryDelaySeconds(k0 + step, backoff);
          expect(a).toBeGreaterThan(0);
          expect(a).toBeLessThanOrEqual(b);
          expect(b).toBeLessThanOrEqual(backoff.max);
          expect(retryDelaySeconds(k0 + 1, backoff)).toBe(Math.min(initial * 2 ** k0, backoff.max));
        },
      ),
      { numRuns: 200 },
    );
  });
});
