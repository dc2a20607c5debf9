import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createAuth, listBackups, triggerBackup } from '../../lib/api/admin/commands.js';
import { startApi, type RunningApi } from '../../lib/api/app.js';
import { createLogger } from '../../lib/api/logger.js';
import { type WorkloadProgram } from '../../lib/charm-host/workload.js';
import { workloadFiles } from '../../lib/charm-pack/workload.js';
import { storageSshdSettings } from '../../lib/storage/sshd-settings.js';
import { parseSettings } from '../../lib/api/settings.js';
import { randomAlphanumeric } from '../../lib/common/random.js';
import { removeTreeWithImmutables } from '../../lib/common/remove-tree.js';
import { atExit, cancelExitActions } from '../harness/lifecycle.js';
import { type Finished, isAlive, killAll, mustRun, processTree } from '../harness/processes.js';
import { runInUnit, unitArgv } from './environment.js';
import { createNamespace, removeNamespaceSync, sweepNamespaces } from './netns.js';
import { startPlainSshd, startSshd } from './sshd.js';

/**
 * A one-machine Turku deployment for the data-path benchmark, built the way the end-to-end tests
 * build theirs (tests/support/datapath-world.ts, which is not compiled into dist/): turku-api in
 * this process on the host side of a veth link; a storage unit behind its own real sshd (own
 * config, host key and port, StrictModes on, root limited to the forced command); and the agent
 * in a network namespace whose firewall drops every inbound connection. The agent and storage
 * programs are the bundles a packed charm installs (lib/charm-pack), built at the start.
 *
 * Everything lives under /var/lib/turku-bench/run.<pid>.<random> (sshd's StrictModes refuses an
 * authorized_keys file under the world-writable /tmp). Cleanup: destroy(), and a synchronous exit
 * hook (for a crash or a signal) that kills what was started, deletes the namespace and the veth
 * and removes the directory; leftovers of a run that was killed outright are swept at the next
 * start.
 */

/** The repository, whose lib/ sources the programs are bundled from. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ROOT_BASE = '/var/lib/turku-bench';

const PROGRAMS: readonly WorkloadProgram[] = [
  'turku-update-config',
  'turku-agent-ping',
  'turku-storage-update-config',
  'turku-storage-ping',
  'turku-storage-admin',
];

/** Writes `<dir>/<program>.cjs`, the bundles a packed charm carries; returns their paths. */
export async function bundlePrograms(dir: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const paths: Record<string, string> = {};
  for (const file of await workloadFiles(REPO_ROOT, PROGRAMS)) {
    const path = join(dir, file.path.replace(/^workload\//, ''));
    await writeFile(path, file.data, { mode: 0o644 });
    paths[file.path.replace(/^workload\/|\.cjs$/g, '')] = path;
  }
  return paths;
}

// ---- the world -----------------------------------------------------------------------------

export interface SourceConfig {
  readonly path: string;
}

export interface World {
  readonly root: string;
  readonly netns: string;
  readonly hostAddress: string;
  readonly api: RunningApi;
  readonly uuid: string;
  readonly sshdPort: number;
  /** The storage unit's sshd and the storage host's ordinary sshd: the roots of the storage side's processes. */
  readonly sshdPids: readonly number[];
  /** `<storage var_dir>/machines/<uuid>`, through its symlink. */
  readonly machineDir: string;
  readonly storageLog: string;
  readonly agentDir: string;
  /** turku-agent-ping with these arguments, inside the agent's namespace. */
  ping(...args: string[]): Promise<Finished>;
  /**
   * The bare way to copy between the two machines: `rsync -a FROM TO` from the agent's namespace,
   * over ssh to the storage host's ordinary sshd (root's key, no forced command); one of FROM
   * and TO is `root@<storage>:<path>`, see `remote`. OpenSSH's default cipher unless `cipher` is given.
   */
  rsyncOverSsh(from: string, to: string, cipher?: string): Promise<Finished>;
  /** `root@<storage address>:<path>` for rsyncOverSsh. */
  remote(path: string): string;
  /** The bundled turku-agent-ping. */
  readonly agentPingProgram: string;
  /** Makes a source due now, as `turku-api trigger` does. */
  trigger(source: string): Promise<void>;
  /** Storage settings over the world's own, for the next sessions (`config.d/20-bench.json`). */
  configureStorage(settings: Record<string, unknown>): Promise<void>;
  /** The bundled turku-storage-admin on the storage's configuration, in a unit's environment. */
  storageAdmin(...args: string[]): Promise<Finished>;
  destroy(): Promise<void>;
}

/**
 * The run's private directory under /var/lib/turku-bench, whose whole path passes sshd's
 * StrictModes check; removed by the exit hook whatever happens.
 */
export async function makeBenchRoot(): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('The data-path benchmark needs root (network namespaces, sshd)');
  mkdirSync(ROOT_BASE, { recursive: true, mode: 0o755 });
  for (let path = ROOT_BASE; ; path = dirname(path)) {
    const stat = statSync(path);
    if ((stat.mode & 0o022) !== 0 || stat.uid !== 0) {
      throw new Error(`${path} is writable by others or not root's: sshd's StrictModes would refuse authorized_keys`);
    }
    if (path === dirname(path)) break;
  }
  sweepNamespaces();
  for (const entry of readdirSync(ROOT_BASE)) {
    const match = /^run\.(\d+)\./.exec(entry);
    if (match !== null && !isAlive(Number(match[1]))) removeTreeWithImmutables(join(ROOT_BASE, entry));
  }
  const root = await mkdtemp(join(ROOT_BASE, `run.${process.pid}.`));
  await chmod(root, 0o755);
  atExit(() => removeTreeWithImmutables(root));
  return root;
}

/** Sets up the deployment in `root` (from makeBenchRoot) and registers the storage and the machine. */
export async function createWorld(root: string, sources: Readonly<Record<string, SourceConfig>>): Promise<World> {
  const programs = await bundlePrograms(join(root, 'programs'));
  const program = (name: WorkloadProgram): string => programs[name] ?? '';
  const ns = await createNamespace();
  const hostAddress = ns.hostAddress;

  const api = await startApi(
    parseSettings({ listen: `${hostAddress}:0`, database_path: join(root, 'api.db'), log_level: 'warning' }),
    { log: createLogger('warning') },
  );
  const machineAuth = await createAuth(api.ctx, 'machine_reg');
  const storageAuth = await createAuth(api.ctx, 'storage_reg');

  // The storage unit.
  const storageDir = join(root, 'storage');
  const storageConfigDir = join(storageDir, 'etc');
  const storageVarDir = join(storageDir, 'var');
  const volume = join(storageDir, 'volume');
  await mkdir(join(storageConfigDir, 'config.d'), { recursive: true });
  await mkdir(volume, { recursive: true });
  const authorizedKeysFile = join(storageDir, 'ssh', 'authorized_keys');
  const sshd = await startSshd(
    join(storageDir, 'sshd'),
    hostAddress,
    storageSshdSettings({ authorizedKeysFile, pingUser: 'root', logLevel: 'INFO' }),
  );
  const plain = await startPlainSshd(join(storageDir, 'plain-sshd'), hostAddress);
  const storageLog = join(storageDir, 'storage.log');
  await writeFile(
    join(storageConfigDir, 'config.d', '10-storage.json'),
    JSON.stringify({
      name: 'bench-storage',
      secret: randomAlphanumeric(30),
      api_url: api.url,
      api_auth_name: storageAuth.name,
      api_auth_secret: storageAuth.secret,
      volumes: { main: { path: volume } },
      ssh_ping_host: hostAddress,
      ssh_ping_port: sshd.port,
      ssh_ping_user: 'root',
      ssh_ping_host_keys_glob: sshd.hostKeyGlob,
      authorized_keys_file: authorizedKeysFile,
      authorized_keys_user: 'root',
      authorized_keys_command: `${process.execPath} ${program('turku-storage-ping')} --config-dir ${storageConfigDir}`,
      var_dir: storageVarDir,
      lock_dir: storageDir,
      log_file: storageLog,
      // BENCH_IMMUTABLE=0 measures the same runs without the immutable flag (README, "Settings").
      immutable_snapshots: process.env.BENCH_IMMUTABLE !== '0',
    }),
  );
  const storageUpdateConfig = () =>
    mustRun(unitArgv([process.execPath, program('turku-storage-update-config'), '--config-dir', storageConfigDir]));

  // The agent.
  const agentDir = join(root, 'agent');
  const agentConfigDir = join(agentDir, 'etc');
  const agentVarDir = join(agentDir, 'var');
  await mkdir(join(agentConfigDir, 'config.d'), { recursive: true });
  await mkdir(join(agentConfigDir, 'sources.d'), { recursive: true });
  await writeFile(
    join(agentConfigDir, 'config.d', '10-agent.json'),
    JSON.stringify({
      api_url: api.url,
      api_auth_name: machineAuth.name,
      api_auth_secret: machineAuth.secret,
      var_dir: agentVarDir,
      lock_dir: agentDir,
      service_name: 'bench',
      unit_name: 'bench/0',
      restore_path: join(agentDir, 'restore'),
    }),
  );
  // Weekly, and every snapshot kept: nothing becomes due or is expired unless the benchmark asks.
  await writeFile(
    join(agentConfigDir, 'sources.d', 'bench.json'),
    JSON.stringify(
      Object.fromEntries(
        Object.entries(sources).map(([name, source]) => [
          name,
          { path: source.path, frequency: 'weekly', retention: 'last 1000 snapshots' },
        ]),
      ),
    ),
  );
  const agentProgram = (name: WorkloadProgram, args: readonly string[]) => [
    process.execPath,
    program(name),
    '--config-dir',
    agentConfigDir,
    ...args,
  ];

  // Registration: storage, machine (with its sources), then the storage authorizes the machine's key.
  await storageUpdateConfig();
  await mustRun(unitArgv(agentProgram('turku-update-config', []), { netns: ns.name }), { timeoutMs: 60_000 });
  const uuid = (
    JSON.parse(await readFile(join(agentVarDir, 'config.d', '10-machine_uuid.json'), 'utf8')) as {
      machine_uuid: string;
    }
  ).machine_uuid;
  await storageUpdateConfig();

  // A new source is first due at a point within 15 minutes of registering (docs/api.md, "A new
  // source's first backup is soon, not tomorrow"), which would fall in the middle of another
  // source's measurements and add its backup to one of them. So every source is backed up once now,
  // untimed; weekly, the next is days away. Full runs set these snapshots aside.
  for (const name of Object.keys(sources)) await triggerBackup(api.ctx, uuid, name);
  await mustRun(unitArgv(agentProgram('turku-agent-ping', []), { netns: ns.name }), { timeoutMs: 900_000 });
  const backedUp = new Set((await listBackups(api.ctx, 100)).filter((log) => log.success).map((log) => log.source));
  const missing = Object.keys(sources).filter((name) => !backedUp.has(name));
  if (missing.length > 0) throw new Error(`The first backup of ${missing.join(', ')} did not succeed`);

  let destroying: Promise<void> | undefined;
  return {
    root,
    netns: ns.name,
    hostAddress,
    api,
    uuid,
    sshdPort: sshd.port,
    sshdPids: [sshd.pid, plain.pid],
    remote: (path) => `root@${hostAddress}:${path}`,
    machineDir: join(storageVarDir, 'machines', uuid),
    storageLog,
    agentDir,
    ping: (...args) => runInUnit(agentProgram('turku-agent-ping', args), { netns: ns.name, timeoutMs: 900_000 }),
    rsyncOverSsh: (from, to, cipher) =>
      runInUnit(['rsync', '-a', '-e', cipher === undefined ? plain.ssh : `${plain.ssh} -c ${cipher}`, from, to], {
        netns: ns.name,
        timeoutMs: 900_000,
      }),
    trigger: (source) => triggerBackup(api.ctx, uuid, source),
    configureStorage: (settings) =>
      writeFile(join(storageConfigDir, 'config.d', '20-bench.json'), JSON.stringify(settings)),
    storageAdmin: (...args) =>
      runInUnit([process.execPath, program('turku-storage-admin'), ...args, '--config-dir', storageConfigDir], {
        timeoutMs: 900_000,
      }),
    agentPingProgram: program('turku-agent-ping'),
    destroy: () =>
      (destroying ??= (async () => {
        await api.close().catch(() => undefined);
        removeNamespaceSync(ns);
        killAll(processTree(sshd.pid));
        killAll(processTree(plain.pid));
        removeTreeWithImmutables(root);
        // All that the exit hook would undo is undone: its pids may belong to others by then.
        cancelExitActions();
      })()),
  };
}
