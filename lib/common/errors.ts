/**
 * An error meant for the operator: the program prints its message as one line on stderr and
 * exits non-zero, without a stack trace.
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The exit status of every Turku program for bad command-line input. */
export const USAGE_EXIT = 2;

/** Bad command-line input (a flag, a command, an argument): one line on stderr, exit status 2. */
export class UsageError extends UserError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, USAGE_EXIT);
  }
}

/** util.parseArgs' errors; duck-typed, as Node's errors may come from another realm. */
export function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** Bad command-line input, whether ours or util.parseArgs'. */
export function isUsageError(error: unknown): error is Error {
  return error instanceof UsageError || isParseArgsError(error);
}

/** How a program reports an error on stderr: `<program>: <message>`, line breaks folded into one line. */
export function errorLine(program: string, error: unknown): string {
  return `${program}: ${errorMessage(error).replace(/\s*[\r\n]+\s*/g, ' ')}`;
}

export function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** Duck-typed: errors from Node's own modules may come from another realm (e.g. under jest). */
export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
