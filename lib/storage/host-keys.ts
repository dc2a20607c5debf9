import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { isErrno } from '../common/errors.js';

/**
 * The storage's SSH host keys that agents pin (docs/datapath.md, "Configuration keys"
 * `ssh_ping_host_keys_glob`): the contents of the files matching a glob whose wildcards are in the
 * file name only, such as
 * `/etc/ssh/ssh_host_*_key.pub`.
 */
export async function readHostKeys(glob: string): Promise<string[]> {
  const dir = dirname(glob);
  if (/[*?[]/.test(dir)) throw new Error(`ssh_ping_host_keys_glob: wildcards are only supported in the file name`);
  const pattern = fileNamePattern(basename(glob));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
  const keys: string[] = [];
  for (const name of names.filter((candidate) => pattern.test(candidate)).sort()) {
    const text = (await readFile(join(dir, name), 'utf8')).trim();
    if (text !== '') keys.push(text);
  }
  return keys;
}

function fileNamePattern(glob: string): RegExp {
  let source = '';
  for (const character of glob) {
    if (character === '*') source += '[^/]*';
    else if (character === '?') source += '[^/]';
    else source += character.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
