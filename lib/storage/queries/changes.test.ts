import { describe, expect, it } from '@jest/globals';

import { ChangeTracker, type PathState } from './changes.js';

const s = (name: string) => ({ name, time: `${name}-time` });
const file = (size: number, mtime = 't1'): PathState => ({ entry: 'file', size, mtime });
const present = (entries: Record<string, PathState>) => new Map(Object.entries(entries));

describe('ChangeTracker', () => {
  it('says where each path was added, changed and removed, and how many snapshots hold it', () => {
    const tracker = new ChangeTracker(100);
    tracker.observe(s('s1'), present({ a: file(1), b: file(5) }));
    tracker.observe(s('s2'), present({ a: file(1), b: file(6) }));
    tracker.observe(s('s3'), present({ b: file(6, 't2') }));
    tracker.observe(s('s4'), present({ a: file(2), b: file(6, 't2') }));
    expect(tracker.matches()).toEqual([
      {
        type: 'match',
        path: 'a',
        entry: 'file',
        held: 3,
        events: [
          { snapshot: 's1', time: 's1-time', change: 'added', size: 1, mtime: 't1' },
          { snapshot: 's3', time: 's3-time', change: 'removed' },
          { snapshot: 's4', time: 's4-time', change: 'added', size: 2, mtime: 't1' },
        ],
      },
      {
        type: 'match',
        path: 'b',
        entry: 'file',
        held: 4,
        events: [
          { snapshot: 's1', time: 's1-time', change: 'added', size: 5, mtime: 't1' },
          { snapshot: 's2', time: 's2-time', change: 'changed', size: 6, mtime: 't1' },
          { snapshot: 's3', time: 's3-time', change: 'changed', size: 6, mtime: 't2' },
        ],
      },
    ]);
    expect(tracker.more).toBe(0);
  });

  it('counts a change of type as a change', () => {
    const tracker = new ChangeTracker(10);
    tracker.observe(s('s1'), present({ a: file(4) }));
    tracker.observe(s('s2'), present({ a: { entry: 'symlink', size: 4, mtime: 't1' } }));
    expect(tracker.matches()[0]).toMatchObject({
      entry: 'symlink',
      events: [{ change: 'added' }, { change: 'changed' }],
    });
  });

  it('follows at most `limit` paths and counts the others once each', () => {
    const tracker = new ChangeTracker(2, 3);
    tracker.observe(s('s1'), present({ a: file(1), b: file(1), c: file(1), d: file(1) }));
    tracker.observe(s('s2'), present({ c: file(1), e: file(1) }));
    expect(tracker.matches().map((m) => m.path)).toEqual(['a', 'b']);
    expect(tracker.more).toBe(3);
    expect(tracker.moreIsLowerBound).toBe(false);
    tracker.observe(s('s3'), present({ f: file(1) }));
    expect(tracker.more).toBe(3);
    expect(tracker.moreIsLowerBound).toBe(true);
  });
});
