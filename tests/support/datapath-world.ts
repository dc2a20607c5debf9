import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa, type ResultPromise } from 'execa';

import { createAuth, triggerBackup } from '../../lib/api/admin/commands.js';
import { randomAlphanumeric } from '../../lib/common/random.js';
import { startTestApi, type TestApi } from './api-harness.js';
import { createIsolatedHost, type IsolatedHost } from './netns.js';
import { makeTestRoot, startSshd, type Sshd } from './sshd.js';

/**
 * A small Turku deployment made of real processes, for the end-to-end tests: turku-api on the
 * host side of a veth link, storage units each with their own sshd (own config, host keys and
 * port) and directories, and agent machines each in a network namespace that drops inbound
 * traffic. Programs run from `dist/` (npm test builds first) exactly as operators run them.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DIST = join(ROOT, 'dist', 'lib');

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface StorageUnit {
  readonly name: string;
  readonly dir: string;
  readonly configDir: string;
  readonly varDir: string;
  readonly volume: string;
  readonly sshd: Sshd;
  /** Rewrites the storage's config file with extra keys (merged over the defaults). */
  configure(extra: Record<string, unknown>): Promise<void>;
  updateConfig(): Promise<RunResult>;
  /** `<var_dir>/machines/<uuid>`, the machine directory through its symlink. */
  machineDir(uuid: string): string;
  localLog(): Promise<string>;
}

export interface AgentUnit {
  readonly name: string;
  readonly host: IsolatedHost;
  readonly configDir: string;
  readonly varDir: string;
  readonly restorePath: string;
  /** Writes `sources.d/<file>.json`. */
  setSources(sources: Record<string, Record<string, unknown>>, file?: string): Promise<void>;
  configure(extra: Record<string, unknown>): Promise<void>;
  uuid(): Promise<string>;
  updateConfig(...args: string[]): Promise<RunResult>;
  ping(...args: string[]): Promise<RunResult>;
  /** A long-running agent program (restore sessions), inside the agent's namespace. */
  spawnPing(...args: string[]): ResultPromise;
}

/** The API a world's units talk to: ours (the default) or a stand-in such as the original's stub. */
export interface WorldApi<Handle> {
  /** What tests get as `world.api`. */
  readonly handle: Handle;
  /** The `/v1` base agents and storages are configured with. */
  readonly url: string;
  readonly machineAuth: { readonly name: string; readonly secret: string };
  readonly storageAuth: { readonly name: string; readonly secret: string };
  /** Makes a machine's source due at its next check-in. */
  trigger(uuid: string, source: string): Promise<void>;
  close(): Promise<void>;
}

export interface World<Api = TestApi> {
  readonly root: string;
  readonly api: Api;
  /** The address agents and storages reach the API and sshd on (the host side of the link). */
  readonly hostAddress: string;
  addStorage(name: string, extra?: Record<string, unknown>): Promise<StorageUnit>;
  addAgent(name: string, extra?: Record<string, unknown>): Promise<AgentUnit>;
  /** Makes a source due at the agent's next check-in, as an operator's `turku-api trigger`. */
  trigger(agent: AgentUnit, source: string): Promise<void>;
  /**
   * Registers the storage, then the agent (which gets the storage assigned), then the storage
   * again so that it authorizes the agent's key; throws with the failing program's stderr.
   */
  register(storage: StorageUnit, agent: AgentUnit): Promise<void>;
  /** One backup of each source in turn: made due, then the agent's ping; throws with its stderr. */
  backUp(agent: AgentUnit, ...sources: string[]): Promise<void>;
  destroy(): Promise<void>;
}

export async function createWorld(prefix: string): Promise<World> {
  return createWorldAround(prefix, async (hostAddress) => {
    const api = await startTestApi('sqlite', { listen: `${hostAddress}:0` });
    api.clock = new Date();
    return {
      handle: api,
      url: api.url,
      machineAuth: await createAuth(api.api.ctx, 'machine_reg'),
      storageAuth: await createAuth(api.api.ctx, 'storage_reg'),
      async trigger(uuid, source) {
        // Each run gets its own API time, so backup logs sort in the order they happened.
        api.clock = new Date(Math.max(Date.now(), api.clock.getTime() + 1000));
        await triggerBackup(api.api.ctx, uuid, source);
      },
      close: () => api.close(),
    };
  });
}

/**
 * `count` agents `app<n>`, each registered with one source `data`: `<root>/data/<n>/blob`, `bytes`
 * random bytes. The storages learn their keys at their next update-config.
 */
export async function addBlobAgents<Api>(world: World<Api>, count: number, bytes: number): Promise<AgentUnit[]> {
  const agents: AgentUnit[] = [];
  for (let n = 0; n < count; n++) {
    const agent = await world.addAgent(`app${n}`);
    const data = join(world.root, 'data', String(n));
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'blob'), randomBytes(bytes));
    await agent.setSources({ data: { path: data } });
    const registered = await agent.updateConfig();
    if (registered.exitCode !== 0) throw new Error(`app${n}: update-config failed: ${registered.stderr}`);
    agents.push(agent);
  }
  return agents;
}

/** A world whose API `startApi` starts, listening on the given address (where agents reach it). */
export async function createWorldAround<Api>(
  prefix: string,
  startApi: (hostAddress: string) => Promise<WorldApi<Api>>,
): Promise<World<Api>> {
  const cleanups: (() => Promise<void>)[] = [];
  const testRoot = await makeTestRoot(prefix);
  cleanups.push(() => testRoot.cleanup());
  const root = testRoot.path;
  // The first agent host's link carries the API and every sshd; other agents route to it.
  const firstHost = await createIsolatedHost();
  cleanups.push(() => firstHost.destroy());
  let firstHostUsed = false;
  const hostAddress = firstHost.hostAddress;
  const api = await startApi(hostAddress);
  cleanups.push(() => api.close());
  const { machineAuth, storageAuth } = api;

  const world: World<Api> = {
    root,
    api: api.handle,
    hostAddress,

    async addStorage(name, extra = {}) {
      const dir = join(root, 'storage', name);
      const configDir = join(dir, 'etc');
      const varDir = join(dir, 'var');
      const volume = join(dir, 'volume');
      await mkdir(join(configDir, 'config.d'), { recursive: true });
      await mkdir(volume, { recursive: true });
      const authorizedKeysFile = join(dir, 'ssh', 'authorized_keys');
      const sshd = await startSshd({ dir: join(dir, 'sshd'), listenAddress: hostAddress, authorizedKeysFile });
      cleanups.push(() => sshd.stop());
      const base = {
        name,
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
        authorized_keys_command: `${process.execPath} ${join(DIST, 'storage', 'ping-main.js')} --config-dir ${configDir}`,
        var_dir: varDir,
        lock_dir: dir,
        log_file: join(dir, 'storage.log'),
        // The worlds' tests expire snapshots made seconds apart, under a temp dir removed after:
        // min_age and immutability are the tests' own to turn on (tests/e2e/probe-agent-root.test.ts).
        min_age: 0,
        immutable_snapshots: false,
      };
      const configure = async (more: Record<string, unknown>) => {
        await writeFile(join(configDir, 'config.d', '10-storage.json'), JSON.stringify({ ...base, ...extra, ...more }));
      };
      await configure({});
      return {
        name,
        dir,
        configDir,
        varDir,
        volume,
        sshd,
        configure,
        updateConfig: () =>
          run([process.execPath, join(DIST, 'storage', 'update-config-main.js'), '--config-dir', configDir]),
        machineDir: (uuid) => join(varDir, 'machines', uuid),
        localLog: () => readFile(join(dir, 'storage.log'), 'utf8').catch(() => ''),
      };
    },

    async addAgent(name, extra = {}) {
      let host = firstHost;
      if (firstHostUsed) {
        host = await createIsolatedHost();
        cleanups.push(() => host.destroy());
      }
      firstHostUsed = true;
      const dir = join(root, 'agent', name);
      const configDir = join(dir, 'etc');
      const varDir = join(dir, 'var');
      const restorePath = join(dir, 'restore');
      await mkdir(join(configDir, 'config.d'), { recursive: true });
      await mkdir(join(configDir, 'sources.d'), { recursive: true });
      const base = {
        api_url: api.url,
        api_auth_name: machineAuth.name,
        api_auth_secret: machineAuth.secret,
        var_dir: varDir,
        lock_dir: dir,
        service_name: name,
        unit_name: `${name}/0`,
        restore_path: restorePath,
      };
      const configure = async (more: Record<string, unknown>) => {
        await writeFile(join(configDir, 'config.d', '10-agent.json'), JSON.stringify({ ...base, ...extra, ...more }));
      };
      await configure({});
      const program = (file: string, args: string[]) => [
        process.execPath,
        join(DIST, 'agent', file),
        '--config-dir',
        configDir,
        ...args,
      ];
      return {
        name,
        host,
        configDir,
        varDir,
        restorePath,
        configure,
        async setSources(sources, file = 'sources') {
          await writeFile(join(configDir, 'sources.d', `${file}.json`), JSON.stringify(sources));
        },
        async uuid() {
          const state = JSON.parse(await readFile(join(varDir, 'config.d', '10-machine_uuid.json'), 'utf8')) as {
            machine_uuid: string;
          };
          return state.machine_uuid;
        },
        updateConfig: (...args) => hostRun(host, program('update-config-main.js', args)),
        ping: (...args) => hostRun(host, program('ping-main.js', args)),
        spawnPing: (...args) => host.spawn(program('ping-main.js', args)),
      };
    },

    async trigger(agent, source) {
      await api.trigger(await agent.uuid(), source);
    },

    async register(storage, agent) {
      succeeded(`${storage.name}: update-config`, await storage.updateConfig());
      succeeded(`${agent.name}: update-config`, await agent.updateConfig());
      succeeded(`${storage.name}: update-config`, await storage.updateConfig());
    },

    async backUp(agent, ...sources) {
      for (const source of sources) {
        await world.trigger(agent, source);
        succeeded(`${agent.name}: ping for ${source}`, await agent.ping());
      }
    },

    async destroy() {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    },
  };
  return world;
}

function succeeded(what: string, result: RunResult): void {
  if (result.exitCode !== 0) throw new Error(`${what} exited ${result.exitCode}: ${result.stderr.trim()}`);
}

async function run(argv: string[]): Promise<RunResult> {
  const result = await execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function hostRun(host: IsolatedHost, argv: string[]): Promise<RunResult> {
  // Bounded, so a hung session fails its test with the output so far instead of a bare timeout.
  const result = await host.exec(argv, { timeout: 60_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
