import { gzipSync } from 'node:zlib';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeManifest, type Manifest } from '../turku/manifest.js';
import { writeManifestFile } from './manifest-file.js';
import { DamagedManifestError, verifyAgainstManifestFile } from './manifest-file-verify.js';
import { manifestEntries } from './tree-manifest.js';

let dir: string;
let tree: string;
let path: string;
let manifest: Manifest;

/** Enough entries for a manifest past the workers' threshold (64 KiB gzip'd). */
const FILES = 2000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'manifest-file-verify-'));
  tree = join(dir, 'tree');
  for (let d = 0; d < FILES / 100; d++) {
    await mkdir(join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) await writeFile(join(tree, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
  }
  const built = await manifestEntries(tree);
  manifest = {
    header: { snapshot: 's', created: 'now', recorded: 'backup', hashed: built.hashed, reused: 0 },
    entries: built.entries,
  };
  path = join(dir, 'tree.manifest.gz');
  await writeManifestFile(path, manifest);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('verifyAgainstManifestFile', () => {
  it('checks a large tree (on worker threads) and gives the header', async () => {
    expect((await stat(path)).size).toBeGreaterThanOrEqual(64 * 1024);
    expect(await verifyAgainstManifestFile(tree, path)).toEqual({
      header: manifest.header,
      check: { checkedFiles: FILES, checkedBytes: expect.any(Number) as number, complete: true, problems: [] },
    });
  });

  it('reports what the workers find', async () => {
    const changed = join(tree, 'd7', 'f3');
    const before = await readFile(changed);
    await writeFile(changed, 'File 7/3\n');
    try {
      const verified = await verifyAgainstManifestFile(tree, path);
      expect(verified?.check.problems).toEqual([expect.objectContaining({ path: 'd7/f3', kind: 'content' })]);
    } finally {
      await writeFile(changed, before);
    }
  });

  it('samples in this thread', async () => {
    const verified = await verifyAgainstManifestFile(tree, path, { sample: { maxBytes: 100 } });
    expect(verified?.check).toMatchObject({ complete: false, problems: [] });
    expect(verified?.check.checkedFiles).toBeLessThan(20);
  });

  it('is null without a manifest file', async () => {
    expect(await verifyAgainstManifestFile(tree, join(dir, 'none.manifest.gz'))).toBeNull();
  });

  it('throws DamagedManifestError for a damaged line, a bad header or bytes that are not gzip', async () => {
    const text = encodeManifest(manifest);
    const damaged = {
      line: gzipSync(text.replace(/\n(d3\/f5\t)f\t/, '\n$1x\t')),
      header: gzipSync(text.replace('turku-manifest', 'turku-manifesto')),
      gzip: Buffer.from('not gzip'),
    };
    for (const [what, data] of Object.entries(damaged)) {
      const file = join(dir, `${what}.manifest.gz`);
      await writeFile(file, data);
      await expect(verifyAgainstManifestFile(tree, file)).rejects.toThrow(DamagedManifestError);
    }
    await expect(verifyAgainstManifestFile(tree, join(dir, 'line.manifest.gz'))).rejects.toThrow(
      /manifest line \d+: unknown type "x"/,
    );
  });
});
