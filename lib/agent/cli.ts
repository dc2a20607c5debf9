import { parseArgs, type ParseArgsConfig } from 'node:util';

import { ApiCallError } from '../common/api-client.js';
import { errorLine, isParseArgsError, UsageError, UserError } from '../common/errors.js';
import { jitter } from '../common/wait.js';
import { createWorkloadLogger, type WorkloadLogger } from '../common/workload-log.js';
import { ConfigFileError } from '../turku/config.js';

/**
 * What the agent programs share: the process-facing parts a test replaces, `--wait`, and how
 * any failure becomes one line on stderr and an exit status.
 */

export interface AgentIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly hostname: () => string;
  /** Aborted on SIGINT/SIGTERM: long waits and sessions end, temporary files are removed. */
  readonly signal: AbortSignal;
  /** stdout is a terminal: restore progress is rewritten in place (default: not). */
  readonly isTty?: boolean;
  /** A number in [0, 1) for `--wait`; Math.random by default. */
  readonly random?: () => number;
}

export const DEFAULT_CONFIG_DIR = '/etc/turku-agent';

export function consoleLogger(program: string, debug: boolean, io: AgentIo): WorkloadLogger {
  return createWorkloadLogger({ name: program, consoleLevel: debug ? 'debug' : 'info', console: io.stderr });
}

/** `--wait` for the agent programs: interruptible by the program's signal, logged at debug. */
export function randomWait(seconds: number | undefined, io: AgentIo, log: WorkloadLogger): Promise<void> {
  return jitter(seconds, {
    signal: io.signal,
    ...(io.random === undefined ? {} : { random: io.random }),
    onWait: (ms) => log.debug(`Waiting ${(ms / 1000).toFixed(1)} s before starting`),
  });
}

/** One line for stderr, and the exit status, for anything that ended a program. */
export function reportFailure(program: string, error: unknown, io: AgentIo, debug: boolean): number {
  const known = error instanceof UserError || error instanceof ApiCallError || error instanceof ConfigFileError;
  io.stderr(`${errorLine(program, error)}\n`);
  if (debug && !known && error instanceof Error && error.stack !== undefined) io.stderr(`${error.stack}\n`);
  return error instanceof UserError ? error.exitCode : 1;
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;
type ParsedFlags<O extends FlagOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>;

/** The program's flags; a bad one is a usage error (exit 2). */
export function parseFlags<const O extends FlagOptions>(argv: readonly string[], options: O): ParsedFlags<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(error.message);
    throw error;
  }
}
