import { parseArgs } from 'node:util';

import { Temporal } from 'temporal-polyfill';

import { errorLine, isUsageError, USAGE_EXIT, UsageError } from '../common/errors.js';
import { FrequencyError, parseFrequency } from '../turku/frequency.js';
import { evaluateRetention, RetentionError, type Snapshot } from '../turku/retention.js';
import { nextBackup, ScheduleError } from '../turku/schedule.js';
import {
  CalendarError,
  formatUtc,
  resolveCalendar,
  WEEK_STARTS,
  type Calendar,
  type WeekStart,
} from '../turku/time.js';

/**
 * turku-policy: preview schedules and retention policies before deploying them.
 * The flow is here, free of process globals, so tests drive it in-process; main.ts wires it
 * to argv, the files, stdout and stderr.
 */

export const USAGE = `Usage:
  turku-policy frequency "<frequency>" --source-id ID [--after ISO] [--count N]
  turku-policy retention "<policy>" --now ISO --snapshots FILE|-

Options for both:
  --time-zone TZ       IANA zone for calendars and naive timestamps (default UTC)
  --week-start DAY     sunday (default, as the original) or monday

frequency prints the next N (default 5) backup times after --after (default now), one per
line, in ISO 8601 UTC. retention reads one ISO 8601 timestamp per line from FILE (or stdin
for "-"; blank lines and #-comments are skipped) and prints each with "keep" and the clauses
that keep it, or "delete". Exit status: 0 on success, 2 on bad input.`;

export interface PolicyCliIo {
  /** Contents of a file, or of stdin for "-". */
  readText(path: string): Promise<string>;
  now(): Date;
}

export interface PolicyCliResult {
  readonly exitCode: number;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
}

/** `--help` or `-h` among the options (not after a `--`, where it would be an argument). */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

const DEFAULT_COUNT = 5;
const MAX_COUNT = 10_000;

export async function runPolicyCli(argv: readonly string[], io: PolicyCliIo): Promise<PolicyCliResult> {
  try {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const [command, ...rest] = argv;
    // `turku-policy frequency --help` too: help wins over everything else on the line.
    if (wantsHelp(argv)) return { exitCode: 0, stdout: [USAGE], stderr };
    switch (command) {
      case 'frequency':
        stdout.push(...frequencyCommand(rest, io, stderr));
        break;
      case 'retention':
        stdout.push(...(await retentionCommand(rest, io)));
        break;
      case 'help':
        stdout.push(USAGE);
        break;
      case undefined:
        throw new UsageError('missing command: "frequency" or "retention" (see --help)');
      default:
        throw new UsageError(`unknown command "${command}": expected "frequency" or "retention"`);
    }
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    if (isBadInput(error)) {
      return {
        exitCode: USAGE_EXIT,
        stdout: [],
        stderr: [errorLine('turku-policy', error)],
      };
    }
    throw error;
  }
}

function isBadInput(error: unknown): error is Error {
  return (
    isUsageError(error) ||
    error instanceof FrequencyError ||
    error instanceof RetentionError ||
    error instanceof ScheduleError ||
    error instanceof CalendarError
  );
}

const CALENDAR_OPTIONS = {
  'time-zone': { type: 'string' },
  'week-start': { type: 'string' },
} as const;

function calendarFrom(values: { 'time-zone'?: string | undefined; 'week-start'?: string | undefined }): Calendar {
  const weekStart = values['week-start']?.toLowerCase() ?? 'sunday';
  if (!WEEK_STARTS.includes(weekStart as WeekStart)) {
    throw new UsageError(`--week-start must be "sunday" or "monday", not "${weekStart}"`);
  }
  return resolveCalendar({
    timeZone: values['time-zone'] ?? 'UTC',
    weekStart: weekStart as WeekStart,
  });
}

function frequencyCommand(args: readonly string[], io: PolicyCliIo, stderr: string[]): string[] {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      ...CALENDAR_OPTIONS,
      'source-id': { type: 'string' },
      after: { type: 'string' },
      count: { type: 'string' },
    },
  });
  const expression = onePositional(positionals, 'frequency expression');
  const sourceId = values['source-id'];
  if (sourceId === undefined || sourceId === '') {
    throw new UsageError('--source-id is required: the slot in a window is hashed from the source id');
  }
  const calendar = calendarFrom(values);
  const count = parseCount(values.count);
  let after = values.after === undefined ? io.now() : parseTimestamp(values.after, '--after', calendar.timeZone);
  const frequency = parseFrequency(expression);
  if (frequency.kind === 'hourly')
    stderr.push(...frequency.warnings.map((warning) => `turku-policy: warning: ${warning}`));
  const times: string[] = [];
  for (let i = 0; i < count; i += 1) {
    after = nextBackup(frequency, sourceId, after, calendar);
    times.push(formatUtc(after));
  }
  return times;
}

async function retentionCommand(args: readonly string[], io: PolicyCliIo): Promise<string[]> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      ...CALENDAR_OPTIONS,
      now: { type: 'string' },
      snapshots: { type: 'string' },
    },
  });
  const policy = onePositional(positionals, 'retention policy');
  if (values.now === undefined) throw new UsageError('--now is required: retention depends on the time it runs');
  if (values.snapshots === undefined) throw new UsageError('--snapshots FILE (or - for stdin) is required');
  const calendar = calendarFrom(values);
  const now = parseTimestamp(values.now, '--now', calendar.timeZone);
  let text: string;
  try {
    text = await io.readText(values.snapshots);
  } catch (error) {
    throw new UsageError(`cannot read ${values.snapshots}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const snapshots = parseSnapshotList(text, calendar.timeZone);
  return evaluateRetention(snapshots, policy, now, calendar).map(({ snapshot, keep, keptBy }) =>
    keep ? `${formatUtc(snapshot.finishedAt)} keep ${keptBy.join(', ')}` : `${formatUtc(snapshot.finishedAt)} delete`,
  );
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`missing ${what}`);
  if (positionals.length > 1) {
    throw new UsageError(`expected one ${what}, got ${positionals.length} arguments (quote it)`);
  }
  return positionals[0]!;
}

function parseCount(text: string | undefined): number {
  if (text === undefined) return DEFAULT_COUNT;
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > MAX_COUNT) {
    throw new UsageError(`--count must be a whole number from 1 to ${MAX_COUNT}, not "${text}"`);
  }
  return count;
}

function parseSnapshotList(text: string, timeZone: string): Snapshot[] {
  const snapshots: Snapshot[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    snapshots.push({
      name: line,
      finishedAt: parseTimestamp(line, `line ${index + 1}`, timeZone),
    });
  });
  return snapshots;
}

/** ISO 8601 with an offset or Z; without one, a wall-clock time in `timeZone`. */
function parseTimestamp(text: string, where: string, timeZone: string): Date {
  try {
    return new Date(Temporal.Instant.from(text).epochMilliseconds);
  } catch {
    try {
      return new Date(Temporal.PlainDateTime.from(text).toZonedDateTime(timeZone).epochMilliseconds);
    } catch {
      throw new UsageError(`${where}: invalid timestamp "${text}" (expected ISO 8601, e.g. 2024-12-15T03:12:00Z)`);
    }
  }
}
