import { describe, expect, it } from '@jest/globals';

import { progressRelay, restoredResults, verifyResult } from './actions.js';

/** The restore action's reading of the agent's output (docs/datapath.md, "Restore progress"). */
describe('restoredResults', () => {
  it('takes the snapshot, its time, the part and the totals', () => {
    const stdout =
      'Restoring: 0 B, 0 files, 0 B/s\n' +
      'Restored etc path nginx/sites enabled snapshot etc_20261201-120000_ab12 (taken 2026-12-01T14:00:00+02:00) from primary into /srv/r\n' +
      'Totals: 12 files, 48213 bytes in 0.4 s\n';
    expect(restoredResults(stdout)).toEqual({
      path: 'nginx/sites enabled',
      snapshot: 'etc_20261201-120000_ab12',
      'snapshot-time': '2026-12-01T14:00:00+02:00',
      files: '12',
      bytes: '48213',
      seconds: '0.4',
    });
  });

  it('says nothing a storage did not report', () => {
    expect(restoredResults('Restored etc (latest) from primary into /srv/r\n')).toEqual({});
    expect(
      restoredResults('Restored etc snapshot (mirror) from primary into /r\nTotals: 1 files, 2 bytes in 0.0 s\n'),
    ).toEqual({
      snapshot: '(mirror)',
      files: '1',
      bytes: '2',
      seconds: '0.0',
    });
  });
});

describe('progressRelay', () => {
  it('passes on whole progress lines only, however the output is cut', () => {
    const logged: string[] = [];
    const relay = progressRelay((line) => logged.push(line));
    relay('Restoring: 1 B, 0 files');
    relay(', 1 B/s\nsomething else\nRestor');
    relay('ing: 2 B, 1 files, 2 B/s\nRestored etc');
    expect(logged).toEqual(['Restoring: 1 B, 0 files, 1 B/s', 'Restoring: 2 B, 1 files, 2 B/s']);
  });
});

describe('verifyResult', () => {
  it('takes the agent’s verify verdict and the problems after it', () => {
    expect(
      verifyResult(
        'Restored etc snapshot s from primary into /r\nTotals: 1 files, 2 bytes in 0.0 s\n' +
          'Verify found 1 problem against the manifest of s:\n  content a: content differs\n',
      ),
    ).toBe('Verify found 1 problem against the manifest of s:\n  content a: content differs');
    expect(verifyResult('Not verified: this storage sent no manifest\n')).toBe(
      'Not verified: this storage sent no manifest',
    );
    expect(verifyResult('Restored etc (latest) from primary into /r\n')).toBeUndefined();
  });
});
