import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { execa } from 'execa';

import {
  encodeEntryLine,
  encodeHeaderLine,
  encodeManifest,
  type Manifest,
  type ManifestEntry,
} from '../turku/manifest.js';
import {
  MEMBER_GZIP,
  readManifestFile,
  readManifestText,
  writeManifestBody,
  writeManifestFile,
  writeManifestTexts,
} from './manifest-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manifest-file-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const header = {
  snapshot: 's',
  created: '2026-12-05T10:15:01.000Z',
  recorded: 'backup',
  hashed: 1,
  reused: 2,
} as const;

function manifestOf(count: number): Manifest {
  const entries: ManifestEntry[] = Array.from({ length: count }, (_, i) => ({
    path: `dir ${i % 7}/file\t${i}`,
    type: 'f',
    size: i,
    mode: 0o644,
    mtimeNs: String(1764929700123456789n + BigInt(i)),
    sha256: (i % 16).toString(16).repeat(64),
  }));
  return { header, entries };
}

test.each([0, 1, 20_000])('a manifest of %d entries is written as gzip and read back', async (count) => {
  const manifest = manifestOf(count);
  const path = join(dir, 'm.manifest.gz');
  await writeManifestFile(path, manifest);
  expect(await readManifestFile(path)).toEqual(manifest);
  // Any gzip reader gives the text, members and all.
  expect(String((await execa('gzip', ['-dc', path], { stripFinalNewline: false })).stdout)).toBe(
    encodeManifest(manifest),
  );
  expect(await readdir(dir)).toEqual(['m.manifest.gz']);
});

test.each([0, 1, 20_000, 60_000])(
  'a manifest of %d entries written from its body text is the same text, in members cut at line ends',
  async (count) => {
    const manifest = manifestOf(count);
    const text = encodeManifest(manifest);
    const body = text.slice(text.indexOf('\n') + 1);
    const path = join(dir, 'b.manifest.gz');
    await writeManifestBody(path, header, body);
    expect(await readManifestText(path)).toBe(text);
    expect(String((await execa('gzip', ['-dc', path], { stripFinalNewline: false })).stdout)).toBe(text);
    // Each member holds whole lines (of about 1 MB of text).
    const members = await membersOf(await readFile(path));
    expect(members.join('')).toBe(text);
    expect(members.every((member) => member.endsWith('\n'))).toBe(true);
    const longest = Math.max(...text.split('\n').map((line) => line.length + 1));
    for (const member of members.slice(0, -1)) {
      expect(member.length).toBeGreaterThanOrEqual(1 << 20);
      expect(member.length).toBeLessThanOrEqual((1 << 20) + longest);
    }
    expect(members.length).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(text.length / ((1 << 20) + longest))));
    expect(members.length).toBeLessThanOrEqual(Math.max(1, Math.ceil(text.length / (1 << 20))));
  },
);

/** The texts of a gzip file's members, one by one. */
async function membersOf(data: Buffer): Promise<string[]> {
  const { inflateRawSync } = await import('node:zlib');
  const texts: string[] = [];
  for (let at = 0; at < data.length;) {
    expect(data.subarray(at, at + 4)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0])); // no optional fields
    const raw = data.subarray(at + 10);
    // The member's compressed length: what inflating it alone consumed.
    const inflated = inflateRawSync(raw, { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    texts.push(inflated.buffer.toString('utf8'));
    at += 10 + inflated.engine.bytesWritten + 8;
  }
  expect(gunzipSync(data).toString('utf8')).toBe(texts.join(''));
  return texts;
}

test('texts given as gzip members already (directories recorded while rsync ran) are written as they are, in their place', async () => {
  const manifest = manifestOf(100);
  const lines = manifest.entries.map((entry) => `${encodeEntryLine(entry)}\n`);
  // Texts of 10 lines; every third one compressed already, two in a row at the end.
  const texts: (string | Uint8Array)[] = [];
  for (let i = 0; i < 10; i++) {
    const text = lines.slice(i * 10, i * 10 + 10).join('');
    texts.push(i % 3 === 0 || i === 8 ? gzipSync(text, MEMBER_GZIP) : text);
  }
  const path = join(dir, 'texts.manifest.gz');
  await writeManifestTexts(path, manifest.header, texts, Array<number>(10).fill(10));
  expect(await readManifestFile(path)).toEqual(manifest);
  const members = await membersOf(await readFile(path));
  // The header alone, each compressed text, the others joined between them: 0 | 1-2 | 3 | 4-5 | 6 | 7 | 8 | 9.
  expect(members).toEqual([
    `${encodeHeaderLine(manifest.header)}\n`,
    lines.slice(0, 10).join(''),
    lines.slice(10, 30).join(''),
    lines.slice(30, 40).join(''),
    lines.slice(40, 60).join(''),
    lines.slice(60, 70).join(''),
    lines.slice(70, 80).join(''),
    lines.slice(80, 90).join(''),
    lines.slice(90, 100).join(''),
  ]);
});

test('a manifest of one gzip member, as written before, is read', async () => {
  const manifest = manifestOf(10);
  const path = join(dir, 'old.manifest.gz');
  await writeFile(path, gzipSync(encodeManifest(manifest)));
  expect(await readManifestFile(path)).toEqual(manifest);
  expect(await readManifestText(path)).toBe(encodeManifest(manifest));
});

test('no file: null; not gzip: it throws', async () => {
  expect(await readManifestFile(join(dir, 'none'))).toBeNull();
  await writeFile(join(dir, 'bad'), 'not gzip');
  await expect(readManifestText(join(dir, 'bad'))).rejects.toThrow();
  expect((await readFile(join(dir, 'bad'))).toString()).toBe('not gzip');
});
