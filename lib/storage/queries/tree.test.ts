import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { compilePattern } from '../../turku/path-pattern.js';
import type { EntryType } from '../../turku/protocol/queries.js';
import { listDirectory, matchingPaths, modeString, QueryRefusal, resolveInside, treeTotals } from './tree.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A snapshot-like tree holding `x -> /` and a link to a directory beside it. */
async function snapshot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'queries-tree-'));
  dirs.push(root);
  await mkdir(join(root, 'etc', 'ssh'), { recursive: true });
  await writeFile(join(root, 'etc', 'hosts'), 'abc');
  await writeFile(join(root, 'etc', 'ssh', 'sshd_config'), 'Port 22\n');
  await symlink('/', join(root, 'x'));
  await symlink('etc', join(root, 'etc-link'));
  return root;
}

describe('modeString', () => {
  it.each([
    ['file', 0o100644, '-rw-r--r--'],
    ['dir', 0o40755, 'drwxr-xr-x'],
    ['file', 0o104755, '-rwsr-xr-x'],
    ['file', 0o102644, '-rw-r-Sr--'],
    ['dir', 0o41777, 'drwxrwxrwt'],
    ['dir', 0o41776, 'drwxrwxrwT'],
    ['symlink', 0o120777, 'lrwxrwxrwx'],
  ] as [EntryType, number, string][])('%s %o is %s', (type, mode, text) => {
    expect(modeString(type, mode)).toBe(text);
  });
});

describe('resolveInside (never through a stored symlink)', () => {
  it('refuses to pass through a link, even one to "/"', async () => {
    const root = await snapshot();
    await expect(resolveInside(root, ['x', 'etc'])).rejects.toThrow(
      new QueryRefusal('"x" is a symbolic link in the snapshot; links are not followed'),
    );
    await expect(resolveInside(root, ['etc-link', 'hosts'])).rejects.toThrow(QueryRefusal);
  });

  it('shows a link itself, a file itself, and lists a directory', async () => {
    const root = await snapshot();
    expect(await resolveInside(root, ['x'])).toMatchObject({ file: join(root, 'x') });
    expect(await resolveInside(root, ['etc', 'hosts'])).toMatchObject({ file: join(root, 'etc', 'hosts') });
    expect(await resolveInside(root, ['etc'])).toEqual({ dir: join(root, 'etc') });
    await expect(resolveInside(root, ['etc', 'hosts', 'more'])).rejects.toThrow('"etc/hosts" is not a directory');
    await expect(resolveInside(root, ['nope'])).rejects.toThrow('no "nope" in the snapshot');
  });
});

describe('listDirectory', () => {
  it('gives the first entries by name and counts the rest; links with their targets', async () => {
    const root = await snapshot();
    const { entries, more } = await listDirectory(root, 2);
    expect(entries.map((e) => [e.name, e.entry])).toEqual([
      ['etc', 'dir'],
      ['etc-link', 'symlink'],
    ]);
    expect(entries[1]).toMatchObject({ target: 'etc', mode: 'lrwxrwxrwx' });
    expect(more).toBe(1);
  });
});

describe('walks', () => {
  it('match paths without entering links, from the pattern’s directory', async () => {
    const root = await snapshot();
    const all = await matchingPaths(root, compilePattern('**'), () => false);
    expect([...all.present.keys()].sort()).toEqual([
      'etc',
      'etc-link',
      'etc/hosts',
      'etc/ssh',
      'etc/ssh/sshd_config',
      'x',
    ]);
    const ssh = await matchingPaths(root, compilePattern('etc/ssh/*'), () => false);
    expect(ssh.present).toEqual(
      new Map([['etc/ssh/sshd_config', expect.objectContaining({ entry: 'file', size: 8 })]]),
    );
    const none = await matchingPaths(root, compilePattern('x/etc/*'), () => false);
    expect(none).toEqual({ present: new Map(), complete: true });
  });

  it('total the regular files, or give up when the time is over', async () => {
    const root = await snapshot();
    expect(await treeTotals(root, () => false)).toEqual({ size: 11, files: 2 });
    expect(await treeTotals(root, () => true)).toBeUndefined();
  });
});
