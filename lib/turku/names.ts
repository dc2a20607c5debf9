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
 * A source name is a directory and rsync module name on the storage, so it must not be able to
 * climb out of the machine's directory or collide with the storage's own entries.
 */
export function sourceNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > MAX_SOURCE_NAME_LENGTH) {
    return `must be 1-${MAX_SOURCE_NAME_LENGTH} characters long`;
  }
  if (/[/[\]]/.test(name)) return 'must not contain "/", "[" or "]"';
  if (hasControlCharacters(name)) return 'must not contain control characters';
  if (name.trim() !== name) return 'must not start or end with whitespace';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (name.endsWith('.snapshots') || name.endsWith('.borg')) return 'must not end in ".snapshots" or ".borg"';
  return undefined;
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
