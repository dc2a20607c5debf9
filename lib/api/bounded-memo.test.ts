import { describe, expect, it } from '@jest/globals';

import { BoundedMemo } from './bounded-memo.js';

describe('BoundedMemo', () => {
  it('forgets the least recently stored values once over budget', () => {
    const memo = new BoundedMemo<string, number>(100);
    memo.set('a', 1, 40);
    memo.set('b', 2, 40);
    memo.set('a', 3, 40); // stored again: now the most recent
    memo.set('c', 4, 40);
    expect([memo.get('a'), memo.get('b'), memo.get('c')]).toEqual([3, undefined, 4]);
    expect([memo.size, memo.totalCost]).toEqual([2, 80]);
  });

  it('keeps a touched value longer and never stores one over the whole budget', () => {
    const memo = new BoundedMemo<string, number>(100);
    memo.set('a', 1, 50);
    memo.set('b', 2, 50);
    expect(memo.touch('a')).toBe(true);
    expect(memo.touch('z')).toBe(false);
    memo.set('c', 3, 50);
    expect([memo.get('a'), memo.get('b'), memo.get('c')]).toEqual([1, undefined, 3]);
    memo.set('huge', 4, 101);
    expect(memo.get('huge')).toBeUndefined();
    expect(memo.totalCost).toBe(100);
  });

  it('stores nothing with a budget of 0', () => {
    const memo = new BoundedMemo<string, number>(0);
    memo.set('a', 1, 1);
    expect(memo.size).toBe(0);
  });
});
