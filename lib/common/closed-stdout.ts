/**
 * Lets a program that prints end quietly when its reader goes away (`turku-api backups | head -1`).
 * Node ignores SIGPIPE and reports the closed pipe as an EPIPE error on `process.stdout`; without a
 * listener that error crashes the process with a stack trace. The reader has what it wanted, so
 * the program exits with the status it had already chosen (0 unless set), printing nothing more.
 */
export function exitQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}

/** What a command-line flow leaves to print: lines for stdout and stderr, and the exit status. */
export interface CliOutput {
  readonly exitCode: number;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
}

/**
 * Prints a command's output and sets its exit status, ending quietly if the reader of stdout has
 * gone. Not for a server, whose logs must not end it quietly when stdout closes.
 */
export function printCliOutput(result: CliOutput): void {
  exitQuietlyWhenStdoutCloses();
  process.exitCode = result.exitCode;
  // One write: a listing of thousands of lines is not thousands of system calls.
  if (result.stdout.length > 0) process.stdout.write(`${result.stdout.join('\n')}\n`);
  for (const line of result.stderr) process.stderr.write(`${line}\n`);
}
