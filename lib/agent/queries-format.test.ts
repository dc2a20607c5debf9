import { describe, expect, it } from '@jest/globals';

import { encodeAnswerLine, parseAnswer, type AnswerLine } from '../turku/protocol/queries.js';
import { answerJson, formatAnswer, humanSize, zonedTime } from './queries-format.js';

const answer = (...lines: AnswerLine[]) => parseAnswer(lines.map(encodeAnswerLine).join(''))!;
const asked = { storage: 'primary', timeZone: 'Europe/Helsinki' };

describe('humanSize and zonedTime', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [102_400, '100 KiB'],
    [10 * 1024 * 1024 + 1, '10 MiB'],
    [3 * 1024 ** 4, '3 TiB'],
  ])('%d bytes: %s', (bytes, text) => {
    expect(humanSize(bytes)).toBe(text);
  });

  it('shows times in the agent’s zone with the offset', () => {
    expect(zonedTime('2026-07-01T09:30:00.000Z', 'Europe/Helsinki')).toBe('2026-07-01 12:30:00 +03:00');
    expect(zonedTime('2026-12-01T09:30:00.000Z', 'Europe/Helsinki')).toBe('2026-12-01 11:30:00 +02:00');
    expect(zonedTime(null)).toBeNull();
  });
});

describe('formatAnswer', () => {
  it('lists snapshots, unmeasured ones with "-", and says when the storage stopped early', () => {
    const text = formatAnswer(
      answer(
        { type: 'answer', version: 1, kind: 'list-snapshots', source: 'etc' },
        { type: 'snapshot', name: 'etc_1', mode: 'link-dest', time: '2026-12-01T09:30:00.000Z', size: 2048, files: 3 },
        { type: 'snapshot', name: 'etc_2', mode: 'borg', time: '2026-12-02T09:30:00.000Z', size: null, files: null },
        { type: 'end', shown: 2, more: 0, complete: false, note: '1 not measured within the time allowed' },
      ),
      asked,
    );
    expect(text).toBe(
      [
        'Snapshots of etc on storage primary:',
        'SNAPSHOT  MODE       FINISHED                    SIZE   FILES',
        'etc_1     link-dest  2026-12-01 11:30:00 +02:00  2 KiB  3',
        'etc_2     borg       2026-12-02 11:30:00 +02:00  -      -',
        'Incomplete: the storage stopped at its time limit (1 not measured within the time allowed)',
        '',
      ].join('\n'),
    );
  });

  it('lists a directory with links’ targets and the count left out', () => {
    const text = formatAnswer(
      answer(
        { type: 'answer', version: 1, kind: 'list-files', source: 'etc' },
        { type: 'listing', snapshot: 'etc_1', time: '2026-12-01T09:30:00.000Z', path: '' },
        { type: 'entry', name: 'x', entry: 'symlink', size: 1, mode: 'lrwxrwxrwx', mtime: null, target: '/' },
        { type: 'end', shown: 1, more: 4, complete: true },
      ),
      asked,
    );
    expect(text.split('\n')).toEqual([
      'etc (top) in snapshot etc_1 (finished 2026-12-01 11:30:00 +02:00) on storage primary:',
      'MODE        SIZE  MTIME  NAME',
      'lrwxrwxrwx  1     -      x -> /',
      '... and 4 more not shown (raise --limit, up to the maximum, or narrow the query)',
      '',
    ]);
  });

  it('gives one row per change of each matching path, and --json the whole answer', () => {
    const parsed = answer(
      { type: 'answer', version: 1, kind: 'find', source: 'etc' },
      {
        type: 'match',
        path: 'a.conf',
        entry: 'file',
        held: 1,
        events: [
          { snapshot: 's1', time: '2026-12-01T09:30:00.000Z', change: 'added', size: 3, mtime: null },
          { snapshot: 's2', time: '2026-12-02T09:30:00.000Z', change: 'removed' },
        ],
      },
      { type: 'end', shown: 1, more: 0, complete: true, note: 'searched 2 of 2 snapshots' },
    );
    expect(formatAnswer(parsed, asked).split('\n').slice(1, 4)).toEqual([
      'PATH    SNAPSHOT  FINISHED                    CHANGE   SIZE  MTIME  HELD',
      'a.conf  s1        2026-12-01 11:30:00 +02:00  added    3     -      1',
      'a.conf  s2        2026-12-02 11:30:00 +02:00  removed  -     -      1',
    ]);
    expect(JSON.parse(answerJson(parsed, asked))).toEqual({
      version: 1,
      kind: 'find',
      storage: 'primary',
      source: 'etc',
      matches: [{ path: 'a.conf', entry: 'file', held: 1, events: expect.any(Array) }],
      more: 0,
      complete: true,
      note: 'searched 2 of 2 snapshots',
    });
  });
});
