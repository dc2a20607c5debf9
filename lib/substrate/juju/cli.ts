// How the Juju driver runs `juju`: a swappable command runner (as goops does), so the unit tests
// drive the same argument-building code with a recording fake and no controller.
import { execa } from 'execa';

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
}

/**
 * Runs argv[0] with the rest as arguments. A non-zero exit is a result, never a rejection; a
 * program that cannot be started rejects with a SpawnError (code ENOENT when it is not on PATH).
 */
export type CommandRunner = (argv: readonly string[], options?: RunOptions) => Promise<CommandResult>;

/** The program did not start: `code` is the system error (ENOENT, EACCES, ...). */
export class SpawnError extends Error {
  constructor(
    readonly command: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}

export const execaRunner: CommandRunner = async (argv, options = {}) => {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('cannot run an empty command line');
  const result = await execa(file, args, {
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
  });
  if (result.exitCode === undefined) {
    // No exit code: it never started, or a signal ended it.
    const code = 'code' in result && typeof result.code === 'string' ? result.code : undefined;
    if (code !== undefined && result.signal === undefined)
      throw new SpawnError(file, code, `cannot run ${file}: ${code}`);
    return { exitCode: 128, stdout: result.stdout, stderr: `${result.stderr}\n${result.shortMessage ?? 'killed'}` };
  }
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
};
