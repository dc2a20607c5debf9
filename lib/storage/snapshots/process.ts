import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import { errorMessage } from '../../common/errors.js';
import { runProcess } from '../../common/process.js';
import { type SnapshotLog } from './types.js';

/**
 * Runs rsync, borg and rm for the engines (with lib/common/process.ts): output goes to the local
 * log at DEBUG between `Running: <argv>` and `Return code: <N>` lines (docs/datapath.md, "Pulling
 * with rsync"), stdin is closed so a prompt fails instead of hanging the session.
 *
 * The output goes to a private file that is read in batches rather than to a pipe: rsync
 * `--verbose` writes each name with its own write(2), and waking Node for each of 50,000 names
 * cost more than the transfer of those small files (measured in bench/datapath). A file also
 * keeps stdout and stderr lines in the order the program wrote them, and never blocks it.
 */

/**
 * rsync and friends get this PATH and nothing of the storage's own environment
 * (docs/datapath.md, "Pulling with rsync").
 */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The code reported when the program could not be started at all, as a shell would. */
export const NOT_STARTED = 127;

/** How often the output file is read into the log while the program runs. */
export const OUTPUT_READ_INTERVAL_MS = 200;

export interface RunOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly log: SnapshotLog;
  readonly cwd?: string;
  /** Keep stdout (e.g. borg's --json) instead of logging it. */
  readonly captureStdout?: boolean;
  /** How kept stdout is decoded; latin1 maps every byte to one character, so names survive. */
  readonly stdoutEncoding?: 'utf8' | 'latin1';
  /** Which output lines explain a failure (kept in `diagnostics`); every line by default. */
  readonly isDiagnostic?: (line: string) => boolean;
  /** Sees each output line first; a line it returns true for is neither logged nor kept. */
  readonly takeLine?: (line: string) => boolean;
  /** A lone \r ends a line too (rsync's `--info=progress2` rewrites its line with \r). */
  readonly carriageReturnEndsLine?: boolean;
}

export interface RunResult {
  /** The exit status; minus the signal number when killed by one, as Python reports it. */
  readonly code: number;
  /** Only with captureStdout. */
  readonly stdout: string;
  /** The first and the last DIAGNOSTIC_LINES diagnostic lines of the output, in order. */
  readonly diagnostics: readonly string[];
}

/** How many diagnostic lines are kept from each end of the output. */
export const DIAGNOSTIC_LINES = 20;

export async function runLogged(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const { log } = options;
  if (argv.length === 0) throw new TypeError('runLogged: empty argv');
  log.debug(`Running: ${formatArgv(argv)}`);
  const dir = await mkdtemp(join(tmpdir(), 'turku-output-'));
  const handles: FileHandle[] = [];
  try {
    const output = await open(join(dir, 'output'), 'wx+', 0o600);
    handles.push(output);
    const stdout = options.captureStdout ? await open(join(dir, 'stdout'), 'wx+', 0o600) : output;
    if (stdout !== output) handles.push(stdout);
    const diagnostics = new DiagnosticLines(options.isDiagnostic ?? (() => true));
    const reader = new OutputReader(
      output,
      (line) => {
        if (options.takeLine?.(line) === true) return;
        log.debug(line);
        diagnostics.add(line);
      },
      options.carriageReturnEndsLine === true ? /\r\n?|\n/ : '\n',
    );
    const code = await waitForExit(argv, options, stdout.fd, output.fd, reader);
    await reader.finish();
    log.debug(`Return code: ${code}`);
    // By path: the handle's own position is where the program stopped writing.
    const captured =
      stdout === output ? '' : (await readFile(join(dir, 'stdout'))).toString(options.stdoutEncoding ?? 'utf8');
    return { code, stdout: captured, diagnostics: diagnostics.lines() };
  } finally {
    await Promise.all(handles.map((handle) => handle.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the program and resolves with its exit status, reading its output meanwhile. */
async function waitForExit(
  argv: readonly string[],
  options: RunOptions,
  stdoutFd: number,
  stderrFd: number,
  reader: OutputReader,
): Promise<number> {
  const timer = setInterval(() => void reader.readNew(), OUTPUT_READ_INTERVAL_MS);
  try {
    // Output to files, not pipes: the result comes at the program's exit, and a grandchild
    // keeping the file open does not hold us.
    const result = await runProcess(argv, {
      env: options.env,
      replaceEnv: true,
      stdout: stdoutFd,
      stderr: stderrFd,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    if (result.startError !== undefined) {
      options.log.error(`Cannot run ${argv[0]}: ${errorMessage(result.startError)}`);
      return NOT_STARTED;
    }
    const { exitCode, signal } = result;
    return exitCode ?? -(signal === null ? 1 : (constants.signals[signal] ?? 1));
  } finally {
    clearInterval(timer);
  }
}

/** The first and last lines that pass the test, in bounded memory. */
class DiagnosticLines {
  private readonly head: string[] = [];
  private tail: string[] = [];

  constructor(private readonly keep: (line: string) => boolean) {}

  add(line: string): void {
    if (!this.keep(line)) return;
    if (this.head.length < DIAGNOSTIC_LINES) {
      this.head.push(line);
      return;
    }
    this.tail.push(line);
    if (this.tail.length > 2 * DIAGNOSTIC_LINES) this.tail = this.tail.slice(-DIAGNOSTIC_LINES);
  }

  lines(): string[] {
    return [...this.head, ...this.tail.slice(-DIAGNOSTIC_LINES)];
  }
}

/** Reads what was appended to the output file since the last read and passes on whole lines. */
class OutputReader {
  private offset = 0;
  private partial = '';
  private reading: Promise<void> = Promise.resolve();
  private readonly decoder = new StringDecoder('utf8');
  private readonly buffer = Buffer.alloc(256 * 1024);

  constructor(
    private readonly handle: FileHandle,
    private readonly line: (line: string) => void,
    private readonly separator: string | RegExp = '\n',
  ) {}

  /** Queued after any read in progress, so lines keep their order. */
  readNew(): Promise<void> {
    this.reading = this.reading
      .then(() => this.readToEnd())
      .catch((error: unknown) => this.line(`Cannot read the output: ${errorMessage(error)}`));
    return this.reading;
  }

  /** The rest of the output, including a last line without a newline. */
  async finish(): Promise<void> {
    await this.readNew();
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.emit(rest);
  }

  private async readToEnd(): Promise<void> {
    for (;;) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const lines = (this.partial + this.decoder.write(this.buffer.subarray(0, bytesRead))).split(this.separator);
      this.partial = lines.pop() ?? '';
      for (const line of lines) if (this.separator === '\n' || line !== '') this.emit(line);
    }
  }

  private emit(line: string): void {
    // As readline did: a CRLF ending is one line break.
    this.line(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}

/** Shell-like quoting, only for the log. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
