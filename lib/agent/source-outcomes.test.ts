import { describe, expect, it } from '@jest/globals';

import { encodeResultLine } from '../turku/protocol/session-result.js';
import { encodeBusyLine } from '../turku/protocol/storage-busy.js';
import { catchResultLines, NO_RESULT_LINE_REASON, sourceOutcomes, type SessionEnd } from './source-outcomes.js';

const ENDED_0: SessionEnd = { exitCode: 0, signal: null, stopped: false, stderr: '' };

describe('catching the result line in ssh output', () => {
  it('takes result lines out, passes the rest through, and keeps the last valid one', () => {
    const passed: string[] = [];
    const catcher = catchResultLines((text) => passed.push(text));
    const first = encodeResultLine({ a: { success: false, summary: 'first' } });
    const last = encodeResultLine({ a: { success: true } });
    // Cut at every awkward place: inside the prefix, inside the JSON, between lines.
    const output = `hello\n${first}turku-result {broken\npartial `;
    for (const chunk of [...output.slice(0, 9), output.slice(9, 20), output.slice(20)]) catcher.push(chunk);
    catcher.push(`line\n${last.slice(0, 5)}`);
    catcher.push(last.slice(5, -1));
    catcher.end();
    expect(passed.join('')).toBe('hello\nturku-result {broken\npartial line\n');
    expect(catcher.result).toEqual({ version: 1, sources: { a: { success: true } } });
  });

  it('passes output on at once when it cannot be a result line', () => {
    const passed: string[] = [];
    const catcher = catchResultLines((text) => passed.push(text));
    catcher.push('Entering restore');
    expect(passed).toEqual(['Entering restore']);
    // The rest of a line already passed on is not a line start.
    catcher.push(' turku-result {"version":1,"sources":{}}\n');
    expect(catcher.result).toBeUndefined();
  });

  it('takes the busy answer out too, even cut inside its prefix', () => {
    const passed: string[] = [];
    const catcher = catchResultLines((text) => passed.push(text));
    const line = encodeBusyLine({ retry_after: 12, running: 4, limit: 4 });
    catcher.push(`hello\n${line.slice(0, 6)}`);
    catcher.push(line.slice(6));
    catcher.push('turku-busy {broken\n');
    catcher.end();
    expect(passed.join('')).toBe('hello\nturku-busy {broken\n');
    expect(catcher.busy).toEqual({ version: 1, retry_after: 12, running: 4, limit: 4 });
    expect(catcher.result).toBeUndefined();
  });
});

describe('each source outcome', () => {
  const result = {
    version: 1,
    sources: {
      ok: { success: true, snapshot: 's', summary: null, reported: true },
      lost: { success: true, reported: false },
      bad: { success: false, summary: 'rsync exited with return code 11 (no space left)' },
      quiet: { success: false, summary: '  ' },
    },
  };

  it('comes from the result line when there is one, whatever the exit status', () => {
    const end: SessionEnd = { ...ENDED_0, exitCode: 1 };
    expect(sourceOutcomes(['ok', 'lost', 'bad', 'quiet', 'gone'], end, result)).toEqual({
      ok: { outcome: 'ok' },
      lost: { outcome: 'ok', unreported: true },
      bad: { outcome: 'failed', reason: 'rsync exited with return code 11 (no space left)' },
      quiet: { outcome: 'failed', reason: 'failed (no reason given)' },
      gone: { outcome: 'unknown', reason: expect.stringMatching(/^the storage did not back it up/) },
    });
  });

  it("keeps a hostile storage's summary to one printable line of bounded length", () => {
    const hostile = {
      version: 1,
      sources: {
        escapes: { success: false, summary: 'disk \u001b[2J\u001b]0;owned\u0007full\nsecond line' },
        long: { success: false, summary: 'x'.repeat(100_000) },
      },
    };
    const outcomes = sourceOutcomes(['escapes', 'long'], ENDED_0, hostile);
    expect(outcomes.escapes!.reason).toBe('disk  [2J ]0;owned full second line');
    expect(outcomes.long!.reason).toHaveLength(500);
  });

  it('is unknown without a line after a clean end (an original storage), failed otherwise', () => {
    expect(sourceOutcomes(['a'], ENDED_0, undefined)).toEqual({
      a: { outcome: 'unknown', reason: NO_RESULT_LINE_REASON },
    });
    expect(sourceOutcomes(['a'], { ...ENDED_0, exitCode: null, signal: 'SIGKILL' }, undefined).a).toEqual({
      outcome: 'failed',
      reason: 'the session ended early: ssh was killed by SIGKILL',
    });
    expect(sourceOutcomes(['a'], { ...ENDED_0, exitCode: 255, stderr: 'x\nBroken pipe\n' }, undefined).a).toEqual({
      outcome: 'failed',
      reason: 'the session ended before the storage reported results (ssh failed with exit status 255): Broken pipe',
    });
    expect(sourceOutcomes(['a'], { ...ENDED_0, stopped: true }, undefined).a!.outcome).toBe('failed');
  });
});
