/** A word that needs no quoting in a POSIX shell (nor in a systemd command line). */
export const PLAIN_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/** One argument of a POSIX shell command: plain, or in single quotes. */
export function shellQuote(arg: string): string {
  if (PLAIN_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
