import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { readManifest } from '../../lib/storage/manifest/files.js';
import type { VerifyProblem } from '../../lib/storage/verify/outcome.js';
import { createWorld, DIST, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';

/**
 * Manifests and verify through the whole data path (docs/datapath.md, "Manifests and verify"):
 * real backups from an agent in its network namespace, through the storage's sshd and rsync; the
 * storage records each snapshot's manifest, and the built turku-storage-admin checks snapshots
 * against it (and a Borg archive with `borg check --verify-data`).
 */

jest.setTimeout(180_000);

const FILES = 100;

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let vault: string;
let uuid: string;

beforeAll(async () => {
  world = await createWorld('verify');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  data = join(world.root, 'data');
  vault = join(world.root, 'vault');
  await writeSampleTree(data);
  await writeSampleTree(vault);
  await writeFiles(join(data, 'many'));
  // Random bytes borg cannot deduplicate or compress: most of the repository's segment data.
  await writeFile(join(vault, 'random.bin'), randomBytes(2 << 20));
  await agent.setSources({
    data: { path: data, preserve_hard_links: true },
    vault: { path: vault, snapshot_mode: 'borg' },
  });
  await world.register(storage, agent);
  uuid = await agent.uuid();
});
afterAll(() => world?.destroy());

async function writeFiles(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < FILES; i++) await writeFile(join(dir, `file-${i}`), `content of file ${i}\n`.repeat(50 + i));
}

const snapshotsDir = () => join(storage.machineDir(uuid), 'data.snapshots');

async function snapshotNames(): Promise<string[]> {
  return (await readdir(snapshotsDir())).filter((name) => /^data_\d{8}-\d{6}_[0-9a-f]{4}$/.test(name)).sort();
}

async function admin(...args: string[]) {
  const result = await execa(
    process.execPath,
    [join(DIST, 'storage', 'admin-main.js'), ...args, '--config-dir', storage.configDir],
    { reject: false, stdin: 'ignore', timeout: 120_000 },
  );
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

interface VerifyJson {
  readonly name: string;
  readonly mode: string;
  readonly checkedFiles: number;
  readonly checkedBytes: number;
  readonly complete: boolean;
  readonly problems: VerifyProblem[];
  readonly manifest?: { recorded: string };
}

async function verify(source: string, snapshot?: string) {
  const result = await admin('verify', uuid, source, ...(snapshot === undefined ? [] : [snapshot]), '--json');
  return { ...result, json: JSON.parse(result.stdout) as VerifyJson };
}

/** Files and symlinks of the source: what verify reads. */
const sourceFiles = FILES + 6 + 2; // sample tree: 6 files (two names of one), 2 symlinks

test('a full backup records a manifest; verify of the clean snapshot finds nothing', async () => {
  await world.backUp(agent, 'data');
  const [first] = await snapshotNames();
  const manifest = (await readManifest(join(snapshotsDir(), `${first!}.manifest.gz`)))!;
  expect(manifest.header).toMatchObject({ snapshot: first, recorded: 'backup', hashed: sourceFiles, reused: 0 });
  const result = await verify('data');
  expect(result).toMatchObject({ exitCode: 0, stderr: '' });
  expect(result.json).toMatchObject({ name: first, checkedFiles: sourceFiles, complete: true, problems: [] });
  expect(result.json.checkedBytes).toBeGreaterThan(512 * 1024);
  const table = await admin('verify', uuid, 'data');
  expect(table.stdout).toMatch(/^OK\n/);
});

test("an incremental hashes only what changed, reusing the base's hashes of shared inodes", async () => {
  await writeFile(join(data, 'many', 'file-7'), 'changed\n');
  await world.backUp(agent, 'data');
  const [, second] = await snapshotNames();
  const manifest = (await readManifest(join(snapshotsDir(), `${second!}.manifest.gz`)))!;
  // The changed file and the symlinks (always read: a few bytes each); every other file reused.
  expect(manifest.header).toMatchObject({ snapshot: second, hashed: 1 + 2, reused: sourceFiles - 3 });
  const result = await verify('data');
  expect(result).toMatchObject({ exitCode: 0, json: { name: second, checkedFiles: sourceFiles, problems: [] } });
  expect(await storage.localLog()).toMatch(/Recorded the manifest of data_\S+: \d+ entries, 3 files hashed/);
});

test('verify reports a flipped byte, a truncated file, a missing and an extra file, and exits 1', async () => {
  const [, second] = await snapshotNames();
  const tree = join(snapshotsDir(), second!);
  const flipped = await open(join(tree, 'many', 'file-3'), 'r+');
  const byte = Buffer.alloc(1);
  await flipped.read(byte, 0, 1, 10);
  byte[0] = byte[0]! ^ 0x01;
  await flipped.write(byte, 0, 1, 10);
  await flipped.close();
  const size = (await stat(join(tree, 'big.bin'))).size;
  await truncate(join(tree, 'big.bin'), 1000);
  await rm(join(tree, 'many', 'file-9'));
  await writeFile(join(tree, 'many', 'intruder'), 'not from the source\n');

  const result = await verify('data');
  expect(result.exitCode).toBe(1);
  expect(result.stderr.trim()).toBe(
    `turku-storage-admin: 4 problems in snapshot ${second!}: 1 size, 1 content, 1 missing, 1 extra`,
  );
  expect(result.json.problems).toEqual([
    { path: 'big.bin', kind: 'size', detail: `size ${size}, now 1000` },
    { path: 'many/file-3', kind: 'content', detail: expect.stringMatching(/^content differs \(sha256 [0-9a-f]{64}/) },
    { path: 'many/file-9', kind: 'missing', detail: expect.stringMatching(/^f, \d+ bytes$/) },
    { path: 'many/intruder', kind: 'extra', detail: 'not in the manifest (f, 20 bytes)' },
  ]);
  const table = await admin('verify', uuid, 'data');
  expect(table.exitCode).toBe(1);
  expect(table.stdout.split('\n')[0]).toBe(`4 problems in snapshot ${second!}: 1 size, 1 content, 1 missing, 1 extra`);
  expect(table.stdout).toMatch(/^content +many\/file-3 +content differs/m);
});

test('a snapshot without a manifest says so; one recorded after the fact then verifies', async () => {
  const [first] = await snapshotNames();
  await rm(join(snapshotsDir(), `${first!}.manifest.gz`));
  const missing = await verify('data', first);
  expect(missing.exitCode).toBe(1);
  expect(missing.json.problems).toEqual([
    { path: '', kind: 'no-manifest', detail: expect.stringContaining(`snapshot ${first!} has no manifest`) },
  ]);
  expect(missing.stderr.trim()).toBe(`turku-storage-admin: 1 problem in snapshot ${first!}: 1 no-manifest`);

  const recorded = await admin('manifest', uuid, 'data', first!, '--json');
  expect(recorded).toMatchObject({ exitCode: 0, stderr: '' });
  expect(JSON.parse(recorded.stdout)).toMatchObject({ name: first, recorded: 'after-the-fact' });
  const again = await admin('manifest', uuid, 'data', first!);
  expect(again).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('already has a manifest') });
  const checked = await verify('data', first);
  expect(checked).toMatchObject({ exitCode: 0, json: { problems: [], manifest: { recorded: 'after-the-fact' } } });
});

test('borg mode: borg check --verify-data passes, then finds a damaged segment', async () => {
  await world.backUp(agent, 'vault');
  const clean = await verify('vault');
  expect(clean).toMatchObject({ exitCode: 0, json: { mode: 'borg', complete: true, problems: [] } });

  // One flipped byte in the middle of the repository's largest segment.
  const data = join(storage.machineDir(uuid), 'vault.borg', 'data');
  const segments: { path: string; size: number }[] = [];
  for (const dir of await readdir(data)) {
    for (const name of await readdir(join(data, dir))) {
      const path = join(data, dir, name);
      segments.push({ path, size: (await stat(path)).size });
    }
  }
  const largest = segments.sort((a, b) => b.size - a.size)[0]!;
  const file = await open(largest.path, 'r+');
  const byte = Buffer.alloc(1);
  const at = Math.floor(largest.size / 2);
  await file.read(byte, 0, 1, at);
  byte[0] = byte[0]! ^ 0xff;
  await file.write(byte, 0, 1, at);
  await file.close();

  const damaged = await verify('vault');
  expect(damaged.exitCode).toBe(1);
  expect(damaged.json.problems).toEqual([{ path: '', kind: 'borg', detail: expect.stringContaining('borg check') }]);
});
