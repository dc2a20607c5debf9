import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { createAuth, triggerBackup } from '../../lib/api/admin/commands.js';
import { openDatabase } from '../../lib/api/app.js';
import { contextFromSettings } from '../../lib/api/context.js';
import { createLogger } from '../../lib/api/logger.js';
import { parseSettings } from '../../lib/api/settings.js';
import { randomAlphanumeric } from '../../lib/common/random.js';
import { storageSshdSettings } from '../../lib/storage/sshd-settings.js';
import { startApiProcess, type ServerProcess } from '../api/api-process.js';
import { bundlePrograms } from '../datapath/world.js';
import { startPlainSshd, startSshd, type Sshd } from '../datapath/sshd.js';
import { killAll, mustRun, processTree, run, type Finished } from '../harness/processes.js';
import { createFleet, inBatches, type Fleet } from './netns.js';

/**
 * The fleet benchmark's deployment: turku-api (the real `turku-api serve`, a process of its own as
 * under its systemd unit; this process only writes to its database, to register and to make
 * sources due, before the timed part) and one storage unit behind its
 * own sshd on the bridge's address, the storage machine's ordinary sshd for the bare reference,
 * and N agent machines, each a namespace with its own configuration, state, key and source. The
 * programs are the bundles a packed charm installs, built as the data-path benchmark builds them
 * (bench/datapath/world.ts), and run with a systemd unit's environment, nothing of this shell's.
 */

/** What a systemd unit gives a program: no variable of the caller (NODE_EXTRA_CA_CERTS least of all). */
export const UNIT_ENV = [
  'env',
  '-i',
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'LANG=C.UTF-8',
];

export interface Agent {
  readonly index: number;
  readonly netns: string;
  readonly configDir: string;
  readonly source: string;
  uuid: string;
}

export interface Deployment {
  readonly fleet: Fleet;
  readonly api: ServerProcess;
  readonly storageSshd: Sshd;
  readonly plainSshd: Sshd & { readonly ssh: string };
  /** `<storage var_dir>/machines`. */
  readonly machinesDir: string;
  readonly storageLog: string;
  readonly agents: readonly Agent[];
  /** turku-agent-ping of one agent, in its namespace, with a unit's environment. */
  ping(agent: Agent): Promise<Finished>;
  /** The bare reference: `rsync -a` of the agent's source to `dest` on the storage machine, over ssh. */
  bareCopy(agent: Agent, dest: string): Promise<Finished>;
  /** Makes the agent's source due. */
  trigger(agent: Agent): Promise<void>;
  close(): Promise<void>;
}

export interface DeploymentOptions {
  readonly root: string;
  readonly agents: number;
  /** `max_concurrent_backups`, or undefined for the storage's default. */
  readonly slots: number | undefined;
  /** Agent k's source directory. */
  readonly sourceOf: (index: number) => string;
}

export async function createDeployment(options: DeploymentOptions): Promise<Deployment> {
  const { root } = options;
  const programs = await bundlePrograms(join(root, 'programs'));
  const node = (program: string, args: readonly string[]) => [process.execPath, programs[program] ?? '', ...args];
  const fleet = await createFleet(options.agents);
  const address = fleet.hostAddress;
  // Info, for its "listening on" line; it logs no line per request at that level.
  const apiConfig = { listen: `${address}:0`, database_path: join(root, 'api.db'), log_level: 'info' };
  const apiSettings = parseSettings(apiConfig);
  const db = await openDatabase(apiSettings);
  const admin = contextFromSettings(db, apiSettings, createLogger('warning'));
  const [machineAuth, storageAuth] = [await createAuth(admin, 'machine_reg'), await createAuth(admin, 'storage_reg')];
  await writeFile(join(root, 'api.json'), JSON.stringify(apiConfig));
  const api = await startApiProcess(join(root, 'api.json'));

  const storageDir = join(root, 'storage');
  const storageConfigDir = join(storageDir, 'etc');
  const varDir = join(storageDir, 'var');
  const keysFile = join(storageDir, 'ssh', 'authorized_keys');
  await mkdir(join(storageConfigDir, 'config.d'), { recursive: true });
  await mkdir(join(storageDir, 'volume'), { recursive: true });
  const storageSshd = await startSshd(
    join(storageDir, 'sshd'),
    address,
    storageSshdSettings({ authorizedKeysFile: keysFile, pingUser: 'root', logLevel: 'INFO' }),
  );
  const plainSshd = await startPlainSshd(join(storageDir, 'plain-sshd'), address);
  const storageLog = join(storageDir, 'storage.log');
  const storageConfig: Record<string, unknown> = {
    name: 'fleet-storage',
    secret: randomAlphanumeric(30),
    api_url: api.url,
    api_auth_name: storageAuth.name,
    api_auth_secret: storageAuth.secret,
    volumes: { main: { path: join(storageDir, 'volume') } },
    ssh_ping_host: address,
    ssh_ping_port: storageSshd.port,
    ssh_ping_user: 'root',
    ssh_ping_host_keys_glob: storageSshd.hostKeyGlob,
    authorized_keys_file: keysFile,
    authorized_keys_user: 'root',
    authorized_keys_command: node('turku-storage-ping', ['--config-dir', storageConfigDir]).join(' '),
    lock_dir: storageDir,
    log_file: storageLog,
    var_dir: varDir,
    ...(options.slots === undefined ? {} : { max_concurrent_backups: options.slots }),
  };
  await writeFile(join(storageConfigDir, 'config.d', '10-storage.json'), JSON.stringify(storageConfig));
  const storageUpdateConfig = () =>
    mustRun([...UNIT_ENV, ...node('turku-storage-update-config', ['--config-dir', storageConfigDir])]);

  const agents: Agent[] = [];
  for (const [index, netns] of fleet.namespaces.entries()) {
    const dir = join(root, 'agents', String(index));
    const configDir = join(dir, 'etc');
    await mkdir(join(configDir, 'config.d'), { recursive: true });
    await mkdir(join(configDir, 'sources.d'), { recursive: true });
    const agentConfig = {
      api_url: api.url,
      api_auth_name: machineAuth.name,
      api_auth_secret: machineAuth.secret,
      var_dir: join(dir, 'var'),
      lock_dir: dir,
      service_name: 'fleet',
      unit_name: `fleet/${index}`,
      restore_path: join(dir, 'restore'),
    };
    await writeFile(join(configDir, 'config.d', '10-agent.json'), JSON.stringify(agentConfig));
    const source = options.sourceOf(index);
    // Weekly, every snapshot kept: a backup happens only when the benchmark triggers it.
    const sources = { data: { path: source, frequency: 'weekly', retention: 'last 1000 snapshots' } };
    await writeFile(join(configDir, 'sources.d', 'fleet.json'), JSON.stringify(sources));
    agents.push({ index, netns, configDir, source, uuid: '' });
  }

  // Registration: the storage, every machine, then the storage authorizes their keys.
  await storageUpdateConfig();
  await inBatches(
    agents,
    async (agent) => {
      const argv = [...UNIT_ENV, ...node('turku-update-config', ['--config-dir', agent.configDir])];
      await mustRun(argv, { netns: agent.netns, timeoutMs: 120_000 });
      const state = join(root, 'agents', String(agent.index), 'var', 'config.d', '10-machine_uuid.json');
      agent.uuid = (JSON.parse(await readFile(state, 'utf8')) as { machine_uuid: string }).machine_uuid;
    },
    4,
  );
  await storageUpdateConfig();

  return {
    fleet,
    api,
    storageSshd,
    plainSshd,
    machinesDir: join(varDir, 'machines'),
    storageLog,
    agents,
    ping: (agent) =>
      run([...UNIT_ENV, ...node('turku-agent-ping', ['--config-dir', agent.configDir])], {
        netns: agent.netns,
        timeoutMs: 3_600_000,
      }),
    bareCopy: (agent, dest) =>
      run([...UNIT_ENV, 'rsync', '-a', '-e', plainSshd.ssh, `${agent.source}/`, `root@${address}:${dest}/`], {
        netns: agent.netns,
        timeoutMs: 3_600_000,
      }),
    trigger: (agent) => triggerBackup(admin, agent.uuid, 'data'),
    close: async () => {
      await api.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
      fleet.remove();
      killAll(processTree(storageSshd.pid));
      killAll(processTree(plainSshd.pid));
    },
  };
}
