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
