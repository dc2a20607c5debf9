import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { encodeEntryLine, type ManifestHeader } from '../turku/manifest.js';
import { readManifestFile, writeManifestLines, writeManifestTexts } from './manifest-file.js';
import { manifestEntries, verifyTree } from './tree-manifest.js';
import { recordTree, type RecordTreeOptions } from './tree-record-pool.js';
import { hashDeferred, recordDirectory } from './tree-record-share.js';
import { shareKit, type ShareDeps } from './tree-share-kit.js';

let root: string;
let out: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tree-record-pool-'));
  out = await mkdtemp(join(tmpdir(), 'tree-record-pool-out-'));
  for (const dir of ['a/b', 'a/c', 'B', 'a.b', 'empty', 'odd\tname\\dir', 'z/y/x/w'])
    await mkdir(join(root, dir), { recursive: true });
  const files: Record<string, string | Buffer> = {
    'a/b/one': 'one\n',
    'a/c/three': 'three\n',
    'a/big': Buffer.alloc((1 << 20) + 7, 5), // more than one read
    'a/exact': Buffer.alloc(1 << 20, 6), // exactly one read's size
    'a-file': 'sorted between a and a.b',
    'B/upper': 'u',
    'a.b/dot': 'd',
    'odd\tname\\dir/new\nline': 'eight\n',
    'cr\rname': 'r',
    'ünïcödé ✓': 'u8',
    'z/y/x/w/deep': 'deep',
    top: '',
  };
  for (const [path, data] of Object.entries(files)) await writeFile(join(root, path), data);
  await utimes(join(root, 'top'), 1_000_000, 1_000_000.123456);
  await fs.promises.chmod(join(root, 'a/b/one'), 0o4751);
  await link(join(root, 'a/b/one'), join(root, 'hard-link')); // a hard link: its own entry, hashed
  await symlink('a/b/one', join(root, 'link'));
  await symlink('a', join(root, 'dir-link')); // not followed
  await symlink('nowhere', join(root, 'dangling'));
  execFileSync('mkfifo', [join(root, 'fifo')]); // type 'o', not opened
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

const header: ManifestHeader = {
  snapshot: 's',
  created: '2026-01-01T00:00:00.000Z',
  recorded: 'backup',
  hashed: 0,
  reused: 0,
};

/** An early hash of the file at `path` as it is now (its identity from `lstat`), with a made-up digest. */
function earlyOf(path: string, sha256: string) {
  const s = fs.lstatSync(join(root, path), { bigint: true });
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, sha256 };
}

/** The manifest's gunzipped text as written from recordTree's texts. */
async function recordedText(options: RecordTreeOptions = {}): Promise<string> {
  const tree = await recordTree(root, options);
  const path = join(out, 'recorded.manifest.gz');
  await writeManifestTexts(path, { ...header, hashed: tree.hashed }, tree.texts, tree.lineCounts);
  return gunzipSync(fs.readFileSync(path)).toString('utf8');
}

/** The text the walk (tree-manifest.ts) gives, written as before. */
async function walkedText(): Promise<string> {
  const built = await manifestEntries(root);
  const path = join(out, 'walked.manifest.gz');
  await writeManifestLines(
    path,
    { ...header, hashed: built.hashed },
    built.entries.map((entry) => encodeEntryLine(entry)),
  );
  return gunzipSync(fs.readFileSync(path)).toString('utf8');
}

describe('recordTree', () => {
  it.each([
    ['in this thread', { workers: 0 }],
    ['on worker threads', { workers: 2, inThread: { entries: 0, bytes: 0 } }],
    ['on one worker after the first directories', { workers: 1, inThread: { entries: 12, bytes: 1 << 30 } }],
    ['here, within what is recorded before workers start', { workers: 2, inThread: { entries: 1000, bytes: 1 << 30 } }],
  ])('writes the manifest the walk writes, %s', async (_, options: RecordTreeOptions) => {
    const walked = await walkedText();
    expect(walked).toMatch(/\nfifo\to\t0\t/);
    expect(walked.split('\n').length).toBeGreaterThan(25);
    expect(await recordedText(options)).toBe(walked);
  });

  it('counts what it hashed as the walk does, and its manifest verifies', async () => {
    const built = await manifestEntries(root);
    const tree = await recordTree(root, { workers: 2, inThread: { entries: 0, bytes: 0 } });
    const files = built.entries.filter((e) => e.type === 'f' || e.type === 'l');
    expect(tree.entries).toBe(built.entries.length);
    expect(tree.hashed).toBe(built.hashed);
    expect(tree.hashedBytes).toBe(built.hashedBytes);
    expect(tree.hashedBytes).toBe(files.reduce((sum, e) => sum + e.size, 0));
    expect(tree.early).toBe(0);
    const path = join(out, 'm.gz');
    await writeManifestTexts(path, { ...header, hashed: tree.hashed }, tree.texts, tree.lineCounts);
    const manifest = (await readManifestFile(path))!;
    expect(manifest.header.hashed).toBe(built.hashed);
    expect((await verifyTree(root, manifest)).problems).toEqual([]);
  });

  it('takes an early hash only for the file it was made of', async () => {
    const fake = 'f'.repeat(64);
    const keyOf = (path: string) => earlyOf(path, fake);
    const early = new Map([
      ['a/big', keyOf('a/big')],
      ['a/exact', { ...keyOf('a/exact'), mtimeNs: 1n }], // changed since: read again
      ['a.b/dot', { ...keyOf('a.b/dot'), ino: 1n }], // another file now: read again
    ]);
    for (const options of [{ workers: 0 }, { workers: 2, inThread: { entries: 0, bytes: 0 } }]) {
      const tree = await recordTree(root, { ...options, early });
      const lines = tree.texts.join('').split('\n');
      expect(lines.find((l) => l.startsWith('a/big\t'))).toMatch(new RegExp(`\t${fake}$`));
      expect(lines.find((l) => l.startsWith('a/exact\t'))).not.toContain(fake);
      expect(lines.find((l) => l.startsWith('a.b/dot\t'))).not.toContain(fake);
      expect(tree.early).toBe(1);
      expect(tree.hashed).toBe((await manifestEntries(root)).hashed);
    }
  });

  it('does not open a file whose early hash it takes (its lstat tells), and opens one changed since', async () => {
    const opened: string[] = [];
    const openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      opened.push(String(path));
      return (fs.openSync as (...args: unknown[]) => number)(path, ...rest);
    }) as typeof fs.openSync;
    const keyOf = (path: string) => earlyOf(path, 'e'.repeat(64));
    const early = new Map([
      ['a/big', keyOf('a/big')],
      ['a/exact', { ...keyOf('a/exact'), ctimeNs: 1n }],
    ]);
    const tree = await recordTree(root, { workers: 0, early, deps: { fs: { ...fs, openSync }, crypto } });
    expect(tree.early).toBe(1);
    expect(opened.filter((path) => path.endsWith('/a/big'))).toEqual([]);
    expect(opened.filter((path) => path.endsWith('/a/exact'))).toHaveLength(1);
  });

  it('counts an early hash taken as no read: a tree of such files is done here, before any worker', async () => {
    const early = new Map(['a/big', 'a/exact'].map((path) => [path, earlyOf(path, 'e'.repeat(64))]));
    const seen: string[] = [];
    const lstatSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      seen.push(String(path));
      return (fs.lstatSync as (...args: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.lstatSync;
    // 2 MiB in the two early files, against 1 MiB to read here: only what is read counts.
    const tree = await recordTree(root, {
      workers: 2,
      early,
      inThread: { entries: 1000, bytes: 1 << 20 },
      deps: { fs: { ...fs, lstatSync }, crypto },
    });
    expect(tree.early).toBe(2);
    // Every directory was recorded here (the workers take no `deps`): the deepest one too.
    expect(seen.some((path) => path.endsWith('/z/y/x/w'))).toBe(true);
  });

  it('fails with the path of what it cannot read', async () => {
    const openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      if (String(path).endsWith('/a/c/three')) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      return (fs.openSync as (...args: unknown[]) => number)(path, ...rest);
    }) as typeof fs.openSync;
    const deps = { crypto, fs: { ...fs, openSync } } as unknown as ShareDeps;
    await expect(recordTree(root, { workers: 0, deps })).rejects.toThrow('a/c/three: EIO: i/o error');
    await rm(join(root, 'z/y'), { recursive: true });
    const readdirSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      if (String(path).endsWith('/z')) throw new Error('EACCES: permission denied');
      return (fs.readdirSync as (...args: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readdirSync;
    const listing = { crypto, fs: { ...fs, readdirSync } } as unknown as ShareDeps;
    await expect(recordTree(root, { workers: 0, deps: listing })).rejects.toThrow('z: EACCES: permission denied');
  });

  it('leaves large files for the pool to hash one by one, each line waiting for its hash', () => {
    const deps = { fs, crypto };
    const kit = shareKit(deps);
    const record = recordDirectory(deps, kit, { root, dir: 'a', early: null, deferFrom: 1 << 20 });
    expect(record.deferred).toEqual([
      { path: 'a/big', size: (1 << 20) + 7 },
      { path: 'a/exact', size: 1 << 20 },
    ]);
    expect(record.text).toContain('a/big\tf\t1048583\t644\t');
    expect(record.text.match(/\t\0\d\0\n/g)).toEqual(['\t\u00000\u0000\n', '\t\u00001\u0000\n']);
    expect(record.hashed).toBe(2); // counted here, hashed by the pool
    const big = crypto.hash('sha256', fs.readFileSync(join(root, 'a/big')), 'hex');
    expect(hashDeferred(deps, kit, root, record.deferred[0]!)).toEqual({ sha256: big });
    expect(hashDeferred(deps, kit, root, { path: 'a/gone', size: 5 })).toEqual({
      error: expect.stringMatching(/^a\/gone: ENOENT/) as unknown,
    });
  });

  it('writes members of whole directories that any gzip reader reads as one text', async () => {
    // 10 directories of 1,000 entries: more than one member of 8,192 lines.
    await rm(root, { recursive: true });
    await mkdir(root);
    for (let d = 0; d < 10; d++) {
      await mkdir(join(root, `d${d}`));
      for (let f = 0; f < 1000; f++) await writeFile(join(root, `d${d}`, `f${f}`), `${d}/${f}`);
    }
    const text = await recordedText();
    expect(text).toBe(await walkedText());
    const data = fs.readFileSync(join(out, 'recorded.manifest.gz'));
    let members = 0;
    for (let i = 0; i + 3 < data.length; i++)
      if (data[i] === 0x1f && data[i + 1] === 0x8b && data[i + 2] === 8) members++;
    expect(members).toBeGreaterThanOrEqual(2);
  });
});
