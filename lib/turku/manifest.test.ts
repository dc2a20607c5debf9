import fc from 'fast-check';

import {
  compareEntry,
  encodeManifest,
  encodeEntryLine,
  escapePath,
  ManifestFormatError,
  manifestBody,
  pathAt,
  typeAt,
  parseManifest,
  unescapePath,
  type Manifest,
  type ManifestEntry,
} from './manifest.js';

const header = {
  snapshot: 'etc_20261205-101500_1a2b',
  created: '2026-12-05T10:15:01.000Z',
  recorded: 'backup',
  hashed: 2,
  reused: 0,
} as const;
const file: ManifestEntry = {
  path: 'conf/app.conf',
  type: 'f',
  size: 14,
  mode: 0o644,
  mtimeNs: '1764929700123456789',
  sha256: 'a'.repeat(64),
};

describe('encodeManifest / parseManifest', () => {
  it('writes a header line and one tab-separated line per entry', () => {
    const manifest: Manifest = {
      header,
      entries: [{ path: 'conf', type: 'd', size: 0, mode: 0o750, mtimeNs: '1', sha256: null }, file],
    };
    const text = encodeManifest(manifest);
    expect(text.split('\n')).toEqual([
      `turku-manifest\t1\t${JSON.stringify(header)}`,
      'conf\td\t0\t750\t1\t-',
      `conf/app.conf\tf\t14\t644\t1764929700123456789\t${'a'.repeat(64)}`,
      '',
    ]);
    expect(parseManifest(text)).toEqual(manifest);
  });

  it('round-trips any path, tabs, newlines and backslashes included', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (path) => {
        expect(unescapePath(escapePath(path))).toBe(path);
        const manifest = { header, entries: [{ ...file, path }] };
        expect(parseManifest(encodeManifest(manifest))).toEqual(manifest);
      }),
    );
  });

  it.each([
    ['', 'not a turku manifest'],
    ['turku-manifest\t2\t{}\n', 'unsupported manifest version 2'],
    ['turku-manifest\t1\t{\n', 'manifest header is not JSON'],
    ['turku-manifest\t1\t{"snapshot":"x"}\n', 'manifest header lacks a field'],
    [`turku-manifest\t1\t${JSON.stringify(header)}\nx\tq\t1\t644\t1\t-\n`, 'manifest line 2: unknown type "q"'],
    [`turku-manifest\t1\t${JSON.stringify(header)}\nx\tf\t1\t644\t1\tzz\n`, 'manifest line 2: bad sha256'],
    [`turku-manifest\t1\t${JSON.stringify(header)}\nx\\qy\tf\t1\t644\t1\t-\n`, 'bad escape "\\q" in a manifest path'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseManifest(text)).toThrow(new ManifestFormatError(message));
  });
});

describe('manifestBody', () => {
  it('gives the entry lines where they are, with the path and type of each', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.constantFrom('f', 'd', 'l', 'o'), (path, type) => {
        const entry: ManifestEntry = { ...file, path, type, sha256: type === 'd' ? null : file.sha256 };
        const text = encodeManifest({ header, entries: [file, entry] });
        const body = manifestBody(text);
        expect(body).toMatchObject({ header, text, lines: 2, files: type === 'f' ? 2 : 1 });
        expect(text.slice(body.bodyStart)).toBe(`${encodeEntryLine(file)}\n${encodeEntryLine(entry)}\n`);
        const second = body.bodyStart + encodeEntryLine(file).length + 1;
        expect(pathAt(text, second)).toBe(path);
        expect(typeAt(text, second)).toBe(type);
      }),
    );
  });

  it('takes an empty manifest', () => {
    const text = encodeManifest({ header, entries: [] });
    expect(manifestBody(text)).toEqual({ header, text, bodyStart: text.length, lines: 0, files: 0 });
  });

  const head = `turku-manifest\t1\t${JSON.stringify(header)}\n`;
  it.each([
    ['', 'not a turku manifest'],
    ['turku-manifest\t2\t{}\n', 'unsupported manifest version 2'],
    [`${head}x\tf\t1\t644\t1\t-`, 'manifest does not end with a newline'],
    [`${head}x\tq\t1\t644\t1\t-\n`, 'manifest line 2: not an entry'],
    [`${head}x\tf\t1\t644\t1\n`, 'manifest line 2: not an entry'],
    [`${head}x\tf\t1\t644\t1\t-\textra\n`, 'manifest line 2: not an entry'],
    [`${head}x\tf\t\t644\t1\t-\n`, 'manifest line 2: not an entry'],
    [`${head}\tf\t1\t644\t1\t-\n`, 'manifest line 2: not an entry'],
    [`${head}x\tf\t1\t644\t1\tabc\n`, 'manifest line 2: not an entry'],
    [`${head}x\\qy\tf\t1\t644\t1\t-\n`, 'bad escape "\\q" in a manifest path'],
    [
      `${head}a\\\\b\tf\t1\t644\t1\t-\nc\td\t0\t755\t1\t-\nx\\qy\tf\t1\t644\t1\t-\n`,
      'bad escape "\\q" in a manifest path',
    ],
    [`${head}x\tf\t1\t644\t1\t-\n\n`, 'manifest line 3: not an entry'],
    [`${head}x\tf\t1\t644\t1\t-\ny\tf\t1\t644\t1\n`, 'manifest line 3: not an entry'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => manifestBody(text)).toThrow(new ManifestFormatError(message));
  });
});

describe('compareEntry', () => {
  it('agrees with itself', () => {
    expect(compareEntry(file, file)).toBeNull();
  });

  it('names a size change before a content change, a content change before metadata', () => {
    expect(compareEntry(file, { ...file, size: 3, sha256: 'b'.repeat(64) })).toEqual({
      path: 'conf/app.conf',
      kind: 'size',
      detail: 'size 14, now 3',
    });
    expect(compareEntry(file, { ...file, sha256: 'b'.repeat(64), mode: 0o600 })).toMatchObject({ kind: 'content' });
    expect(compareEntry(file, { ...file, mode: 0o600, mtimeNs: '1764929700123000000' })).toEqual({
      path: 'conf/app.conf',
      kind: 'metadata',
      detail: 'mode 644, now 600; mtime 2025-12-05T10:15:00.123Z (+456789 ns), now 2025-12-05T10:15:00.123Z',
    });
  });

  it('a changed type is metadata; a symlink target is content; a directory mtime is not compared', () => {
    expect(compareEntry(file, { ...file, type: 'l' })).toEqual({
      path: 'conf/app.conf',
      kind: 'metadata',
      detail: 'type file, now symlink',
    });
    const link: ManifestEntry = { ...file, type: 'l', sha256: 'c'.repeat(64) };
    expect(compareEntry(link, { ...link, sha256: 'd'.repeat(64) })?.detail).toMatch(/^symlink target differs/);
    const dir: ManifestEntry = { ...file, type: 'd', size: 0, sha256: null };
    expect(compareEntry(dir, { ...dir, mtimeNs: '5' })).toBeNull();
  });
});
