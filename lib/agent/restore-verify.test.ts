import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { gzipManifest } from '../common/manifest-file.js';
import { manifestEntries } from '../common/tree-manifest.js';
import type { Manifest, ManifestEntry, TreeProblem } from '../turku/manifest.js';
import { encodeManifestChunks } from '../turku/protocol/restore-manifest.js';
import { encodeRestoreDone, parseRestoreDone, type RestoreDone } from '../turku/protocol/restore-report.js';
import { catchRestoreReports } from './restore-progress.js';
import {
  ManifestCollector,
  NO_MANIFEST,
  printable,
  problemsText,
  readReceived,
  SHOWN_PROBLEMS,
  verifyRestored,
} from './restore-verify.js';

/** docs/datapath.md, "Verified restores": the agent's side. */

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'turku-restore-verify-'));
  dirs.push(root);
  await mkdir(join(root, 'conf'));
  await writeFile(join(root, 'conf', 'app.conf'), 'listen = 8080\n');
  await writeFile(join(root, 'run.sh'), 'echo hi\n');
  return root;
}

async function manifestOf(root: string): Promise<Manifest> {
  const { entries } = await manifestEntries(root);
  return {
    header: {
      snapshot: 'etc_20261205-010000_ab12',
      created: '2026-12-05T01:00:00Z',
      recorded: 'backup',
      hashed: 2,
      reused: 0,
    },
    entries,
  };
}

function done(manifest?: RestoreDone['manifest']): RestoreDone {
  const line = encodeRestoreDone({
    source: 'etc',
    snapshot: 'etc_20261205-010000_ab12',
    time: null,
    path: null,
    bytes: 0,
    files: 0,
    seconds: 0,
    ...(manifest === undefined ? {} : { manifest }),
  });
  return parseRestoreDone(line)!;
}

/** What the agent receives for `manifest`: its lines through the session's stdout, then the done line. */
async function sent(manifest: Manifest): Promise<ManifestCollector> {
  const gz = await gzipManifest(manifest);
  const collector = new ManifestCollector();
  const reports = catchRestoreReports(
    () => undefined,
    (text) => {
      throw new Error(`passed through: ${text}`);
    },
    (chunk) => collector.push(chunk),
  );
  for (const line of encodeManifestChunks(gz)) {
    // Cut anywhere, as ssh may deliver it.
    reports.push(line.slice(0, 7));
    reports.push(line.slice(7));
  }
  reports.end();
  return collector;
}

const sha256Of = async (manifest: Manifest) => {
  const gz = await gzipManifest(manifest);
  const { createHash } = await import('node:crypto');
  return { bytes: gz.length, sha256: createHash('sha256').update(gz).digest('hex') };
};

describe('verifyRestored', () => {
  it('an intact tree: ok, with the counts', async () => {
    const root = await tree();
    const manifest = await manifestOf(root);
    const collector = await sent(manifest);
    const outcome = await verifyRestored(root, collector.received(done(await sha256Of(manifest))), undefined);
    expect(outcome).toEqual({
      ok: true,
      text: 'Verified against the manifest of etc_20261205-010000_ab12: 3 entries match, 2 files and symlinks hashed (22 bytes)\n',
    });
  });

  it('a changed file and an extra one: each problem, not ok', async () => {
    const root = await tree();
    const manifest = await manifestOf(root);
    await writeFile(join(root, 'run.sh'), 'echo ho\n');
    await writeFile(join(root, 'planted'), 'x');
    const outcome = await verifyRestored(root, { gz: await gzipManifest(manifest) }, undefined);
    expect(outcome.ok).toBe(false);
    expect(outcome.text.split('\n')).toEqual([
      'Verify found 2 problems against the manifest of etc_20261205-010000_ab12:',
      '  extra planted: not in the manifest (f, 1 bytes)',
      expect.stringMatching(/^ {2}content run\.sh: content differs \(sha256 [0-9a-f]{64}, now [0-9a-f]{64}\)$/),
      '',
    ]);
    expect(outcome.error).toBe(
      "The restored files do not match the snapshot's manifest: 2 problems (listed on stdout)",
    );
  });

  it('with a path, only that part: other entries of the manifest are not missing', async () => {
    const root = await tree();
    const manifest = await manifestOf(root);
    await rm(join(root, 'run.sh'));
    const outcome = await verifyRestored(root, { gz: await gzipManifest(manifest) }, 'conf');
    expect(outcome.ok).toBe(true);
    expect(outcome.text).toMatch(/: 2 entries match, 1 files and symlinks hashed \(14 bytes\)\n$/);
  });

  it('says after-the-fact manifests are such', async () => {
    const root = await tree();
    const manifest = await manifestOf(root);
    const late: Manifest = { ...manifest, header: { ...manifest.header, recorded: 'after-the-fact' } };
    const outcome = await verifyRestored(root, { gz: await gzipManifest(late) }, undefined);
    expect(outcome.text).toMatch(/^Verified against the manifest of \S+ \(recorded after the fact\): /);
  });

  it('never follows a link the storage pushed on the way to the part', async () => {
    const root = await tree();
    const elsewhere = await tree();
    await symlink(elsewhere, join(root, 'x'));
    const entries: ManifestEntry[] = [{ path: 'x/conf', type: 'd', size: 0, mode: 0o755, mtimeNs: '0', sha256: null }];
    const manifest = { ...(await manifestOf(root)), entries };
    const outcome = await verifyRestored(root, { gz: await gzipManifest(manifest) }, 'x/conf');
    expect(outcome).toEqual({
      ok: false,
      text: 'Not verified: "x" on the way to the restored path is not a directory\n',
      error: 'Restored, but not verified: "x" on the way to the restored path is not a directory',
    });
  });

  it('without a manifest: not verified, with the reason', async () => {
    const root = await tree();
    expect(await verifyRestored(root, { reason: NO_MANIFEST }, undefined)).toEqual({
      ok: false,
      text: `Not verified: ${NO_MANIFEST}\n`,
      error: `Restored, but not verified: ${NO_MANIFEST}`,
    });
  });
});

describe('the received manifest is not trusted', () => {
  it.each(['../etc/passwd', '/etc/passwd', 'a//b', 'a/./b', 'a/..'])('refuses the entry path %j', async (path) => {
    const manifest: Manifest = {
      ...(await manifestOf(await tree())),
      entries: [{ path, type: 'f', size: 1, mode: 0o644, mtimeNs: '0', sha256: 'a'.repeat(64) }],
    };
    await expect(readReceived(await gzipManifest(manifest))).rejects.toThrow(/^entry ".*": it /);
  });

  it('refuses what is not gzip, or not a manifest', async () => {
    await expect(readReceived(Buffer.from('plain'))).rejects.toThrow(/^not gzip data/);
    const { gzipSync } = await import('node:zlib');
    await expect(readReceived(gzipSync('hello\n'))).rejects.toThrow('not a turku manifest');
    const root = await tree();
    const outcome = await verifyRestored(root, { gz: Buffer.from('plain') }, undefined);
    expect(outcome.error).toMatch(/^Restored, but not verified: the storage's manifest is unusable: not gzip data/);
  });

  it('a done line without `manifest` (an older storage): the plain reason', () => {
    expect(new ManifestCollector().received(done())).toEqual({ reason: NO_MANIFEST });
    expect(new ManifestCollector().received(undefined)).toEqual({ reason: NO_MANIFEST });
  });

  it('the storage’s reason, without control characters', () => {
    expect(new ManifestCollector().received(done({ reason: 'borg\u001b[2J mode' }))).toEqual({
      reason: 'the storage sent no manifest: borg\\x1b[2J mode',
    });
  });

  it('a manifest cut short or altered on the way is not used', async () => {
    const manifest = await manifestOf(await tree());
    const collector = await sent(manifest);
    const { bytes, sha256 } = await sha256Of(manifest);
    expect(collector.received(done({ bytes: bytes + 1, sha256 }))).toEqual({
      reason: `the manifest did not arrive whole (${bytes} of ${bytes + 1} bytes)`,
    });
    expect(collector.received(done({ bytes, sha256: '0'.repeat(64) }))).toMatchObject({
      reason: /did not arrive whole/,
    });
  });

  it('a malformed manifest key leaves the done line usable', () => {
    const line = encodeRestoreDone({ ...done(), manifest: { bytes: -1 } });
    expect(parseRestoreDone(line)).toMatchObject({ source: 'etc', manifest: undefined });
  });
});

describe('problemsText', () => {
  it(`lists ${SHOWN_PROBLEMS} problems and counts the rest; names are printable`, () => {
    const problems: TreeProblem[] = Array.from({ length: SHOWN_PROBLEMS + 5 }, (_, i) => ({
      path: `f${String(i).padStart(2, '0')}`,
      kind: 'missing',
      detail: 'f, 1 bytes',
    }));
    problems[0] = { path: 'a\nb\u0007', kind: 'extra', detail: 'not in the manifest' };
    const lines = problemsText(problems, 'Heading:').trimEnd().split('\n');
    expect(lines).toHaveLength(SHOWN_PROBLEMS + 2);
    expect(lines[1]).toBe('  extra a\\nb\\x07: not in the manifest');
    expect(lines.at(-1)).toBe('  … and 5 more');
  });

  it('printable leaves ordinary text alone', () => {
    expect(printable('etc/ssh/sshd_config é')).toBe('etc/ssh/sshd_config é');
  });
});
