import { spawn } from 'node:child_process';

import { errorMessage, isErrno } from '../common/errors.js';

/** Runs short helper programs (ssh-keygen, the go/no-go check) without a shell. */

export interface CommandResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandStartError extends Error {
  override name = 'CommandStartError';
}

/** Runs `argv` with stdin on the null device and collects its output; throws if it cannot start. */
export function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) return Promise.reject(new CommandStartError('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      const reason = isErrno(error, 'ENOENT') ? 'not found' : errorMessage(error);
      reject(new CommandStartError(`Cannot run ${program}: ${reason}`));
    });
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal, stdout, stderr }));
  });
}

/** The last non-empty line of some output, for one-line error messages. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim());
  return lines.filter((line) => line !== '').at(-1) ?? '';
}

/** `exit status N` or `signal SIG`, for messages. */
export function describeExit(result: Pick<CommandResult, 'exitCode' | 'signal'>): string {
  return result.signal !== null ? `signal ${result.signal}` : `exit status ${result.exitCode}`;
}
