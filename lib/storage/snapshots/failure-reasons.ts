import { constants } from 'node:os';

/**
 * Why a pull or a borg step failed, in words an operator reads in the API's backup log, with the
 * program's exit status kept in parentheses: `no space left on volume /srv/turku (rsync exit
 * code 11)`. Pure: the caller passes the exit status and the program's diagnostic lines (see
 * process.ts), and the volume the machine directory is on.
 *
 * The lines come from the program's output, where file names also appear (rsync `--verbose`): a
 * source could name a file to look like a diagnostic and change the wording of its own source's
 * failure, never its exit status, nor anything about another source.
 */

export interface FailedRun {
  /** The exit status; minus the signal number when the program was killed by one. */
  readonly code: number;
  /** Diagnostic lines in the order written (rsync's `rsync:`/`@ERROR` lines, borg's stderr). */
  readonly diagnostics: readonly string[];
}

/** The longest detail quoted from a diagnostic line. */
const DETAIL_MAX = 160;

const NO_SPACE = /No space left on device|Disk quota exceeded|\[Errno 28\]|\bENOSPC\b|Insufficient free space/i;

/** rsync's own lines: its messages, the daemon's refusals, and vanished-file notices. */
export function isRsyncDiagnostic(line: string): boolean {
  return /^(rsync( error| warning)?:|@ERROR|file has vanished:)/.test(line);
}

/** rsync's exit statuses (`man rsync`, EXIT VALUES) without a more specific reading. */
const RSYNC_CODES: Readonly<Record<number, string>> = {
  1: 'rsync was given options it does not accept',
  2: "the agent's rsync speaks an incompatible protocol",
  3: 'rsync could not select the files to transfer',
  4: "the agent's rsync does not support a requested action",
  5: "could not start the rsync protocol with the agent's daemon",
  6: "the agent's rsync daemon could not write its log",
  10: "could not reach the agent's rsync daemon through the tunnel",
  11: 'a file could not be read or written on the storage',
  12: 'the connection to the agent was lost',
  13: "rsync's diagnostics failed",
  14: "rsync's internal communication failed",
  15: 'an rsync process crashed',
  16: 'an rsync process was killed by a signal',
  19: 'rsync received SIGUSR1',
  20: 'rsync was interrupted (SIGINT, SIGTERM or SIGHUP)',
  21: 'rsync lost track of its own processes',
  22: 'rsync ran out of memory',
  23: 'some files could not be transferred',
  24: 'some files vanished during the transfer',
  25: 'the deletion limit stopped deletions',
  30: 'timed out waiting for data from the agent',
  35: "timed out waiting for the agent's rsync daemon",
  127: 'rsync could not be started',
  255: 'the connection to the agent was lost',
};

/** The reason a pull failed, e.g. `agent refused credentials (rsync exit code 5)`. */
export function rsyncFailureReason(run: FailedRun, volume: string): string {
  return `${rsyncReasonWords(run, volume)} (rsync exit code ${run.code})`;
}

/** A line for a successful pull's summary that is worth reading, or '' (code 0). */
export function rsyncSuccessNote(run: FailedRun): string {
  if (run.code !== 24) return '';
  const first = firstQuotedPath(run.diagnostics.filter((line) => line.startsWith('file has vanished:')));
  const which = first === undefined ? '' : `, the first: ${first}`;
  return `Note: some files vanished during the transfer${which} (rsync exit code 24)\n`;
}

function rsyncReasonWords(run: FailedRun, volume: string): string {
  const { code, diagnostics } = run;
  if (code < 0) return `rsync was killed by ${signalName(-code)}`;
  if (diagnostics.some((line) => NO_SPACE.test(line))) return `no space left on volume ${volume}`;
  const refusal = diagnostics.find((line) => line.startsWith('@ERROR'));
  if (refusal !== undefined) {
    if (/auth failed/i.test(refusal)) return 'agent refused credentials';
    return `the agent's rsync daemon refused: ${detail(refusal.replace(/^@ERROR:?\s*/, ''))}`;
  }
  const messages = diagnostics.filter((line) => /^rsync:/.test(line));
  switch (code) {
    case 10:
    case 12:
    case 255: {
      const cause = messages.find((line) => /connect|connection|reset|broken pipe|closed/i.test(line));
      const words = code === 10 ? RSYNC_CODES[10]! : RSYNC_CODES[12]!;
      return cause === undefined ? words : `${words}: ${detail(withoutPrefix(cause))}`;
    }
    case 23: {
      const failures = messages.filter((line) => /"/.test(line));
      const first = failures[0];
      if (first === undefined) return RSYNC_CODES[23]!;
      const side = /\[sender\]/.test(first) ? 'read on the agent' : 'written on the storage';
      const errno = /:\s*([^:]+?)\s*\(\d+\)\s*$/.exec(first)?.[1];
      const more = failures.length > 1 ? ` and ${failures.length - 1} more` : '';
      return `some files could not be ${side}, the first: ${firstQuotedPath([first])}${errno ? ` (${detail(errno)})` : ''}${more}`;
    }
    default: {
      const words = RSYNC_CODES[code] ?? 'rsync failed';
      const cause = messages.find((line) => !line.startsWith('rsync error:'));
      return cause === undefined ? words : `${words}: ${detail(withoutPrefix(cause))}`;
    }
  }
}

/** The reason a borg step failed, e.g. `the borg repository is locked by another process (borg create exit code 2)`. */
export function borgFailureReason(subcommand: string, run: FailedRun, volume: string): string {
  return `${borgReasonWords(subcommand, run, volume)} (borg ${subcommand} exit code ${run.code})`;
}

function borgReasonWords(subcommand: string, run: FailedRun, volume: string): string {
  const { code, diagnostics } = run;
  if (code < 0) return `borg ${subcommand} was killed by ${signalName(-code)}`;
  if (code >= 128 && code < 128 + 65) return `borg ${subcommand} was killed by ${signalName(code - 128)}`;
  if (code === 127) return 'borg could not be started';
  if (diagnostics.some((line) => NO_SPACE.test(line))) return `no space left on volume ${volume}`;
  const lines = diagnostics.map((line) => line.trim()).filter((line) => line !== '');
  if (lines.some((line) => /Failed to create\/acquire the lock|lock.*timeout/i.test(line))) {
    return 'the borg repository is locked by another process';
  }
  if (lines.some((line) => /passphrase .*incorrect|passphrase supplied .*wrong/i.test(line))) {
    return 'the borg passphrase is wrong';
  }
  const last = borgLastWord(diagnostics);
  const words = code === 1 ? `borg ${subcommand} finished with warnings` : `borg ${subcommand} failed`;
  return last === undefined ? words : `${words}: ${detail(last)}`;
}

/**
 * borg's own summary of the error: the last exception line, else the last line, once the
 * traceback (indented lines, `Traceback`, `Local Exception`) and the platform report after it
 * (from `Platform:` on) are left out; an exception's class name is dropped (`borg.repository.Repository.DoesNotExist: Repository /r does
 * not exist.` says `Repository /r does not exist.`).
 */
function borgLastWord(diagnostics: readonly string[]): string | undefined {
  const report = diagnostics.findIndex((line) => line.startsWith('Platform: '));
  const message = (report === -1 ? diagnostics : diagnostics.slice(0, report)).filter(
    (line) => line.trim() !== '' && !/^\s/.test(line) && !/^(Traceback \(|Local Exception$)/.test(line),
  );
  // An exception's message may go on for lines: its first line, after the class name, says it.
  for (const line of message.toReversed()) {
    const exception = /^([A-Za-z_][\w.]*): (.+)$/.exec(line);
    if (exception !== null && (exception[1]!.includes('.') || /(Error|Exception)$/.test(exception[1]!))) {
      return exception[2];
    }
  }
  return message.at(-1);
}

/** `SIGKILL`, or `signal 99` for a number Node does not name. */
export function signalName(signal: number): string {
  const entry = Object.entries(constants.signals).find(([, value]) => value === signal);
  return entry === undefined ? `signal ${signal}` : entry[0];
}

function withoutPrefix(line: string): string {
  return line.replace(/^rsync( error| warning)?:\s*/, '').replace(/^\[\w+\]\s*/, '');
}

/** The first `"quoted"` path in the lines, quotes kept; undefined if none. */
function firstQuotedPath(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const match = /"((?:[^"\\]|\\.)*)"/.exec(line);
    if (match !== null) return `"${detail(match[1]!)}"`;
  }
  return undefined;
}

/** One line, printable, bounded. */
function detail(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?').trim();
  return clean.length > DETAIL_MAX ? `${clean.slice(0, DETAIL_MAX - 1)}…` : clean;
}
