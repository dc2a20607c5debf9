import {
  chooseTargets,
  DAY_MS,
  MIN_SAMPLE_BYTES,
  nextSampleBytes,
  nextState,
  NOMINAL_INTERVAL_MS,
  pickOne,
  runShare,
  targetKey,
  type SampleState,
  type SampleTarget,
} from './plan.js';

/** The periodic sample verify's budget and choice (docs/datapath.md, "The periodic sample verify"). */

const GIB = 1024 ** 3;
const HOUR = 60 * 60 * 1000;

const target = (machine: string, source: string): SampleTarget => ({
  machine,
  source,
  mode: 'link-dest',
  machineDir: `/srv/${machine}`,
});

/** A fixed sequence of "random" numbers, cycling. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('runShare: the day budget by the time since the last run', () => {
  test('an hour earns a 24th; a first run counts as one timer interval', () => {
    expect(runShare(24 * GIB, 0, HOUR)).toBe(GIB);
    expect(runShare(24 * GIB, undefined, 5 * HOUR)).toBe((24 * GIB * NOMINAL_INTERVAL_MS) / DAY_MS);
  });

  test('a long pause earns at most one day; a clock gone backwards counts one interval; 0 is off', () => {
    expect(runShare(4 * GIB, 0, 10 * DAY_MS)).toBe(4 * GIB);
    expect(runShare(24 * GIB, 10 * HOUR, 9 * HOUR)).toBe(GIB);
    expect(runShare(0, 0, HOUR)).toBe(0);
  });

  test('runs closer together earn less each: the day total stays the budget', () => {
    let total = 0;
    for (let minute = 5; minute <= 24 * 60; minute += 5)
      total += runShare(4 * GIB, (minute - 5) * 60_000, minute * 60_000);
    expect(Math.abs(total - 4 * GIB)).toBeLessThan(300);
  });
});

describe('chooseTargets: oldest checked first, a few a run', () => {
  const targets = ['a', 'b', 'c', 'd'].map((source) => target('m1', source));
  const checkedAt = (entries: Record<string, number>): SampleState => ({
    checked: Object.fromEntries(
      Object.entries(entries).map(([source, at]) => [targetKey(target('m1', source)), { at, snapshot: 's', ok: true }]),
    ),
  });

  test('never checked before checked, then by the time of the last check', () => {
    const state = checkedAt({ a: 300, b: 100, d: 200 });
    const chosen = chooseTargets(targets, state, 10 * MIN_SAMPLE_BYTES, Math.random);
    expect(chosen.map((t) => t.source)).toEqual(['c', 'b', 'd', 'a']);
  });

  test('one source per MIN_SAMPLE_BYTES of the share, at least one', () => {
    const state = checkedAt({ a: 1, b: 2, c: 3, d: 4 });
    expect(chooseTargets(targets, state, 2 * MIN_SAMPLE_BYTES, Math.random).map((t) => t.source)).toEqual(['a', 'b']);
    expect(chooseTargets(targets, state, 1, Math.random).map((t) => t.source)).toEqual(['a']);
    expect(chooseTargets(targets, state, 0, Math.random)).toEqual([]);
    expect(chooseTargets([], state, GIB, Math.random)).toEqual([]);
  });

  test('ties among never-checked sources fall in random order, so machines and sources spread', () => {
    const firsts = new Set<string>();
    for (const r of [0, 0.3, 0.6, 0.99]) {
      firsts.add(chooseTargets(targets, { checked: {} }, MIN_SAMPLE_BYTES, sequence(r, 0.5))[0]!.source);
    }
    expect(firsts.size).toBeGreaterThan(1);
  });

  test('over many runs, every source is visited in turn', () => {
    let state: SampleState = { checked: {} };
    const seen: string[] = [];
    for (let run = 1; run <= 8; run++) {
      const [chosen] = chooseTargets(targets, state, MIN_SAMPLE_BYTES, Math.random);
      seen.push(chosen!.source);
      state = nextState(state, targets, new Map([[targetKey(chosen!), { at: run, snapshot: 's', ok: true }]]), run);
    }
    expect(seen.slice(0, 4).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(seen.slice(4)).toEqual(seen.slice(0, 4));
  });
});

describe('the sample sizes and the state', () => {
  test('what one visit leaves unspent goes to the visits after it', () => {
    expect(nextSampleBytes(300, 3)).toBe(100);
    expect(nextSampleBytes(300 - 10, 2)).toBe(145);
    expect(nextSampleBytes(0, 2)).toBe(0);
    expect(nextSampleBytes(5, 0)).toBe(0);
  });

  test('pickOne is uniform over its items and undefined for none', () => {
    expect(pickOne(['x', 'y', 'z'], () => 0)).toBe('x');
    expect(pickOne(['x', 'y', 'z'], () => 0.5)).toBe('y');
    expect(pickOne(['x', 'y', 'z'], () => 0.9999)).toBe('z');
    expect(pickOne([], () => 0.5)).toBeUndefined();
  });

  test("the next state keeps the targets still here, with this run's checks and its time", () => {
    const gone = target('m2', 'old');
    const kept = target('m1', 'a');
    const fresh = target('m1', 'b');
    const before: SampleState = {
      lastRun: 1,
      checked: {
        [targetKey(gone)]: { at: 1, snapshot: 's1', ok: true },
        [targetKey(kept)]: { at: 1, snapshot: 's2', ok: false },
      },
    };
    const after = nextState(
      before,
      [kept, fresh],
      new Map([[targetKey(fresh), { at: 9, snapshot: 's3', ok: true }]]),
      9,
    );
    expect(after).toEqual({
      lastRun: 9,
      checked: {
        [targetKey(kept)]: { at: 1, snapshot: 's2', ok: false },
        [targetKey(fresh)]: { at: 9, snapshot: 's3', ok: true },
      },
    });
  });
});
