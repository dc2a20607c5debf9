/**
 * Checks on names and one-line values that end up in paths, rsync module names and the storage's
 * authorized_keys file. Each returns a problem description, or undefined when the value is fine.
 */

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export const MAX_SOURCE_NAME_LENGTH = 200;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * The one rule for source names (docs/api.md, "Source names"), used by the API, the agent and
 * the storage alike. A source name is an rsync module name in the agent's daemon configuration,
 * a word on rsync's command line and a directory (and snapshot-name prefix) on the storage, so it
 * must be one that all three hold as it is:
 * - 1-200 characters;
 * - no "/" (a path would climb out of the machine's directory), no "[" or "]" (a module name
 *   ends at "]"), no NUL or other control characters (a line break starts a new setting);
 * - no leading "-" (rsync and the tools around it would read it as an option: "-rf", "--delete");
 * - no whitespace at either end and no run of whitespace inside (rsync drops the first and
 *   squeezes the second, so the module would have another name than the source);
 * - not "." or ".." (the directory itself, its parent), not "global" (rsync's name for the
 *   section of global settings), not ending in ".snapshots" or ".borg" (another source's
 *   directories beside it).
 */
export function sourceNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > MAX_SOURCE_NAME_LENGTH) {
    return `must be 1-${MAX_SOURCE_NAME_LENGTH} characters long`;
  }
  if (/[/[\]]/.test(name)) return 'must not contain "/", "[" or "]"';
  if (hasControlCharacters(name)) return 'must not contain control characters';
  if (name.startsWith('-')) return 'must not start with "-" (rsync would read it as an option)';
  if (name.trim() !== name) return 'must not start or end with whitespace';
  if (/\s\s/.test(name)) return 'must not contain two whitespace characters in a row';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (name === 'global') return 'must not be "global" (rsync\'s name for its global settings)';
  if (name.endsWith('.snapshots') || name.endsWith('.borg')) return 'must not end in ".snapshots" or ".borg"';
  return undefined;
}

/** Whether `name` passes the source-name rule above. */
export function isSafeSourceName(name: string): boolean {
  return sourceNameProblem(name) === undefined;
}

export const MAX_SSH_PUBLIC_KEY_LENGTH = 2048;
const SSH_PUBLIC_KEY = /^[A-Za-z0-9@._+-]+ [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;

/** One line: `<keytype> <base64> [comment]`, so it cannot inject a second authorized_keys line. */
export function sshPublicKeyProblem(key: string): string | undefined {
  if (key.length > MAX_SSH_PUBLIC_KEY_LENGTH) return `longer than ${MAX_SSH_PUBLIC_KEY_LENGTH} characters`;
  if (hasControlCharacters(key) || !SSH_PUBLIC_KEY.test(key)) {
    return 'must be one line "<keytype> <base64> [comment]"';
  }
  return undefined;
}

/** rsync --bwlimit syntax: a rate in KiB/s by default, with an optional unit suffix. */
const BWLIMIT = /^\d+(\.\d+)?([bkmgtp](i?b)?)?([+-]1)?$/i;

export function bwlimitProblem(bwlimit: string): string | undefined {
  return bwlimit === '' || BWLIMIT.test(bwlimit) ? undefined : `"${bwlimit}" is not an rsync --bwlimit rate`;
}
