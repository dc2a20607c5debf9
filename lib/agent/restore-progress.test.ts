import { describe, expect, it } from '@jest/globals';

import { encodeRestoreDone, encodeRestoreProgress } from '../turku/protocol/restore-report.js';
import { catchRestoreReports, formatDuration, ProgressPrinter, progressText } from './restore-progress.js';

const sample = { bytes: 120_500_000, files: 1234, total_bytes: 400_000_000, total_files: 5000, seconds: 10 };

/** docs/datapath.md, "Restore progress": the agent's side. */
describe('progressText', () => {
  it('says bytes, files, rate and what is left', () => {
    expect(progressText({ version: 1, ...sample })).toBe(
      'Restoring: 120.5 MB of 400.0 MB (30%), 1,234 of 5,000 files, 12.1 MB/s, 0:00:23 left',
    );
  });

  it('without totals yet: what was sent and the rate', () => {
    expect(progressText({ version: 1, ...sample, total_bytes: null, total_files: null })).toBe(
      'Restoring: 120.5 MB, 1,234 files, 12.1 MB/s',
    );
  });

  it('formats durations as H:MM:SS', () => {
    expect(formatDuration(3725.4)).toBe('1:02:05');
  });
});

describe('ProgressPrinter', () => {
  it('on a terminal rewrites one line in place and ends it', () => {
    const out: string[] = [];
    const printer = new ProgressPrinter((text) => out.push(text), true);
    printer.show({ version: 1, ...sample, total_bytes: null, total_files: null });
    printer.show({ version: 1, ...sample });
    printer.end();
    expect(out[0]).toBe('\rRestoring: 120.5 MB, 1,234 files, 12.1 MB/s');
    expect(out[1]!.startsWith('\rRestoring: 120.5 MB of 400.0 MB')).toBe(true);
    expect(out[2]).toBe('\n');
  });

  it('elsewhere writes plain lines at most every 5 s', () => {
    const out: string[] = [];
    let now = 0;
    const printer = new ProgressPrinter(
      (text) => out.push(text),
      false,
      () => now,
    );
    for (const at of [0, 1000, 4999, 5000, 9000, 10_000]) {
      now = at;
      printer.show({ version: 1, ...sample, seconds: at / 1000 + 1 });
    }
    printer.end();
    expect(out).toHaveLength(3);
    expect(out.every((line) => line.startsWith('Restoring: ') && line.endsWith('\n'))).toBe(true);
  });
});

describe('catchRestoreReports', () => {
  it('takes progress and done lines out, however cut, and passes the rest', () => {
    const progress: number[] = [];
    const passed: string[] = [];
    const catcher = catchRestoreReports(
      (p) => progress.push(p.bytes),
      (text) => passed.push(text),
    );
    const text =
      encodeRestoreProgress({ bytes: 5, files: 1, total_bytes: null, total_files: null, seconds: 1 }) +
      'hello\n' +
      encodeRestoreDone({ source: 'etc', snapshot: 's', time: null, path: null, bytes: 5, files: 1, seconds: 1 }) +
      'turku-restore-progress {not json}\n' +
      'tail';
    for (let i = 0; i < text.length; i += 7) catcher.push(text.slice(i, i + 7));
    catcher.end();
    expect(progress).toEqual([5]);
    expect(passed).toEqual(['hello\n', 'turku-restore-progress {not json}\n', 'tail']);
    expect(catcher.done).toMatchObject({ snapshot: 's', bytes: 5 });
  });
});
