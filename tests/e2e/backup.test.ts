import { jest } from '@jest/globals';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { listBackups, listSources } from '../../lib/api/admin/commands.js';
import { createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';
import { describeTree, inodes } from '../support/trees.js';

/**
 * Backups and restores through the whole data path, with real processes: the agent in a
 * network namespace that drops inbound traffic, turku-api, and a storage behind its own sshd.
 * Every transfer runs through the agent's outbound SSH session and its reverse tunnel.
 */

jest.setTimeout(120_000);

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let vault: string;
let uuid: string;

beforeAll(async () => {
  world = await createWorld('backup');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  data = join(world.root, 'data');
  vault = join(world.root, 'vault');
  await writeSampleTree(data);
  await writeSampleTree(vault);
  await agent.setSources({
    etc: { path: data, retention: 'last 2 snapshots', preserve_hard_links: true },
    vault: { path: vault, snapshot_mode: 'borg', preserve_hard_links: true },
  });
});
afterAll(() => world?.destroy());

const snapshotsOf = async (source: string) =>
  (await readdir(join(storage.machineDir(uuid), `${source}.snapshots`))).filter(
    (name) => !/\.(json|manifest\.gz)$/.test(name),
  );

test('register: the storage and the machine register, and the storage authorizes the machine key', async () => {
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0, stderr: '' });
  const registered = await agent.updateConfig();
  expect(registered).toMatchObject({ exitCode: 0 });
  uuid = await agent.uuid();
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  const keys = await readFile(join(storage.dir, 'ssh', 'authorized_keys'), 'utf8');
  const publicKey = (await readFile(join(agent.varDir, 'ssh_key.pub'), 'utf8')).trim();
  const line = keys.split('\n').find((candidate) => candidate.includes(uuid));
  // Our agent asked for a tunnel port allowance: its key may listen on its own 4 ports only.
  expect(line).toMatch(/^restrict,port-forwarding,(permitlisten="localhost:\d+",){4}command="/);
  expect(line).toContain(`--config-dir ${storage.configDir} ${uuid}" ${publicKey} (app/0)`);
  // Nothing is due yet: a ping does nothing and succeeds.
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  expect(await listBackups(world.api.api.ctx)).toEqual([]);
});

test('first backup: a link-dest snapshot byte-identical to the source, hard links kept', async () => {
  await world.trigger(agent, 'etc');
  const ping = await agent.ping();
  expect(ping.exitCode).toBe(0);
  const [snapshot] = await snapshotsOf('etc').then((names) => names.filter((name) => name !== 'latest'));
  expect(snapshot).toMatch(/^etc_\d{8}-\d{6}_[0-9a-f]{4}$/);
  const snapshots = join(storage.machineDir(uuid), 'etc.snapshots');
  expect(await readlink(join(snapshots, 'latest'))).toBe(snapshot);
  const copy = await describeTree(join(snapshots, snapshot!));
  expect(copy).toEqual(await describeTree(data));
  expect(copy.hardlink?.linkGroup).toBe('hardlink');
  const sidecar = JSON.parse(await readFile(join(snapshots, `${snapshot}.json`), 'utf8')) as Record<string, unknown>;
  expect(sidecar).toMatchObject({ base: null, name: snapshot });
  const [log] = await listBackups(world.api.api.ctx, 1);
  expect(log).toMatchObject({ source: 'etc', success: true, snapshot, storage: 'primary' });
  const [source] = await listSources(world.api.api.ctx, uuid);
  expect(source).toMatchObject({ name: 'etc', success: true, failure_count: 0 });
  // The friendly name points at the machine.
  expect(await readlink(join(storage.varDir, 'machines', 'app-app_0'))).toBe(uuid);
});

test('incremental backup: only changed data moves; unchanged files are hard links to the base', async () => {
  const snapshots = join(storage.machineDir(uuid), 'etc.snapshots');
  const base = await readlink(join(snapshots, 'latest'));
  await writeFile(join(data, 'conf', 'app.conf'), 'listen = 9090\n');
  await world.trigger(agent, 'etc');
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  const latest = await readlink(join(snapshots, 'latest'));
  expect(latest).not.toBe(base);
  const before = await inodes(join(snapshots, base));
  const after = await inodes(join(snapshots, latest));
  expect(after['big.bin']).toBe(before['big.bin']);
  expect(after['run.sh']).toBe(before['run.sh']);
  expect(after['conf/app.conf']).not.toBe(before['conf/app.conf']);
  expect(await describeTree(join(snapshots, latest))).toEqual(await describeTree(data));
  // rsync's own list of what it transferred in this run names only the changed file.
  const log = await storage.localLog();
  const lastRun = log.slice(log.lastIndexOf('Running: '));
  expect(lastRun).toContain('conf/app.conf');
  expect(lastRun).not.toContain('big.bin');
  const [report] = await listBackups(world.api.api.ctx, 1);
  expect(report?.summary).toContain(`Base snapshot: ${base}`);
});

test('retention expires old snapshots after a successful backup', async () => {
  const snapshots = join(storage.machineDir(uuid), 'etc.snapshots');
  const before = (await snapshotsOf('etc')).filter((name) => name !== 'latest');
  expect(before).toHaveLength(2);
  // Names carry the time to the second only: two runs within one second do not sort by name.
  const newer = await readlink(join(snapshots, 'latest'));
  const older = before.find((name) => name !== newer)!;
  await world.trigger(agent, 'etc');
  const ping = await agent.ping();
  expect(ping).toMatchObject({ exitCode: 0 });
  const after = (await snapshotsOf('etc')).filter((name) => name !== 'latest');
  // Say why when the run made no snapshot (a failed run still exits 0 here).
  if (after.every((name) => before.includes(name))) {
    const log = (await storage.localLog()).slice(-4000);
    throw new Error(`the run made no snapshot; agent: ${JSON.stringify(ping)}\nstorage log:\n${log}`);
  }
  expect(after).toHaveLength(2);
  expect(after).not.toContain(older);
  expect(after).toContain(newer);
  expect(after).toContain(await readlink(join(snapshots, 'latest')));
  const [report] = await listBackups(world.api.api.ctx, 1);
  expect(report?.summary).toContain(`Removed old snapshot: ${older}`);
});

test('scripted restore brings the latest snapshot back byte-identical', async () => {
  const target = join(world.root, 'restored-etc');
  const restore = await agent.ping('--restore', '--restore-source', 'etc', '--restore-target', target);
  expect(restore).toMatchObject({ exitCode: 0 });
  expect(restore.stdout).toContain(`Restored etc`);
  const restored = await describeTree(target);
  const expected = await describeTree(data);
  // The target directory itself is created 0700 by the agent; its contents are what was saved.
  delete restored[''];
  delete expected[''];
  expect(restored).toEqual(expected);
});

test('borg mode: a deduplicated archive, and its scripted restore', async () => {
  await world.trigger(agent, 'vault');
  const ping = await agent.ping();
  expect(ping).toMatchObject({ exitCode: 0 });
  const [report] = await listBackups(world.api.api.ctx, 1);
  expect(report).toMatchObject({ source: 'vault', success: true });
  expect(report?.summary).toMatch(/^Archive stats: original \d+ bytes, deduplicated \d+ bytes\n/);
  const archives = await execa('borg', ['list', '--short', join(storage.machineDir(uuid), 'vault.borg')], {
    env: {
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_BASE_DIR: join(storage.varDir, 'borg'),
    },
    stdin: 'ignore',
  });
  expect(archives.stdout.trim()).toBe(report?.snapshot);

  const target = join(world.root, 'restored-vault');
  const restore = await agent.ping('--restore', '--restore-source', 'vault', '--restore-target', target);
  expect(restore).toMatchObject({ exitCode: 0 });
  const restored = await describeTree(target);
  const expected = await describeTree(vault);
  delete restored[''];
  delete expected[''];
  expect(restored).toEqual(expected);
});

test('interactive restore: the printed sample command works when run on the storage', async () => {
  const session = agent.spawnPing('--restore', '--restore-timeout', '90');
  let stdout = '';
  let stderr = '';
  session.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const sample = await new Promise<string>((resolve, reject) => {
    session.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^ {4}(RSYNC_PASSWORD=\S+ rsync -avzP --numeric-ids \$\{P\?\}\/ rsync:\/\/\S+)$/m.exec(stdout);
      if (match) resolve(match[1]!);
    });
    session.catch(reject);
  });
  expect(stdout).toContain(`Entering restore mode.\n\n`);
  expect(stdout).toContain(`Machine UUID: ${uuid}\n`);
  expect(stdout).toContain(`Storage unit: primary\n`);
  expect(stdout).toContain(`Local destination path: ${agent.restorePath}\n`);
  expect(stdout).toMatch(/\n {4}cd \/var\/lib\/turku-storage\/machines\/[0-9a-f-]{36}\/\n/);
  // The storage's "active" line arrives through ssh's stderr once the session is up.
  await waitFor(() => /primary\] INFO: Restore mode active on port \d+\. {2}Good luck\./.test(stderr));

  // On the storage: the operator's cd (this storage's var_dir), P, then the printed command.
  const operator = await execa(
    'bash',
    ['-c', `cd ${storage.machineDir(uuid)}/ && P=etc.snapshots/latest && ${sample}`],
    {
      reject: false,
    },
  );
  expect(operator.exitCode).toBe(0);
  // The printed sample command (-avzP) does not ask rsync to keep hard links; all else is kept.
  const withoutLinks = (tree: Awaited<ReturnType<typeof describeTree>>) => {
    delete tree[''];
    return Object.fromEntries(Object.entries(tree).map(([path, entry]) => [path, { ...entry, linkGroup: null }]));
  };
  session.kill('SIGTERM');
  const ended = await session.catch((error: unknown) => error as { exitCode?: number });
  expect(ended.exitCode).toBe(0);
  // The push lands in a staging directory, moved into the restore path when the session ends.
  expect(withoutLinks(await describeTree(agent.restorePath))).toEqual(withoutLinks(await describeTree(data)));
});

async function waitFor(predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
