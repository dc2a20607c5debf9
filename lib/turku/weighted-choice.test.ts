import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { weightedChoice } from './weighted-choice.js';

interface Candidate {
  readonly name: string;
  readonly weight: number;
}

const candidates = (...weights: number[]): Candidate[] => weights.map((weight, i) => ({ name: `c${i}`, weight }));
const weightOf = (candidate: Candidate): number => candidate.weight;
/** A `random` that always returns `value`. */
const fixed = (value: number) => (): number => value;
const pick = (list: readonly Candidate[], random: number): string | undefined =>
  weightedChoice(list, weightOf, fixed(random))?.name;

/** The largest double below 1, the top of Math.random's range. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

describe('weightedChoice', () => {
  it('returns undefined when there are no candidates', () => {
    expect(weightedChoice([], weightOf, fixed(0.5))).toBeUndefined();
    expect(weightedChoice([], () => 1)).toBeUndefined();
  });

  it('returns the only candidate whatever its weight', () => {
    for (const weight of [0, 1, 1e9]) {
      expect(pick(candidates(weight), 0)).toBe('c0');
      expect(pick(candidates(weight), ALMOST_ONE)).toBe('c0');
    }
  });

  it('chooses uniformly by `random` when every weight is 0', () => {
    const list = candidates(0, 0, 0, 0);
    expect(pick(list, 0)).toBe('c0');
    expect(pick(list, 0.24)).toBe('c0');
    expect(pick(list, 0.26)).toBe('c1');
    expect(pick(list, 0.5)).toBe('c2');
    expect(pick(list, 0.74)).toBe('c2');
    expect(pick(list, 0.76)).toBe('c3');
    expect(pick(list, ALMOST_ONE)).toBe('c3');
  });

  it('splits [0, 1) into intervals proportional to the weights, in candidate order', () => {
    // Weights 1, 3 (sum 4): c0 owns [0, 0.25), c1 owns [0.25, 1).
    const list = candidates(1, 3);
    expect(pick(list, 0)).toBe('c0');
    expect(pick(list, 0.25 - 1e-9)).toBe('c0');
    expect(pick(list, 0.25 + 1e-9)).toBe('c1');
    expect(pick(list, ALMOST_ONE)).toBe('c1');
  });

  it('uses weight / sum for three candidates', () => {
    // Weights 2, 5, 3 (sum 10): [0, 0.2), [0.2, 0.7), [0.7, 1).
    const list = candidates(2, 5, 3);
    expect(pick(list, 0.19)).toBe('c0');
    expect(pick(list, 0.21)).toBe('c1');
    expect(pick(list, 0.69)).toBe('c1');
    expect(pick(list, 0.71)).toBe('c2');
  });

  it('never chooses a zero-weight candidate while another has weight, even at the ends of the range', () => {
    expect(pick(candidates(0, 1), 0)).toBe('c1');
    expect(pick(candidates(1, 0), ALMOST_ONE)).toBe('c0');
    expect(pick(candidates(0, 5, 0), 0)).toBe('c1');
    expect(pick(candidates(0, 5, 0), ALMOST_ONE)).toBe('c1');
    // Weights 2, 0, 2: the middle candidate owns an empty interval at 0.5.
    expect(pick(candidates(2, 0, 2), 0.49)).toBe('c0');
    expect(pick(candidates(2, 0, 2), 0.5)).not.toBe('c1');
    expect(pick(candidates(2, 0, 2), 0.51)).toBe('c2');
  });

  it('treats negative weights as 0', () => {
    // As 0: weights 0, 1, 1, so 0.6 falls in c2's half. (Summing -3 in would make everything uniform.)
    expect(pick(candidates(-3, 1, 1), 0.6)).toBe('c2');
    expect(pick(candidates(-3, 1, 1), 0)).toBe('c1');
    expect(pick(candidates(1, -100), ALMOST_ONE)).toBe('c0');
    // A negative weight does not reduce the share of the others: -2 with 1 and 3 is 0, 1, 3.
    expect(pick(candidates(1, -2, 3), 0.24)).toBe('c0');
    expect(pick(candidates(1, -2, 3), 0.26)).toBe('c2');
  });

  it('chooses uniformly when every weight is negative or 0', () => {
    const list = candidates(-1, 0, -5);
    expect(pick(list, 0.1)).toBe('c0');
    expect(pick(list, 0.5)).toBe('c1');
    expect(pick(list, 0.9)).toBe('c2');
  });

  it('always returns a candidate with weight > 0 when any has one (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.constant(0), fc.integer({ min: -10, max: 10 }), fc.double({ min: -1e6, max: 1e12, noNaN: true })),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (weights, random) => {
          const list = candidates(...weights);
          const chosen = weightedChoice(list, weightOf, fixed(random));
          expect(chosen).toBeDefined();
          expect(list).toContain(chosen);
          if (weights.some((weight) => weight > 0)) expect(chosen!.weight).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('with Math.random, each share over 20,000 draws is within 2 points of weight / sum', () => {
    const list = candidates(1, 2, 0, 3, 4);
    const total = 10;
    const draws = 20_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      const chosen = weightedChoice(list, weightOf);
      counts.set(chosen!.name, (counts.get(chosen!.name) ?? 0) + 1);
    }
    expect(counts.get('c2')).toBeUndefined();
    for (const candidate of list) {
      const share = (counts.get(candidate.name) ?? 0) / draws;
      expect(Math.abs(share - candidate.weight / total)).toBeLessThanOrEqual(0.02);
    }
  });

  it('with Math.random and all weights 0, each share over 20,000 draws is within 2 points of uniform', () => {
    const list = candidates(0, 0, 0, 0);
    const draws = 20_000;
    const counts = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      const chosen = weightedChoice(list, weightOf);
      counts.set(chosen!.name, (counts.get(chosen!.name) ?? 0) + 1);
    }
    for (const candidate of list) {
      expect(Math.abs((counts.get(candidate.name) ?? 0) / draws - 0.25)).toBeLessThanOrEqual(0.02);
    }
  });
});
