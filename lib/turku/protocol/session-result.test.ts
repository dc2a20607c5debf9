import { describe, expect, it } from '@jest/globals';

import { encodeResultLine, MAX_RESULT_SUMMARY, parseResultLine } from './session-result.js';

describe('the session result line', () => {
  it('is one line that reads back as it was written, whatever the names hold', () => {
    const sources = {
      etc: { success: true, snapshot: 'etc-2026-12-05T01:00:00', summary: null, reported: true },
      'two\nlines "quoted"': { success: false, snapshot: null, summary: 'rsync exited with return code 23' },
    };
    const line = encodeResultLine(sources);
    expect(line.startsWith('turku-result {"version":1,"sources":{')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(parseResultLine(line)).toEqual({ version: 1, sources });
  });

  it('cuts long summaries', () => {
    const line = encodeResultLine({ a: { success: false, summary: 'x'.repeat(10_000) } });
    expect(parseResultLine(line)!.sources.a!.summary).toHaveLength(MAX_RESULT_SUMMARY);
  });

  it('accepts later versions with extra keys, and refuses anything else', () => {
    expect(parseResultLine('turku-result {"version":2,"sources":{"a":{"success":true,"new":1}},"more":[]}')).toEqual({
      version: 2,
      sources: { a: { success: true, new: 1 } },
      more: [],
    });
    for (const bad of [
      'Done',
      'turku-result',
      'turku-result {',
      'turku-result {"sources":{}}',
      'turku-result {"version":0,"sources":{}}',
      'turku-result {"version":1,"sources":{"a":{"success":"yes"}}}',
      ' turku-result {"version":1,"sources":{}}',
    ]) {
      expect(parseResultLine(bad)).toBeUndefined();
    }
  });
});
