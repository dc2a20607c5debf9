import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  afterEachOther,
  filesFromList,
  inClone,
  parseItemizedChanges,
  touchesTree,
  unescapeRsyncName,
} from './link-clone.js';

import { rsyncNote } from './rsync.js';

const text = (path: Buffer): string => path.toString('latin1');

describe('parseItemizedChanges (rsync --dry-run --out-format="%i %n")', () => {
  test('files, directories, symlinks and devices; deletions; the tree itself as "."', () => {
    const output = [
      '.d..t...... ./',
      '*deleting   old/file',
      '>f.st...... dir/changed',
      '.f...p..... mode-only',
      'cL+++++++++ pointer',
      'cd+++++++++ new-dir/',
      '.d...p..... dir/',
      'cD+++++++++ dev/null',
      'hf+++++++++ second-link',
      '',
    ].join('\n');
    const changes = parseItemizedChanges(output)!;
    expect(changes.deleted.map(text)).toEqual(['old/file']);
    expect(changes.changed.map((entry) => [text(entry.path), entry.isDirectory])).toEqual([
      ['.', true],
      ['dir/changed', false],
      ['mode-only', false],
      ['pointer', false],
      ['new-dir', true],
      ['dir', true],
      ['dev/null', false],
      ['second-link', false],
    ]);
  });

  test('names with spaces and arrows are taken whole', () => {
    expect(parseItemizedChanges('>f+++++++++ a -> b  \n')?.changed.map((entry) => text(entry.path))).toEqual([
      'a -> b  ',
    ]);
    expect(parseItemizedChanges('*deleting   old dir/\n')?.deleted.map(text)).toEqual(['old dir']);
  });

  test('no output: nothing changed', () => {
    expect(parseItemizedChanges('')).toEqual({ changed: [], deleted: [] });
  });

  test.each([
    ['a banner line', 'Welcome to the agent\n>f+++++++++ a\n'],
    ['a line without a name', '>f+++++++++\n'],
    ['an unknown file type', '>x+++++++++ a\n'],
    ['an unknown update type', '?f+++++++++ a\n'],
    ['an escape over a byte', '>f+++++++++ \\#777\n'],
    ['a name going up', '>f+++++++++ dir/../../other-machine/file\n'],
    ['an absolute name', '>f+++++++++ /etc/passwd\n'],
    ['a directory going up', 'cd+++++++++ ../\n'],
    ['a deletion going up', '*deleting   ../other-machine\n'],
    ['a deletion without its padding', '*deleting x\n'],
  ])('%s: null, so the caller does not guess', (_, output) => {
    expect(parseItemizedChanges(output)).toBeNull();
  });
});

describe('unescapeRsyncName', () => {
  test('\\#ooo is one byte; anything else is literal', () => {
    expect(unescapeRsyncName('new\\#012line')).toEqual(Buffer.from('new\nline'));
    expect(unescapeRsyncName('caf\\#303\\#251')).toEqual(Buffer.from('café'));
    expect(unescapeRsyncName('latin\\#351')).toEqual(Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9]));
    expect(unescapeRsyncName('back\\#134#012slash')).toEqual(Buffer.from('back\\#012slash'));
    expect(unescapeRsyncName('plain\\back\\#9x')).toEqual(Buffer.from('plain\\back\\#9x'));
    expect(unescapeRsyncName('end\\#01')).toEqual(Buffer.from('end\\#01'));
  });
});

describe('filesFromList', () => {
  test('changed entries and the directories above them and above deleted ones; once each; never the tree', () => {
    const list = filesFromList({
      changed: [
        { path: Buffer.from('a/b/file'), isDirectory: false },
        { path: Buffer.from('a/b'), isDirectory: true },
        { path: Buffer.from('top'), isDirectory: false },
      ],
      deleted: [Buffer.from('c/d/gone'), Buffer.from('e')],
    });
    expect(list.toString('latin1').split('\0')).toEqual(['a/b/file', 'a/b', 'a', 'top', 'c/d', 'c', '']);
  });

  test('a directory deleted with its contents is not listed as their parent (regression: rsync code 23)', () => {
    const changes = parseItemizedChanges(
      '*deleting   gone/deeper/file\n*deleting   gone/deeper/\n*deleting   gone/\n',
    )!;
    expect(filesFromList(changes).length).toBe(0);
    expect(touchesTree(changes)).toBe(true);
  });

  test('the tree itself itemized alone still asks for its own pass (regression: its mode or time was never pulled)', () => {
    const changes = parseItemizedChanges('.d...p..... ./\n')!;
    expect(changes.changed).toEqual([{ path: Buffer.from('.'), isDirectory: true }]);
    expect(filesFromList(changes).length).toBe(0);
    expect(touchesTree(changes)).toBe(true);
  });

  test('the tree is set apart only when it or one of its own entries changed', () => {
    expect(touchesTree(parseItemizedChanges('>f.st...... dir/deep\n*deleting   dir/old\n')!)).toBe(false);
    expect(touchesTree(parseItemizedChanges('>f+++++++++ top\n')!)).toBe(true);
    expect(touchesTree(parseItemizedChanges('*deleting   top\n')!)).toBe(true);
  });

  test('names are bytes', () => {
    const name = Buffer.from([0x64, 0x2f, 0xe9]);
    expect(filesFromList({ changed: [{ path: name, isDirectory: false }], deleted: [] })).toEqual(
      Buffer.from([0x64, 0x2f, 0xe9, 0, 0x64, 0]),
    );
  });
});

describe('afterEachOther (step 3, then the pass over the tree itself)', () => {
  const vanished = {
    success: true,
    code: 24,
    stdout: '',
    diagnostics: ['file has vanished: "/z.log" (in data)', 'rsync warning: some files vanished (code 24)'],
  };
  const clean = { success: true, code: 0, stdout: '', diagnostics: [] };
  const failed = { success: false, code: 12, stdout: '', diagnostics: ['rsync: connection unexpectedly closed'] };

  test("step 3's vanished files are still said after a clean tree pass (regression: the note was lost)", () => {
    const both = afterEachOther(vanished, clean);
    expect(both).toMatchObject({ success: true, code: 24 });
    expect(rsyncNote(both)).toBe(
      'Note: some files vanished during the transfer, the first: "/z.log" (rsync exit code 24)\n',
    );
  });

  test('a vanished file in the tree pass alone is said too; two clean pulls are clean', () => {
    expect(afterEachOther(clean, vanished)).toMatchObject({ success: true, code: 24 });
    expect(afterEachOther(clean, clean)).toMatchObject({ success: true, code: 0 });
  });

  test('a failure wins, with its own code and lines', () => {
    expect(afterEachOther(vanished, failed)).toEqual(failed);
    expect(afterEachOther(failed, clean)).toEqual(failed);
  });
});

describe('inClone', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'turku-in-clone-'));
    await mkdir(join(dir, 'outside'));
    await writeFile(join(dir, 'outside', 'y'), 'not the clone’s');
    await mkdir(join(dir, 'working', 'real'), { recursive: true });
    await symlink(join(dir, 'outside'), join(dir, 'working', 'link'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('a path under real directories of the clone', async () => {
    expect((await inClone(join(dir, 'working'), Buffer.from('real/y')))?.toString()).toBe(
      join(dir, 'working', 'real', 'y'),
    );
    expect((await inClone(join(dir, 'working'), Buffer.from('top')))?.toString()).toBe(join(dir, 'working', 'top'));
  });

  test('null under a symlink or a missing directory: nothing outside the clone is touched', async () => {
    expect(await inClone(join(dir, 'working'), Buffer.from('link/y'))).toBeNull();
    expect(await inClone(join(dir, 'working'), Buffer.from('missing/y'))).toBeNull();
  });
});
