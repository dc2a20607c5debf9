import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { execa } from 'execa';

import { encodeManifest, type Manifest, type ManifestEntry } from '../turku/manifest.js';
import { readManifestFile, readManifestText, writeManifestFile } from './manifest-file.js';

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
