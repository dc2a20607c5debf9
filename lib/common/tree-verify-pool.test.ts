import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeManifest, ManifestFormatError, type Manifest } from '../turku/manifest.js';
import { manifestEntries, sortProblems, verifyTree } from './tree-manifest.js';
import { startVerifyWorkers, verifyInThread } from './tree-verify-pool.js';
import type { ShareDeps } from './tree-verify-share.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tree-verify-pool-'));
  for (const dir of ['a/b', 'a/c', 'gone/deep', 'file-now', 'link-now', 'odd\tname\\dir'])
    await mkdir(join(root, dir), { recursive: true });
  const files: Record<string, string | Buffer> = {
    'a/b/one': 'one\n',
    'a/b/two': 'two\n',
    'a/c/three': 'three\n',
    'a/big': Buffer.alloc((1 << 20) + 7, 5), // more than one read
    'a/exact': Buffer.alloc(1 << 20, 6), // exactly one read's size
    'gone/deep/four': 'four\n',
    'gone/five': 'five\n',
    'file-now/six': 'six\n',
    'link-now/seven': 'seven\n',
    'odd\tname\\dir/new\nline': 'eight\n',
    top: '',
    sized: 'abc',
    moded: 'm',
    timed: 't',
    'was-file': 'w',
  };
  for (const [path, data] of Object.entries(files)) await writeFile(join(root, path), data);
  await symlink('a/b/one', join(root, 'link'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function manifestOf(dir: string): Promise<Manifest> {
  const built = await manifestEntries(dir);
  const header = { snapshot: 's', created: '', recorded: 'backup' as const, hashed: built.hashed, reused: 0 };
  return { header, entries: built.entries };
}

/** The manifest's entry lines, as the workers get them. */
function bodyOf(manifest: Manifest): string {
  const text = encodeManifest(manifest);
  return text.slice(text.indexOf('\n') + 1);
}

/** One change of every kind verify reports. */
async function changeEverything(): Promise<void> {
  await writeFile(join(root, 'a/b/one'), 'One\n'); // content
  await writeFile(join(root, 'sized'), 'abcd'); // size
  await chmod(join(root, 'moded'), 0o600); // mode
  await utimes(join(root, 'timed'), 1, 1); // mtime
  await rm(join(root, 'gone'), { recursive: true }); // a directory missing, with all it held
  await unlink(join(root, 'a/c/three')); // a file missing
  await rm(join(root, 'file-now'), { recursive: true }); // a directory become a file
  await writeFile(join(root, 'file-now'), 'x');
  await rm(join(root, 'link-now'), { recursive: true }); // a directory become a symlink to one
  await symlink('a', join(root, 'link-now'));
  await unlink(join(root, 'was-file')); // a file become a directory, with something in it
  await mkdir(join(root, 'was-file'));
  await writeFile(join(root, 'was-file/inside'), 'i');
  await unlink(join(root, 'link')); // a symlink's target
  await symlink('a/b/two', join(root, 'link'));
  await mkdir(join(root, 'new/deeper'), { recursive: true }); // extra, with all it holds
  await writeFile(join(root, 'new/deeper/file'), 'n');
  await writeFile(join(root, 'odd\tname\\dir/extra\\'), 'e'); // extra, with a name that needs escaping
}

describe('verifyShare, the shares run in this thread', () => {
  it('finds nothing on the same tree, and checks every file and symlink once', async () => {
    const manifest = await manifestOf(root);
    const alone = await verifyTree(root, manifest);
    for (const shares of [1, 2, 3]) {
      const check = verifyInThread(root, bodyOf(manifest), 2, shares);
      expect({ ...check, problems: sortProblems(check.problems) }).toEqual({
        checkedFiles: alone.checkedFiles,
        checkedBytes: alone.checkedBytes,
        problems: [],
      });
    }
    expect(alone.checkedFiles).toBe(16);
  });

  it('reports every change as verifyTree does, however the directories are shared out', async () => {
    const manifest = await manifestOf(root);
    await changeEverything();
    const alone = await verifyTree(root, manifest);
    expect(new Set(alone.problems.map((p) => p.kind))).toEqual(
      new Set(['content', 'size', 'metadata', 'missing', 'extra']),
    );
    expect(alone.problems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['gone/deep/four', 'link-now/seven', 'was-file/inside', 'new/deeper/file']),
    );
    for (const shares of [1, 2, 3]) {
      const check = verifyInThread(root, bodyOf(manifest), 2, shares);
      expect(sortProblems(check.problems)).toEqual(alone.problems);
      expect(check.checkedFiles).toBe(alone.checkedFiles);
      expect(check.checkedBytes).toBe(alone.checkedBytes);
    }
  });

  it('reports a file or directory it cannot read, and nothing under such a directory', async () => {
    const manifest = await manifestOf(root);
    await writeFile(join(root, 'a/b/extra'), 'x'); // under the unreadable directory: not reported
    const denied = (path: fs.PathLike) => {
      if (path === join(root, 'a/b') || path === join(root, 'sized'))
        throw Object.assign(new Error(`EACCES: permission denied, ${String(path)}`), { code: 'EACCES' });
    };
    const readdirSync = (path: string) => (denied(path), fs.readdirSync(path));
    const openSync = (path: string, flags: number) => (denied(path), fs.openSync(path, flags));
    const deps = { crypto, fs: { ...fs, readdirSync, openSync } } as unknown as ShareDeps;
    const check = verifyInThread(root, bodyOf(manifest), 2, 2, deps);
    expect(sortProblems(check.problems)).toEqual([
      { path: 'a/b', kind: 'unreadable', detail: `EACCES: permission denied, ${join(root, 'a/b')}` },
      { path: 'sized', kind: 'unreadable', detail: `EACCES: permission denied, ${join(root, 'sized')}` },
    ]);
  });

  it('reports the whole tree unreadable when its root is gone', async () => {
    const manifest = await manifestOf(root);
    await rm(root, { recursive: true });
    const check = verifyInThread(root, bodyOf(manifest), 2, 2);
    expect(check.problems).toEqual([expect.objectContaining({ path: '', kind: 'unreadable' })]);
    expect((await verifyTree(root, manifest)).problems).toEqual(check.problems);
  });

  it('throws for a damaged line, with its line number in the file', async () => {
    const manifest = await manifestOf(root);
    const lines = bodyOf(manifest).split('\n');
    lines[3] = lines[3]!.replace(/\t[0-9a-f-]+$/, '\tnot-a-hash');
    expect(() => verifyInThread(root, lines.join('\n'), 2, 2)).toThrow(
      new ManifestFormatError('manifest line 5: bad sha256'),
    );
  });
});

describe('startVerifyWorkers (worker threads)', () => {
  it('reports what the shares in this thread report', async () => {
    const manifest = await manifestOf(root);
    await changeEverything();
    const text = Buffer.from(encodeManifest(manifest));
    const bodyStart = text.indexOf(0x0a) + 1;
    const check = await startVerifyWorkers(root, 2).check(text, bodyStart, 2);
    const inThread = verifyInThread(root, bodyOf(manifest), 2, 2);
    expect({ ...check, problems: sortProblems(check.problems) }).toEqual({
      ...inThread,
      problems: sortProblems(inThread.problems),
    });
    expect(check.problems.length).toBeGreaterThan(10);
  });

  it('passes a damaged line on as a ManifestFormatError', async () => {
    const manifest = await manifestOf(root);
    const text = Buffer.from(encodeManifest(manifest).replace('\tf\t4\t', '\tq\t4\t'));
    await expect(startVerifyWorkers(root, 2).check(text, text.indexOf(0x0a) + 1, 2)).rejects.toThrow(
      ManifestFormatError,
    );
  });
});
