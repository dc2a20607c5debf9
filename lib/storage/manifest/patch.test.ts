import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { seededRandom } from '../../common/seeded-random.js';
import { manifestEntries, walkTree } from '../../common/tree-manifest.js';
import { encodeEntryLine, encodeManifest, manifestBody, type ManifestBody } from '../../turku/manifest.js';
import {
  changeRandomly,
  itemized,
  oldFile,
  unescaped,
  writeRandomTree,
} from '../../../tests/support/random-tree-changes.js';
import { changedEntries, comparePaths, patchText, type CloneChanges } from './patch.js';

/**
 * An incremental's manifest patched from its base's lines (docs/datapath.md, "Manifests and
 * verify") must be, byte for byte, the one a walk of the changed tree records.
 */

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'turku-patch-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const ODD = ['tab\there', 'new\nline', 'back\\slash', 'cr\rhere', 'caf\u00e9', 'sp ace', 'dash-', 'dot.'];
const file = (path: string, content: string) => oldFile(root, path, content);

async function linesOfWalk(): Promise<string[]> {
  return (await manifestEntries(root)).entries.map((entry) => encodeEntryLine(entry));
}

/** The base's manifest as it comes back from its file's text. */
async function baseManifest(): Promise<ManifestBody> {
  const built = await manifestEntries(root);
  const header = { snapshot: 'base', created: '', recorded: 'backup', hashed: built.hashed, reused: 0 } as const;
  return manifestBody(encodeManifest({ header, entries: built.entries }));
}

async function patchedLines(base: ManifestBody, changes: CloneChanges) {
  const patched = patchText(base, await changedEntries(root, changes));
  const lines = patched.body.split('\n');
  expect(lines.pop()).toBe(''); // every line ends with LF
  expect(patched.entries).toBe(lines.length);
  return { ...patched, lines };
}

test('a patched manifest is what a walk records: changed, new, deleted trees, type changes, odd names', async () => {
  // `a` sorts after `a b`, `a-`, `a.` as a name, but its subtree comes after their entries in a walk.
  for (const dir of ['a/deep/er', 'a b', 'a-', 'a.', 'gone/inner/most', 'gone-not', 'gone2', 'to-file/sub', 'odd'])
    await mkdir(join(root, dir), { recursive: true });
  for (let i = 0; i < 30; i++) await file(`a/f${i}`, `file ${i}`);
  await file('a/deep/er/kept', 'kept');
  await file('a b/x', 'x');
  await file('a-/x', 'x');
  await file('a./x', 'x');
  await file('gone/inner/most/file', 'deleted with its directory');
  await file('gone/top', 'also');
  await file('gone-not/stays', 'a name that begins like a deleted one');
  await file('gone2/stays', 'too');
  await file('to-file/sub/child', 'goes when its directory becomes a file');
  await file('to-dir', 'a file that becomes a directory');
  await file('mode', 'same bytes');
  await symlink('a/f1', join(root, 'link'));
  for (const name of ODD) await file(`odd/${name}`, `old ${name}`);
  const base = await baseManifest();

  await file('a/f3', 'rewritten');
  await chmod(join(root, 'mode'), 0o600);
  await rm(join(root, 'a/f7'));
  await rm(join(root, 'gone'), { recursive: true });
  await rm(join(root, 'to-file'), { recursive: true });
  await file('to-file', 'was a directory');
  await rm(join(root, 'to-dir'));
  await mkdir(join(root, 'to-dir/new'), { recursive: true });
  await file('to-dir/new/child', 'new');
  await rm(join(root, 'link'));
  await symlink('mode', join(root, 'link'));
  await file('a/deep/er/new', 'new beside a kept one');
  await mkdir(join(root, 'a/deep/er/zz'));
  for (const name of ODD) await file(`odd/${name}`, `new ${name}`);
  await file('odd/new\\t', 'a new odd name');
  // What rsync itemizes: every entry it created or set, and the directories whose entries changed.
  const changes: CloneChanges = {
    touched: [
      'a',
      'a/f3',
      'mode',
      'to-file',
      'to-dir',
      'to-dir/new',
      'to-dir/new/child',
      'link',
      'a/deep/er',
      'a/deep/er/new',
      'a/deep/er/zz',
      'odd',
      ...ODD.map((name) => `odd/${name}`),
      'odd/new\\t',
      '', // the root's own line, which is no entry: rsync's `./`, filtered by the list's reader
    ].filter((path) => path !== ''),
    deleted: ['a/f7', 'gone'],
  };

  const patched = await patchedLines(base, changes);

  const walked = await linesOfWalk();
  expect(patched.lines).toEqual(walked);
  // Read: the files listed (a/f3, mode, to-file, the child, a/deep/er/new, the odd names) and the
  // symlink; reused: every other file, the base's.
  const readFiles = 5 + ODD.length + 1;
  expect(patched.hashed).toBe(readFiles + 1);
  expect(patched.reused).toBe(walked.filter((line) => line.split('\t')[1] === 'f').length - readFiles);
});

test('nothing changed: the base lines as they were, nothing read', async () => {
  await mkdir(join(root, 'd/e'), { recursive: true });
  await file('d/e/f', 'f');
  await file('g', 'g');
  const base = await baseManifest();
  const patched = await patchedLines(base, { touched: [], deleted: [] });
  expect(patched.body).toBe(base.text.slice(base.bodyStart));
  expect(patched).toMatchObject({ hashed: 0, hashedBytes: 0, reused: 2, entries: 4 });
});

test('a file the dry run listed that vanished before the pull has no entry, nor anything under it', async () => {
  await mkdir(join(root, 'd/sub'), { recursive: true });
  await file('d/sub/f', 'f');
  await file('keep', 'k');
  const base = await baseManifest();
  await rm(join(root, 'd'), { recursive: true });
  const patched = await patchedLines(base, { touched: ['d'], deleted: [] });
  expect(patched.lines).toEqual(await linesOfWalk());
});

test.each([1, 2, 3, 4, 5, 6])(
  'random trees and changes (seed %i): the patched text is what a walk records',
  async (seed) => {
    const random = seededRandom(seed);
    const tree = await writeRandomTree(root, random);
    const base = await baseManifest();
    const before = base.text.slice(base.bodyStart).split('\n').slice(0, -1);
    await changeRandomly(root, tree, random, String(seed));

    const walked = await linesOfWalk();
    const changes = itemized(before, walked);
    const patched = await patchedLines(base, changes);
    expect(patched.lines).toEqual(walked);
    // Reused: the base's files that were not looked at.
    const touched = new Set(changes.touched);
    const walkedFiles = walked.map((line) => line.split('\t')).filter((fields) => fields[1] === 'f');
    expect(patched.reused).toBe(walkedFiles.filter((fields) => !touched.has(unescaped(fields[0]!))).length);
    expect(patched.hashed).toBe(walkedFiles.length - patched.reused);
  },
);

test('comparePaths orders paths as a walk lists them', async () => {
  for (const dir of ['a/b', 'a b/c', 'a-/d', 'a./e', 'ab', 'b', '\u00e9/x', 'Z'])
    await mkdir(join(root, dir), { recursive: true });
  for (const path of ['a/b/1', 'a/0', 'a b/c/2', 'a-/x', 'a./e/y', 'ab/z', 'b/-', 'b/.x', '\u00e9/x/q', 'Z/Z'])
    await writeFile(join(root, path), '');
  const walked = (await walkTree(root)).map((entry) => entry.path);
  const shuffled = [...walked].reverse();
  shuffled.push(...shuffled.splice(0, 5));
  expect(shuffled.sort(comparePaths)).toEqual(walked);
});
