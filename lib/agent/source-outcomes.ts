import {
  MAX_RESULT_SUMMARY,
  parseResultLine,
  RESULT_LINE_PREFIX,
  type ResultLine,
} from '../turku/protocol/session-result.js';
import { BUSY_LINE_PREFIX, parseBusyLine, type BusyLine } from '../turku/protocol/storage-busy.js';
import { lastLine } from '../common/process.js';
import type { SshResult } from './ssh.js';

/**
 * Each offered source's outcome, from what a check-in session with a storage showed the agent:
 * our storage's `turku-result` line (lib/turku/protocol/session-result.ts) when there is one,
 * else only how ssh ended. Pure: the caller records and prints.
 */

export type Outcome = 'ok' | 'failed' | 'unknown';

export interface SourceOutcome {
  readonly outcome: Outcome;
  /** Why it failed, or why it is unknown; none when ok. */
  readonly reason?: string;
  /** Backed up, but the storage could not report it to the API (so the API will ask again). */
  readonly unreported?: boolean;
}

/** How the session ended, as runSsh reports it. */
export type SessionEnd = Pick<SshResult, 'exitCode' | 'signal' | 'stopped' | 'stderr'>;

export const NO_RESULT_LINE_REASON =
  'the storage does not report per-source results (an original storage); see the API for the result';

export function sourceOutcomes(
  offered: readonly string[],
  end: SessionEnd,
  result: ResultLine | undefined,
): Record<string, SourceOutcome> {
  const outcomes: Record<string, SourceOutcome> = {};
  for (const name of offered) {
    if (result !== undefined) outcomes[name] = fromResultLine(result, name);
    else outcomes[name] = withoutResultLine(end);
  }
  return outcomes;
}

function fromResultLine(result: ResultLine, name: string): SourceOutcome {
  const source = Object.hasOwn(result.sources, name) ? result.sources[name] : undefined;
  if (source === undefined) {
    // Due when the agent asked the API, no longer when the storage did (another session took it).
    return { outcome: 'unknown', reason: 'the storage did not back it up in this session: not due when it asked' };
  }
  if (source.success) return source.reported === false ? { outcome: 'ok', unreported: true } : { outcome: 'ok' };
  const summary = source.summary === null || source.summary === undefined ? '' : printableSummary(source.summary);
  return { outcome: 'failed', reason: summary === '' ? 'failed (no reason given)' : summary };
}

/**
 * The storage's words go to the agent's stderr, log and last-backups.json: one line, no control
 * characters (no terminal escapes from a hostile storage), at most the length our storage sends.
 */
function printableSummary(summary: string): string {
  // eslint-disable-next-line no-control-regex
  const text = summary.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return text.length > MAX_RESULT_SUMMARY ? `${text.slice(0, MAX_RESULT_SUMMARY - 1)}…` : text;
}

function withoutResultLine(end: SessionEnd): SourceOutcome {
  if (end.stopped) return { outcome: 'failed', reason: 'the session was interrupted before the storage finished' };
  if (end.signal !== null)
    return { outcome: 'failed', reason: `the session ended early: ssh was killed by ${end.signal}` };
  if (end.exitCode === 0) return { outcome: 'unknown', reason: NO_RESULT_LINE_REASON };
  const said = lastLine(end.stderr);
  const why = end.exitCode === 255 ? 'ssh failed with exit status 255' : `exit status ${end.exitCode}`;
  return {
    outcome: 'failed',
    reason: `the session ended before the storage reported results (${why})${said === '' ? '' : `: ${said}`}`,
  };
}

/** Result lines (and busy answers) taken out of ssh's stdout; everything else is passed through unchanged. */
export interface ResultLineCatcher {
  push(chunk: string): void;
  /** At the end of the output: a last line without its newline counts too. */
  end(): void;
  /** The last valid result line seen. */
  readonly result: ResultLine | undefined;
  /** The storage's busy answer (lib/turku/protocol/storage-busy.ts), if it gave one. */
  readonly busy: BusyLine | undefined;
}

/** Longest partial line held back while it may still become a result line. */
const MAX_HELD = 4 * 1024 * 1024;

export function catchResultLines(passThrough?: (text: string) => void): ResultLineCatcher {
  let held = '';
  // A partial line already passed through: its rest cannot be a result line either.
  let midLine = false;
  let result: ResultLine | undefined;
  let busy: BusyLine | undefined;
  const take = (line: string) => {
    const parsed = midLine ? undefined : parseResultLine(line);
    const busyAnswer = midLine || parsed !== undefined ? undefined : parseBusyLine(line);
    midLine = false;
    if (parsed !== undefined) result = parsed;
    else if (busyAnswer !== undefined) busy = busyAnswer;
    else if (line !== '') passThrough?.(line);
  };
  const mayBecome = (text: string, prefix: string) =>
    text.startsWith(prefix) || prefix.startsWith(text.slice(0, prefix.length));
  const mayBecomeResultLine = (text: string) =>
    text.length <= MAX_HELD && (mayBecome(text, RESULT_LINE_PREFIX) || mayBecome(text, BUSY_LINE_PREFIX));
  return {
    push(chunk) {
      held += chunk;
      for (let end = held.indexOf('\n'); end !== -1; end = held.indexOf('\n')) {
        take(held.slice(0, end + 1));
        held = held.slice(end + 1);
      }
      // Output that cannot be a result line is passed on at once, not at its newline.
      if (held !== '' && (midLine || !mayBecomeResultLine(held))) {
        passThrough?.(held);
        held = '';
        midLine = true;
      }
    },
    end() {
      take(held);
      held = '';
    },
    get result() {
      return result;
    },
    get busy() {
      return busy;
    },
  };
}
