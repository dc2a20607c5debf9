import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { chooseAsOf } from './snapshot-choice.js';

const at = (iso: string) => new Date(iso);
const snapshots = [
  { name: 'b', finishedAt: at('2026-12-02T01:00:00.400Z') },
  { name: 'a', finishedAt: at('2026-12-01T01:00:00.000Z') },
  { name: 'c', finishedAt: at('2026-12-03T01:00:00.000Z') },
];

/** docs/datapath.md, "Restore as of a moment". */
describe('chooseAsOf', () => {
  it.each([
    ['2026-12-01T01:00:00.000Z', 'a'],
    ['2026-12-02T00:59:59.999Z', 'a'],
    // b finished at 01:00:00.4; its name says 01:00:00, and so does the choice.
    ['2026-12-02T01:00:00.000Z', 'b'],
    ['2026-12-03T00:59:59.000Z', 'b'],
    ['2026-12-03T01:00:00.000Z', 'c'],
    ['2030-01-01T00:00:00.000Z', 'c'],
  ])('as of %s: %s', (asOf, name) => {
    expect(chooseAsOf(snapshots, at(asOf)).chosen?.name).toBe(name);
  });

  it('before the first: none, and the first is named', () => {
    const choice = chooseAsOf(snapshots, at('2026-12-01T00:59:59.999Z'));
    expect(choice.chosen).toBeUndefined();
    expect(choice.first?.name).toBe('a');
  });

  it('no snapshots: none and no first', () => {
    expect(chooseAsOf([], new Date())).toEqual({ chosen: undefined, first: undefined });
  });

  it('equal times: the later name, as `latest` takes it', () => {
    const twins = [
      { name: 'y', finishedAt: at('2026-12-01T01:00:00Z') },
      { name: 'x', finishedAt: at('2026-12-01T01:00:00Z') },
    ];
    expect(chooseAsOf(twins, at('2026-12-01T01:00:00Z')).chosen?.name).toBe('y');
  });

  it('is the newest whose whole second is at or before the moment', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (times, asOf) => {
          const list = times.map((ms, i) => ({ name: `s${String(i).padStart(2, '0')}`, finishedAt: new Date(ms) }));
          const { chosen } = chooseAsOf(list, new Date(asOf));
          const eligible = list.filter((s) => Math.floor(s.finishedAt.getTime() / 1000) * 1000 <= asOf);
          if (eligible.length === 0) return chosen === undefined;
          const newest = Math.max(...eligible.map((s) => s.finishedAt.getTime()));
          return chosen !== undefined && chosen.finishedAt.getTime() === newest;
        },
      ),
    );
  });
});
