import { parseItemizedChanges, unescapeRsyncName } from './link-clone.js';

const text = (path: Buffer): string => path.toString('latin1');

describe('parseItemizedChanges (rsync --dry-run --out-format="%i %n")', () => {
  test('files, directories, symlinks and devices; deletions and the tree itself skipped', () => {
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
    expect(parseItemizedChanges(output)?.map((entry) => [text(entry.path), entry.isDirectory])).toEqual([
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
    expect(parseItemizedChanges('>f+++++++++ a -> b  \n')?.map((entry) => text(entry.path))).toEqual(['a -> b  ']);
  });

  test('no output: nothing changed', () => {
    expect(parseItemizedChanges('')).toEqual([]);
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
