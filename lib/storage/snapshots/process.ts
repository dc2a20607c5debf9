import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { constants } from 'node:os';

import { errorMessage } from '../../common/errors.js';
import { type SnapshotLog } from './types.js';

/**
 * Runs rsync, borg and rm for the engines: output goes to the local log at DEBUG between
 * `Running: <argv>` and `Return code: <N>` lines (spec §5.5), stdin is closed so a prompt
 * fails instead of hanging the session.
 */

/** rsync and friends get this PATH and nothing of the storage's own environment (spec §9 #25). */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The code reported when the program could not be started at all, as a shell would. */
export const NOT_STARTED = 127;

export interface RunOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly log: SnapshotLog;
  readonly cwd?: string;
  /** Keep stdout (e.g. borg's --json) instead of logging it. */
  readonly captureStdout?: boolean;
  /** How kept stdout is decoded; latin1 maps every byte to one character, so names survive. */
  readonly stdoutEncoding?: 'utf8' | 'latin1';
}

export interface RunResult {
  /** The exit status; minus the signal number when killed by one, as Python reports it. */
  readonly code: number;
  /** Only with captureStdout. */
  readonly stdout: string;
}

export function runCommand(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const { log } = options;
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError('runCommand: empty argv');
  log.debug(`Running: ${formatArgv(argv)}`);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const child = spawn(file, args, {
      env: { ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    // Resolve once both output streams are drained and the exit status is known.
    let pending = 2;
    let exit: number | undefined;
    let settled = false;
    const finish = (): void => {
      if (settled || pending > 0 || exit === undefined) return;
      settled = true;
      log.debug(`Return code: ${exit}`);
      resolve({ code: exit, stdout: Buffer.concat(chunks).toString(options.stdoutEncoding ?? 'utf8') });
    };
    const drained = (): void => {
      pending--;
      finish();
    };
    if (options.captureStdout) {
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.stdout.on('close', drained);
    } else {
      streamLines(child.stdout, log, drained);
    }
    streamLines(child.stderr, log, drained);
    child.on('error', (error) => {
      // Not started (e.g. ENOENT): there may be no 'close' to wait for.
      log.error(`Cannot run ${file}: ${errorMessage(error)}`);
      exit ??= NOT_STARTED;
      pending = 0;
      finish();
    });
    child.on('close', (code, signal) => {
      exit ??= code ?? -(signal === null ? 1 : (constants.signals[signal] ?? 1));
      pending = 0;
      finish();
    });
  });
}

function streamLines(stream: NodeJS.ReadableStream, log: SnapshotLog, done: () => void): void {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => log.debug(line));
  lines.on('close', done);
}

/** Shell-like quoting, only for the log. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
