/**
 * Running a program to completion, for the agent, the storage and their admin programs: no
 * shell, and never a throw for a non-zero exit, a signal or a program that cannot be started
 * (the result says which). Built on execa; the charms' hooks use lib/charm-host's lighter
 * runner instead, for their cold start.
 */

import type { Options } from 'execa';

import { errorMessage, isErrno } from './errors.js';

export interface RunProcessOptions {
  /** Written to stdin, then end-of-file; without it stdin is the null device, so a prompt fails. */
  readonly input?: string;
  /** Added to this process's environment, or the whole environment with `replaceEnv`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Pass `env` and nothing of our own environment (rsync and friends on the storage). */
  readonly replaceEnv?: boolean;
  readonly cwd?: string;
  /** SIGKILL after this long; the result then has `timedOut`. */
  readonly timeoutMs?: number;
  /** Kept as text (the default), or written to an open file descriptor (then `stdout` is ""). */
  readonly stdout?: 'capture' | number;
  readonly stderr?: 'capture' | number;
  /** How captured output is decoded; latin1 maps every byte to one character. */
  readonly encoding?: 'utf8' | 'latin1';
}

export interface ProcessResult {
  /** The exit status; null when killed by a signal or never started. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Output as written, final newline included; "" when sent to a file descriptor. */
  readonly stdout: string;
  readonly stderr: string;
  /** Why the program could not be started (e.g. ENOENT): then there is no status. */
  readonly startError?: Error & { readonly code?: string };
  readonly timedOut: boolean;
}

/** Runs `argv[0]` with the rest as its arguments. */
export async function runProcess(argv: readonly string[], options: RunProcessOptions = {}): Promise<ProcessResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError('runProcess: empty argv');
  // Loaded on first use: programs that never run one do not pay for loading execa.
  const { execa } = await import('execa');
  const execaOptions: Options = {
    reject: false,
    // A child is ours to end: no exit hooks on our signals (the programs handle theirs).
    cleanup: false,
    stripFinalNewline: false,
    encoding: options.encoding ?? 'utf8',
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    stdout: outputTo(options.stdout),
    stderr: outputTo(options.stderr),
    ...(options.env === undefined ? {} : { env: { ...options.env } }),
    extendEnv: options.replaceEnv !== true,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const }),
  };
  const result = await execa(file, args, execaOptions);
  const started = result.exitCode !== undefined || result.signal !== undefined;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    ...(started ? {} : { startError: startErrorOf(result.cause, file) }),
    timedOut: result.timedOut,
  };
}

/**
 * A pipe, or the given descriptor. execa passes any descriptor on to the child, though its types
 * list only 3-9 (the ones a child inherits by number).
 */
function outputTo(target: 'capture' | number | undefined): Options['stdout'] {
  return target === undefined || target === 'capture' ? 'pipe' : (target as 3);
}

// Duck-typed: Node's errors may come from another realm (e.g. under jest).
function startErrorOf(cause: unknown, file: string): Error {
  return typeof (cause as { message?: unknown } | null)?.message === 'string'
    ? (cause as Error)
    : new Error(`spawn ${file}: ${String(cause)}`);
}

/** Why a program did not start, in words: `not found`, or the system's message. */
export function startProblem(error: unknown): string {
  return isErrno(error, 'ENOENT') ? 'not found' : errorMessage(error);
}

/** The last non-empty line of some output, for one-line error messages. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim());
  return lines.filter((line) => line !== '').at(-1) ?? '';
}

/** `exit status N` or `signal SIG`, for messages. */
export function describeExit(result: Pick<ProcessResult, 'exitCode' | 'signal'>): string {
  return result.signal !== null ? `signal ${result.signal}` : `exit status ${result.exitCode}`;
}
