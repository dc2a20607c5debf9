import { seededRandom } from './seeded-random.js';

describe('seededRandom', () => {
  test('the same seed gives the same sequence, another seed another one', () => {
    const take = (seed: number) => {
      const next = seededRandom(seed);
      return Array.from({ length: 5 }, () => next());
    };
    expect(take(7)).toEqual(take(7));
    expect(take(7)).not.toEqual(take(8));
  });

  test('values lie in [0, 1) and spread over it', () => {
    const next = seededRandom(1);
    const values = Array.from({ length: 10_000 }, () => next());
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const firstHalf = values.filter((v) => v < 0.5).length;
    expect(firstHalf).toBeGreaterThan(4_700);
    expect(firstHalf).toBeLessThan(5_300);
  });
});
