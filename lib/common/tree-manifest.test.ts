import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Manifest } from '../turku/manifest.js';
import { hashMany } from './hash-pool.js';
import { manifestEntries, verifyTree } from './tree-manifest.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tree-manifest-'));
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  await writeFile(join(root, 'a', 'b', 'one'), 'one\n');
  await writeFile(join(root, 'a', 'two'), Buffer.alloc(3 << 20, 9)); // more than one read
  await writeFile(join(root, 'top'), '');
  await symlink('a/two', join(root, 'link'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function manifestOf(dir: string): Promise<Manifest> {
  const built = await manifestEntries(dir);
  return {
    header: { snapshot: 's', created: '', recorded: 'backup', hashed: built.hashed, reused: 0 },
    entries: built.entries,
  };
}

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('manifestEntries', () => {
  it('lists every entry, parents first, with the SHA-256 of files and symlink targets', async () => {
    const built = await manifestEntries(root);
    const paths = built.entries.map((e) => e.path);
    expect(paths.indexOf('a')).toBeLessThan(paths.indexOf('a/b'));
    expect(paths.indexOf('a/b')).toBeLessThan(paths.indexOf('a/b/one'));
    const sorted = [...built.entries].sort((x, y) => (x.path < y.path ? -1 : 1));
    expect(sorted.map((e) => [e.path, e.type, e.size, e.sha256])).toEqual([
      ['a', 'd', 0, null],
      ['a/b', 'd', 0, null],
      ['a/b/one', 'f', 4, sha('one\n')],
      ['a/two', 'f', 3 << 20, sha(Buffer.alloc(3 << 20, 9))],
      ['link', 'l', 5, sha('a/two')],
      ['top', 'f', 0, sha('')],
    ]);
    expect(built).toMatchObject({ hashed: 4, reused: 0, hashedBytes: 4 + (3 << 20) + 5 + 0 });
  });

  it('takes the hash `reuse` gives without reading the file', async () => {
    const built = await manifestEntries(root, {
      reuse: (path) => Promise.resolve(path === 'a/two' ? 'f'.repeat(64) : null),
    });
    expect(built.entries.find((e) => e.path === 'a/two')?.sha256).toBe('f'.repeat(64));
    expect(built).toMatchObject({ hashed: 3, reused: 1 });
  });
});

describe('verifyTree', () => {
  it('finds nothing on the same tree', async () => {
    const manifest = await manifestOf(root);
    expect(await verifyTree(root, manifest)).toEqual({
      checkedFiles: 4,
      checkedBytes: 4 + (3 << 20),
      complete: true,
      problems: [],
    });
  });

  it('reports each change once, sorted by path', async () => {
    const manifest = await manifestOf(root);
    await writeFile(join(root, 'a', 'b', 'one'), 'One\n');
    await chmod(join(root, 'top'), 0o600);
    await unlink(join(root, 'link'));
    await symlink('a/b/one', join(root, 'link'));
    await rm(join(root, 'a', 'two'));
    await mkdir(join(root, 'new'));
    const { problems } = await verifyTree(root, manifest);
    expect(problems.map((p) => [p.path, p.kind])).toEqual([
      ['a/b/one', 'content'],
      ['a/two', 'missing'],
      ['link', 'content'],
      ['new', 'extra'],
      ['top', 'metadata'],
    ]);
  });

  it('with subPath, checks that part only, found at the same relative path', async () => {
    const manifest = await manifestOf(root);
    const restored = await mkdtemp(join(tmpdir(), 'tree-manifest-restored-'));
    try {
      await mkdir(join(restored, 'a', 'b'), { recursive: true });
      await writeFile(join(restored, 'a', 'b', 'one'), 'one\n');
      const check = await verifyTree(restored, manifest, { subPath: 'a/b' });
      // Same content and mode; the file's mtime is now (a directory's mtime is never compared).
      expect(check.problems).toEqual([{ path: 'a/b/one', kind: 'metadata', detail: expect.stringMatching(/^mtime /) }]);
      expect(check.checkedFiles).toBe(1);
      await rm(join(restored, 'a', 'b', 'one'));
      expect((await verifyTree(restored, manifest, { subPath: 'a/b/one' })).problems).toEqual([
        { path: 'a/b/one', kind: 'missing', detail: 'f, 4 bytes' },
      ]);
    } finally {
      await rm(restored, { recursive: true, force: true });
    }
  });

  it('with sample, hashes random files up to the byte budget only', async () => {
    const manifest = await manifestOf(root);
    await writeFile(join(root, 'a', 'b', 'one'), 'One\n');
    const small = await verifyTree(root, manifest, { sample: { maxBytes: 100, random: () => 0 } });
    expect(small).toMatchObject({ complete: false, checkedFiles: 2, checkedBytes: 4 });
    expect(small.problems).toEqual([
      { path: 'a/b/one', kind: 'content', detail: expect.stringMatching(/^content differs/) },
    ]);
  });
});

describe('hashMany (worker threads)', () => {
  it('gives the same hashes as in-thread reading, in order, and an error per unreadable file', async () => {
    const built = await manifestEntries(root);
    const hashed = built.entries.filter((e) => e.sha256 !== null);
    const jobs = hashed.map((e) => ({ path: join(root, e.path), symlink: e.type === 'l', size: e.size }));
    const results = await hashMany([...jobs, { path: join(root, 'nowhere'), symlink: false, size: 0 }]);
    expect(results.slice(0, -1)).toEqual(hashed.map((e) => ({ sha256: e.sha256 })));
    expect(results.at(-1)).toEqual({ error: expect.stringContaining('ENOENT') });
  });
});
