import { jest } from '@jest/globals';
import { chmod, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { readManifestFile } from '../../lib/common/manifest-file.js';
import { manifestPath } from '../../lib/storage/manifest/files.js';
import {
  createWorld,
  DIST,
  type AgentUnit,
  type RunResult,
  type StorageUnit,
  type World,
} from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';

/**
 * Issue 20, item 4's last sentence, through the whole data path (the agent in a network namespace,
 * a storage behind its own sshd): `--verify` checks a restored tree against the manifest the
 * storage recorded for the snapshot (docs/datapath.md, "Verified restores"). The tests run in
 * order: the clean restores first, then the stored snapshot is damaged.
 */

jest.setTimeout(300_000);

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let snapshotsDir: string;
let snapshot: string;

beforeAll(async () => {
  world = await createWorld('restore-verify');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  const data = join(world.root, 'data');
  const vault = join(world.root, 'vault');
  for (const tree of [data, vault]) await writeSampleTree(tree);
  await agent.setSources({
    etc: { path: data, preserve_hard_links: true },
    vault: { path: vault, snapshot_mode: 'borg', preserve_hard_links: true },
  });
  await world.register(storage, agent);
  await world.backUp(agent, 'etc', 'vault');
  snapshotsDir = join(storage.machineDir(await agent.uuid()), 'etc.snapshots');
  snapshot = (await readdir(snapshotsDir)).find((name) => name.startsWith('etc_') && !name.includes('.'))!;
  expect(await readManifestFile(manifestPath(snapshotsDir, snapshot))).not.toBeNull();
});
afterAll(() => world?.destroy());

let targets = 0;
function freshTarget(): string {
  targets += 1;
  return join(world.root, 'targets', String(targets));
}

async function restore(...args: string[]): Promise<RunResult> {
  const argv = [process.execPath, join(DIST, 'agent', 'ping-main.js'), '--config-dir', agent.configDir, ...args];
  const result = await agent.host.exec(argv, { env: { TZ: 'UTC' }, timeout: 120_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

const lastErrorLine = (result: RunResult) => result.stderr.trimEnd().split('\n').at(-1);

test('a clean restore verifies: every entry of the manifest matches', async () => {
  const target = freshTarget();
  const result = await restore('--restore-source', 'etc', '--verify', '--restore-target', target);
  expect(result).toMatchObject({ exitCode: 0 });
  // 10 entries (conf, conf/empty, 2 files in conf, run.sh, big.bin, 2 symlinks, original, hardlink);
  // 8 of them files and symlinks, hashed.
  expect(result.stdout).toMatch(
    new RegExp(
      `^Verified against the manifest of ${snapshot}: 10 entries match, 8 files and symlinks hashed \\(\\d+ bytes\\)$`,
      'm',
    ),
  );
  expect(await readFile(join(target, 'conf', 'app.conf'), 'utf8')).toBe('listen = 8080\n');
});

test('with --restore-path only that part is checked, and a merge target’s own files are not looked at', async () => {
  const target = freshTarget();
  await restore('--restore-source', 'etc', '--restore-path', 'run.sh', '--restore-target', target);
  // The target now holds run.sh and its own file; the part restored into it is conf only.
  await writeFile(join(target, 'mine'), 'not from the snapshot\n');
  const result = await restore(
    '--restore-source',
    'etc',
    '--restore-path',
    'conf',
    '--verify',
    '--restore-merge',
    '--restore-target',
    target,
  );
  expect(result).toMatchObject({ exitCode: 0 });
  expect(result.stdout).toMatch(/^Verified against the manifest of \S+: 4 entries match, 2 files and symlinks hashed/m);
  expect((await readdir(target)).sort()).toEqual(['conf', 'mine', 'run.sh']);
});

test("an incremental whose manifest is a delta on its base's: the storage sends it whole, and it verifies", async () => {
  // Without preserve_hard_links the incremental is pulled onto a clone, and its manifest kept as a delta.
  const lean = join(world.root, 'lean');
  await writeSampleTree(lean);
  await agent.setSources({
    etc: { path: join(world.root, 'data'), preserve_hard_links: true },
    vault: { path: join(world.root, 'vault'), snapshot_mode: 'borg', preserve_hard_links: true },
    lean: { path: lean },
  });
  expect((await agent.updateConfig()).exitCode).toBe(0);
  await world.backUp(agent, 'lean');
  await writeFile(join(lean, 'conf', 'app.conf'), 'listen = 9090\n');
  await world.backUp(agent, 'lean');
  const leanSnapshots = join(storage.machineDir(await agent.uuid()), 'lean.snapshots');
  const deltas = (await readdir(leanSnapshots)).filter((name) => name.endsWith('.manifest-delta.gz'));
  expect(deltas).toHaveLength(1);
  const incremental = deltas[0]!.slice(0, -'.manifest-delta.gz'.length);

  const target = freshTarget();
  const result = await restore('--restore-source', 'lean', '--verify', '--restore-target', target);

  expect(result).toMatchObject({ exitCode: 0 });
  expect(result.stdout).toMatch(
    new RegExp(`^Verified against the manifest of ${incremental}: 10 entries match, 8 files and symlinks hashed`, 'm'),
  );
  expect(await readFile(join(target, 'conf', 'app.conf'), 'utf8')).toBe('listen = 9090\n');
  // A part of it: only that part's entries of the manifest made whole.
  const part = await restore(
    '--restore-source',
    'lean',
    '--restore-path',
    'conf',
    '--verify',
    '--restore-target',
    freshTarget(),
  );
  expect(part).toMatchObject({ exitCode: 0 });
  expect(part.stdout).toMatch(new RegExp(`^Verified against the manifest of ${incremental}: 4 entries match`, 'm'));
});

test('borg mode: said plainly, not verified, exit 1 (the files are restored all the same)', async () => {
  const target = freshTarget();
  const result = await restore('--restore-source', 'vault', '--verify', '--restore-target', target);
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toMatch(/^Not verified: the storage sent no manifest: borg mode keeps no manifest/m);
  expect(lastErrorLine(result)).toMatch(/^turku-agent-ping: Restored, but not verified: .*borg check --verify-data/);
  expect(await readFile(join(target, 'conf', 'app.conf'), 'utf8')).toBe('listen = 8080\n');
});

test('--verify needs --restore-source (exit 2)', async () => {
  const result = await restore('--restore', '--verify');
  expect(result).toMatchObject({ exitCode: 2, stderr: 'turku-agent-ping: --verify needs --restore-source' });
});

describe('a damaged snapshot', () => {
  beforeAll(async () => {
    // A byte flipped in a file (files stay writable in place; the directories are immutable).
    const file = await open(join(snapshotsDir, snapshot, 'big.bin'), 'r+');
    await file.write(Buffer.from([8]), 0, 1, 1000);
    await file.close();
    await chmod(join(snapshotsDir, snapshot, 'run.sh'), 0o700);
    // An entry added: the directory's immutable flag is lifted for it (where the volume has one).
    await execa('chattr', ['-i', join(snapshotsDir, snapshot)], { reject: false });
    await writeFile(join(snapshotsDir, snapshot, 'planted'), 'not backed up\n');
  });

  test('--verify names each problem and exits 1', async () => {
    const target = freshTarget();
    const result = await restore('--restore-source', 'etc', '--verify', '--restore-target', target);
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.split('\n');
    const start = lines.findIndex((line) => line.startsWith('Verify found '));
    expect(lines.slice(start, start + 4)).toEqual([
      `Verify found 3 problems against the manifest of ${snapshot}:`,
      expect.stringMatching(/^ {2}content big\.bin: content differs \(sha256 [0-9a-f]{64}, now [0-9a-f]{64}\)$/),
      '  extra planted: not in the manifest (f, 14 bytes)',
      '  metadata run.sh: mode 755, now 700',
    ]);
    expect(lastErrorLine(result)).toBe(
      "turku-agent-ping: The restored files do not match the snapshot's manifest: 3 problems (listed on stdout)",
    );
  });

  test('--restore-path checks only that part: conf is intact', async () => {
    const result = await restore(
      '--restore-source',
      'etc',
      '--restore-path',
      'conf',
      '--verify',
      '--restore-target',
      freshTarget(),
    );
    expect(result).toMatchObject({ exitCode: 0 });
    expect(result.stdout).toMatch(/^Verified against the manifest of \S+: 4 entries match/m);
  });

  test('a snapshot without a manifest: said, exit 1', async () => {
    await rm(manifestPath(snapshotsDir, snapshot));
    const result = await restore('--restore-source', 'etc', '--verify', '--restore-target', freshTarget());
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(
      new RegExp(
        `^Not verified: the storage sent no manifest: snapshot ${snapshot} has no manifest \\(taken before manifests`,
        'm',
      ),
    );
  });
});
