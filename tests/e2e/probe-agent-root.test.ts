import { jest } from '@jest/globals';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import {
  createWorld,
  type AgentUnit,
  type RunResult,
  type StorageUnit,
  type World,
} from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';
import { describeTree, type Entry } from '../support/trees.js';

/**
 * Agents can never delete or change stored data (docs/security.md, "The agent machine's root
 * against the stored data"). The agent machine's root, in its own network namespace with the
 * agent's SSH key, tries what it can: other commands over the key, hostile requests on the forced
 * command's stdin, and a hostile rsync daemon in place of the agent's (symlinks pointing out of
 * the tree, a tree that changes between the storage's dry run and its pull, an emptied source with
 * a retention policy that would keep only that empty snapshot). After each, every snapshot stored
 * before is byte-identical, and nothing outside the machine's directory was written.
 */

jest.setTimeout(600_000);

const SNAPSHOT = /^data_\d{8}-\d{6}_[0-9a-f]{4}$/;

let world: World;
let storage: StorageUnit;
let mallory: AgentUnit;
let data: string;
let hostile: string;
let snapshots: string;
/** Every snapshot stored so far, as it was right after it was made, with its sidecar. */
const stored = new Map<string, { tree: Record<string, Entry>; sidecar: string }>();

beforeAll(async () => {
  world = await createWorld('agent-root');
  storage = await world.addStorage('primary', { immutable_snapshots: true, min_age: '7d' });
  mallory = await world.addAgent('mallory');
  data = join(world.root, 'data');
  await writeSampleTree(data);
  hostile = join(world.root, 'hostile');
  await mkdir(hostile);
  // The agent's root owns its rsync daemon: this one runs whatever `on-transfer` says before each
  // transfer (with the connection's number), and sends symlinks unmunged.
  const hook = join(hostile, 'hook');
  await writeFile(
    hook,
    `#!/bin/sh\n[ "$RSYNC_MODULE_NAME" = data ] || exit 0\n` +
      `n=$(( $(cat ${hostile}/count 2>/dev/null || echo 0) + 1 )); echo $n > ${hostile}/count\n` +
      `[ -x ${hostile}/on-transfer ] && ${hostile}/on-transfer "$n"\nexit 0\n`,
  );
  const wrapper = join(hostile, 'rsyncd');
  await writeFile(
    wrapper,
    `#!/bin/sh\nfor arg; do case "$arg" in --config=*) conf="\${arg#--config=}";; esac; done\n` +
      `{ printf 'munge symlinks = no\\npre-xfer exec = ${hook}\\n'; cat "$conf"; } > "$conf.new" && mv "$conf.new" "$conf"\n` +
      `exec rsync "$@"\n`,
  );
  await chmod(hook, 0o755);
  await chmod(wrapper, 0o755);
  await mallory.configure({ rsyncd_command: [wrapper] });
  await mallory.setSources({ data: { path: data } });
  expect((await storage.updateConfig()).exitCode).toBe(0);
  expect((await mallory.updateConfig()).exitCode).toBe(0);
  expect((await storage.updateConfig()).exitCode).toBe(0);
  snapshots = join(storage.machineDir(await mallory.uuid()), 'data.snapshots');
  await backup();
  await writeFile(join(data, 'conf', 'app.conf'), 'listen = 8081\n');
  await backup();
});

afterAll(async () => {
  // The snapshots are immutable: lift the flag, or the test's directory could not be removed.
  if (storage !== undefined) await execa('chattr', ['-R', '-f', '-i', storage.volume], { reject: false });
  await world?.destroy();
});

async function snapshotNames(): Promise<string[]> {
  return (await readdir(snapshots).catch(() => [])).filter((name) => SNAPSHOT.test(name)).sort();
}

/** One check-in with a backup due; returns the snapshot it made (and records it). */
async function backup(): Promise<string> {
  const { made, ping } = await checkIn();
  if (made === null) {
    const log = (await storage.localLog()).slice(-4000);
    throw new Error(`expected a new snapshot; agent: ${JSON.stringify(ping)}\n${log}`);
  }
  return made;
}

/** A check-in with a backup due, which may fail; the snapshot it made, if any, is recorded. */
async function checkIn(): Promise<{ made: string | null; ping: RunResult }> {
  const before = await snapshotNames();
  await world.trigger(mallory, 'data');
  const ping = await mallory.ping();
  const made = (await snapshotNames()).filter((name) => !before.includes(name));
  expect(made.length).toBeLessThanOrEqual(1);
  if (made.length === 0) return { made: null, ping };
  const name = made[0]!;
  stored.set(name, {
    tree: await describeTree(join(snapshots, name)),
    sidecar: await readFile(join(snapshots, `${name}.json`), 'utf8'),
  });
  return { made: name, ping };
}

/** Every snapshot recorded is still there, byte for byte, with its sidecar. */
async function expectEverySnapshotIntact(): Promise<void> {
  const names = await snapshotNames();
  for (const [name, { tree, sidecar }] of stored) {
    expect(names).toContain(name);
    expect([name, await describeTree(join(snapshots, name))]).toEqual([name, tree]);
    expect(await readFile(join(snapshots, `${name}.json`), 'utf8')).toBe(sidecar);
  }
}

/** The real ssh client on the agent's machine, with the agent's key and the pinned host key. */
async function sshAsAgent(args: string[], input = ''): Promise<RunResult> {
  const knownHosts = join(mallory.varDir, 'test_known_hosts');
  await writeFile(knownHosts, storage.sshd.hostPublicKeys.map((key) => `${world.hostAddress} ${key}\n`).join(''));
  const result = await mallory.host.exec(
    [
      'ssh',
      ...['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes'],
      ...['-i', join(mallory.varDir, 'ssh_key'), '-p', String(storage.sshd.port), '-l', 'root'],
      ...args,
    ],
    { input, timeout: 60_000 },
  );
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function onTransfer(script: string | null): Promise<void> {
  await rm(join(hostile, 'count'), { force: true });
  if (script === null) await rm(join(hostile, 'on-transfer'), { force: true });
  else await writeFile(join(hostile, 'on-transfer'), `#!/bin/sh\ncd ${data} || exit 1\n${script}`, { mode: 0o755 });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

test('the snapshots are immutable: even the storage root cannot rm -rf them by mistake', async () => {
  const [first] = await snapshotNames();
  const lsattr = await execa('lsattr', ['-d', join(snapshots, first!)]);
  expect(lsattr.stdout.split(' ')[0]).toContain('i');
  expect((await execa('rm', ['-rf', join(snapshots, first!)], { reject: false })).exitCode).not.toBe(0);
  await expectEverySnapshotIntact();
});

test('any command over the key runs the forced command instead; no subsystem, no rsync server', async () => {
  const attempts = [
    ['-T', world.hostAddress, `rm -rf ${storage.volume}`],
    ['-T', world.hostAddress, `chattr -R -i ${storage.volume}; rm -rf ${snapshots}`],
    ['-T', world.hostAddress, `rsync --server -logDtpre.iLsfxC --delete . ${snapshots}/`],
    ['-T', world.hostAddress, 'sh -c "echo pwned > /tmp/agent-root-was-here"'],
    ['-s', world.hostAddress, 'sftp'],
  ];
  for (const args of attempts) {
    const result = await sshAsAgent(args, 'not a request\n.\n');
    expect([args.join(' '), result.stdout]).not.toEqual([args.join(' '), expect.stringMatching(/uid=|pwned/)]);
  }
  expect(await exists('/tmp/agent-root-was-here')).toBe(false);
  await expectEverySnapshotIntact();
});

test('hostile requests on stdin: names that leave the machine, restores of paths, garbage', async () => {
  const credentials = { username: 'u', password: 'p' };
  const requests = [
    { port: 1, action: 'checkin', sources: { '../../..': credentials } },
    { port: 1, action: 'checkin', sources: { 'data/../..': credentials, '--delete': credentials, '/': credentials } },
    { port: 1, action: 'checkin', sources: { data: credentials } },
    { port: 1, action: 'restore', restore: { source: 'data', snapshot: '../../..', module: 'm', ...credentials } },
    { port: 1, action: 'restore', restore: { source: '../data', snapshot: '/', module: '--delete', ...credentials } },
    { port: 1, action: 'restore', restore: { source: 'data', snapshot: 'latest', module: 'm', ...credentials } },
  ];
  for (const request of requests) await sshAsAgent(['-T', world.hostAddress], `${JSON.stringify(request)}\n.\n`);
  await sshAsAgent(['-T', world.hostAddress], '{"port": 1, "sources": ');
  await sshAsAgent(['-T', world.hostAddress], `${'x'.repeat(200_000)}\n.\n`);
  await expectEverySnapshotIntact();
});

test('a hostile daemon: symlinks pointing out of the tree, then directories of those names', async () => {
  const volumeCanary = join(storage.volume, 'agent-root-was-here');
  await symlink('/', join(data, 'escape'));
  await symlink(storage.volume, join(data, 'volume'));
  await symlink('../../../../../../../../..', join(data, 'up'));
  await backup();
  await expectEverySnapshotIntact();
  // A storage that wrote through the symlinks it stored would write outside the snapshot now.
  for (const name of ['escape', 'volume', 'up']) {
    await rm(join(data, name));
    await mkdir(join(data, name));
    await writeFile(join(data, name, 'agent-root-was-here'), 'pwned\n');
  }
  await backup();
  expect(await exists('/agent-root-was-here')).toBe(false);
  expect(await exists(volumeCanary)).toBe(false);
  await expectEverySnapshotIntact();
  for (const name of ['escape', 'volume', 'up']) await rm(join(data, name), { recursive: true });
});

test.each([
  [
    'files the dry run found unchanged are rewritten in place, chmod-ed, or become a symlink to the base',
    `cp -p big.bin ${'${TMPDIR:-/tmp}'}/big.orig && printf EVIL | dd of=big.bin conv=notrunc 2>/dev/null && touch -r ${'${TMPDIR:-/tmp}'}/big.orig big.bin\n` +
      'chmod 777 run.sh\n' +
      'rm -f original && ln -s "$SNAPSHOTS/latest/original" original\n',
  ],
  ['the directory holding the changed file becomes a symlink to /', 'rm -rf conf && ln -s / conf\n'],
])('a hostile daemon: the tree changes between the dry run and the pull: %s', async (_what, mutation) => {
  // The dry run (connection 1) sees app.conf changed; before the pull (2) the agent's root changes the tree.
  await writeFile(join(data, 'conf', 'app.conf'), `listen = ${Date.now()}\n`);
  await onTransfer(`[ "$1" = 2 ] || exit 0\nSNAPSHOTS=${snapshots}\n${mutation}`);
  let made: string | null;
  try {
    ({ made } = await checkIn());
    // The hook did run before the pull: this is not a test of an ordinary backup.
    expect(Number(await readFile(join(hostile, 'count'), 'utf8'))).toBeGreaterThanOrEqual(2);
  } finally {
    await onTransfer(null);
  }
  // The first kind of change leaves the pull nothing to trip over: a snapshot is made.
  if (mutation.includes('EVIL')) expect(made).not.toBeNull();
  await expectEverySnapshotIntact();
  await rm(data, { recursive: true });
  await writeSampleTree(data);
});

test('an emptied source with a policy keeping only the newest snapshot: min_age keeps the recent history', async () => {
  for (const entry of await readdir(data)) await rm(join(data, entry), { recursive: true });
  await mallory.setSources({ data: { path: data, retention: 'last 1 snapshot' } });
  expect((await mallory.updateConfig()).exitCode).toBe(0);
  const before = await snapshotNames();
  const empty = await backup();
  expect(Object.keys(stored.get(empty)!.tree)).toEqual(['']);
  expect(await snapshotNames()).toEqual([...before, empty].sort());
  expect(await storage.localLog()).toMatch(/younger than min_age \(1w\), kept: data_/);
  await expectEverySnapshotIntact();
});
