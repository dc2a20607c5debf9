import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { gunzipManifest, writeManifestFile } from '../../common/manifest-file.js';
import type { Manifest } from '../../turku/manifest.js';
import { manifestToSend } from './restore-manifest.js';
import type { RestoreTree } from './restore.js';

/** docs/datapath.md, "Verified restores": what the storage sends. */

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const entry = (path: string) => ({
  path,
  type: 'f' as const,
  size: 1,
  mode: 0o644,
  mtimeNs: '0',
  sha256: 'a'.repeat(64),
});
const manifest: Manifest = {
  header: { snapshot: 's1', created: '2026-12-05T01:00:00Z', recorded: 'backup', hashed: 4, reused: 0 },
  entries: ['conf', 'conf/a', 'conf/b', 'confx', 'run.sh'].map(entry),
};

async function treeWith(file: 'manifest' | 'none' | 'damaged', path?: string): Promise<RestoreTree> {
  const dir = await mkdtemp(join(tmpdir(), 'turku-restore-manifest-'));
  dirs.push(dir);
  const manifestFile = join(dir, 's1.manifest.gz');
  if (file === 'manifest') await writeManifestFile(manifestFile, manifest);
  if (file === 'damaged') await writeFile(manifestFile, 'not gzip');
  return {
    dir: join(dir, 's1'),
    snapshot: 's1',
    finishedAt: null,
    manifestFile,
    ...(path === undefined ? {} : { path }),
    cleanup: () => Promise.resolve(),
  };
}

describe('manifestToSend', () => {
  it('the stored file as it is for a whole snapshot', async () => {
    const sent = await manifestToSend(await treeWith('manifest'), 'link-dest');
    expect('gz' in sent && (await gunzipManifest(sent.gz))).toEqual(manifest);
  });

  it('only the part’s entries for a part (conf, not confx)', async () => {
    const sent = await manifestToSend(await treeWith('manifest', 'conf'), 'link-dest');
    expect('gz' in sent && (await gunzipManifest(sent.gz)).entries.map((e) => e.path)).toEqual([
      'conf',
      'conf/a',
      'conf/b',
    ]);
  });

  it('why there is none', async () => {
    expect(await manifestToSend(await treeWith('none'), 'link-dest')).toEqual({
      reason:
        "snapshot s1 has no manifest (taken before manifests, or with the storage's manifest setting off; " +
        '`turku-storage-admin manifest` records one)',
    });
    expect(await manifestToSend(await treeWith('damaged', 'conf'), 'link-dest')).toMatchObject({
      reason: /^the manifest of s1 is damaged: /,
    });
    expect(await manifestToSend(await treeWith('manifest'), 'borg')).toMatchObject({
      reason: /^borg mode keeps no manifest \(--verify checks link-dest snapshots\); .*borg check --verify-data/,
    });
    const { manifestFile: _, ...mirror } = await treeWith('none');
    expect(await manifestToSend(mirror, 'none')).toEqual({
      reason: 'snapshot mode none keeps no manifest (--verify checks link-dest snapshots)',
    });
  });
});
