import { describe, expect, it } from '@jest/globals';

import { encodeAnswerLine, parseAnswer, Query } from './queries.js';

const header = encodeAnswerLine({ type: 'answer', version: 1, kind: 'list-files', source: 'etc' });

describe('parseAnswer', () => {
  it('is undefined without a header line (an original storage says nothing on stdout)', () => {
    expect(parseAnswer('')).toBeUndefined();
    expect(parseAnswer('Restore mode active\n{"type":"end","shown":0,"more":0,"complete":true}\n')).toBeUndefined();
  });

  it('reads the rows up to the end line, skipping what it does not know', () => {
    const text =
      header +
      encodeAnswerLine({ type: 'listing', snapshot: 's1', time: '2026-01-01T00:00:00.000Z', path: 'etc' }) +
      '{"type":"entry","name":"a","entry":"door","size":1,"mode":"-rw-r--r--","mtime":null}\n' +
      '{"type":"later-kind","x":1}\nnot json\n' +
      encodeAnswerLine({ type: 'end', shown: 1, more: 2, complete: true }) +
      '{"type":"entry","name":"after the end","entry":"file","size":1,"mode":"-","mtime":null}\n';
    const answer = parseAnswer(text)!;
    expect(answer.header).toMatchObject({ kind: 'list-files', version: 1 });
    expect(answer.listing).toMatchObject({ snapshot: 's1', path: 'etc' });
    expect(answer.entries).toEqual([
      { type: 'entry', name: 'a', entry: 'other', size: 1, mode: '-rw-r--r--', mtime: null },
    ]);
    expect(answer.end).toEqual({ type: 'end', shown: 1, more: 2, complete: true });
  });

  it('keeps the error, and says nothing ended when the answer was cut short', () => {
    expect(parseAnswer(`${header}{"type":"error","message":"no such snapshot"}\n`)?.error).toBe('no such snapshot');
    const cut = parseAnswer(`${header}{"type":"entry","name":"a","entry":"file","size":1,"mode":"-","mtime":null}`)!;
    expect(cut.end).toBeUndefined();
    expect(cut.entries).toHaveLength(1);
  });
});

describe('Query', () => {
  it('fills in the defaults and bounds the limit and the pattern', () => {
    expect(Query.parse({ kind: 'list-files', source: 'etc' })).toEqual({
      kind: 'list-files',
      source: 'etc',
      snapshot: 'latest',
      path: '',
      limit: 1000,
    });
    expect(Query.safeParse({ kind: 'find', source: 'etc', pattern: '*', limit: 10_001 }).success).toBe(false);
    expect(Query.safeParse({ kind: 'find', source: 'etc', pattern: 'x'.repeat(257) }).success).toBe(false);
    expect(Query.safeParse({ kind: 'delete-everything', source: 'etc' }).success).toBe(false);
  });
});
