import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createAuth, triggerBackup } from '../../lib/api/admin/commands.js';
import { startApi, type RunningApi } from '../../lib/api/app.js';
import { createLogger } from '../../lib/api/logger.js';
import { type WorkloadProgram } from '../../lib/charm-host/workload.js';
import { workloadFiles } from '../../lib/charm-pack/workload.js';
import { storageSshdSettings } from '../../lib/storage/sshd-settings.js';
import { parseSettings } from '../../lib/api/settings.js';
import { randomAlphanumeric } from '../../lib/common/random.js';

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
const NETNS_PREFIX = 'turku-bench-';
const SSHD = '/usr/sbin/sshd';
const SAFE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' };

const FIREWALL_RULES = [
  '*filter',
  ':INPUT DROP [0:0]',
  ':FORWARD DROP [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  'COMMIT',
  '',
].join('\n');

// ---- processes, and the exit hook ----------------------------------------------------------

const exitActions = new Set<() => void>();
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const action of [...exitActions].reverse()) {
    try {
      action();
    } catch {
      // best effort
    }
  }
});

export interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit (and closed output), seconds. */
  readonly seconds: number;
}

/** Runs a command to its end; `netns` runs it inside that network namespace (`ip netns exec`). */
export function run(
  argv: readonly string[],
  options: { readonly netns?: string; readonly input?: string; readonly timeoutMs?: number } = {},
): Promise<Finished> {
  const full = options.netns === undefined ? argv : ['ip', 'netns', 'exec', options.netns, ...argv];
  const [file, ...args] = full;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(file!, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    children.add(child);
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-200_000);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      const seconds = (performance.now() - start) / 1000;
      clearTimeout(timer);
      children.delete(child);
      resolve({
        code: code ?? (signal === null ? -1 : -128),
        stdout: Buffer.concat(out).toString(),
        stderr: err,
        seconds,
      });
    });
  });
}

async function mustRun(argv: readonly string[], options: Parameters<typeof run>[1] = {}): Promise<Finished> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    throw new Error(`${argv.join(' ')} failed (${result.code}):\n${result.stderr.slice(-4000)}${result.stdout}`);
  }
  return result;
}

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? 'X');
  } catch {
    return false;
  }
}

/** pid and all its descendants, from /proc. */
function processTree(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found = [pid];
  for (let i = 0; i < found.length; i++) found.push(...(byParent.get(found[i]!) ?? []));
  return found;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function quietSync(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

// ---- the agent's network namespace ---------------------------------------------------------

interface Namespace {
  readonly name: string;
  readonly hostAddress: string;
  readonly hostInterface: string;
}

function removeNamespaceSync(ns: Namespace): void {
  const pids = quietSync(['ip', 'netns', 'pids', ns.name]).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) killAll(processTree(pid));
  quietSync(['ip', 'netns', 'del', ns.name]);
  quietSync(['ip', 'link', 'del', ns.hostInterface]);
}

/** Removes namespaces and directories of benchmark runs whose process is gone (killed runs). */
function sweepLeftovers(): void {
  for (const line of quietSync(['ip', 'netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = new RegExp(`^${NETNS_PREFIX}(\\d+)$`).exec(name);
    if (match !== null && !isAlive(Number(match[1]))) {
      removeNamespaceSync({ name, hostAddress: '', hostInterface: `tb${match[1]}h` });
    }
  }
  for (const entry of readdirSync(ROOT_BASE)) {
    const match = /^run\.(\d+)\./.exec(entry);
    if (match !== null && !isAlive(Number(match[1]))) rmSync(join(ROOT_BASE, entry), { recursive: true, force: true });
  }
}

/** A /30 in 10.64-254.x.x that no route or address of the root namespace overlaps (a /24 check). */
function freeSubnet(): { hostAddress: string; nsAddress: string } {
  const used = quietSync(['ip', '-4', 'route', 'show', 'table', 'all']) + quietSync(['ip', '-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const x = randomInt(64, 255);
    const y = randomInt(0, 256);
    if (!used.includes(`10.${x}.${y}.`)) {
      return { hostAddress: `10.${x}.${y}.1`, nsAddress: `10.${x}.${y}.2` };
    }
  }
  throw new Error('No free 10.x.y.0/30 subnet for the agent namespace');
}

async function createNamespace(): Promise<Namespace> {
  const { hostAddress, nsAddress } = freeSubnet();
  const ns: Namespace = { name: `${NETNS_PREFIX}${process.pid}`, hostAddress, hostInterface: `tb${process.pid}h` };
  const nsInterface = `tb${process.pid}n`;
  exitActions.add(() => removeNamespaceSync(ns));
  await mustRun(['ip', 'netns', 'add', ns.name]);
  await mustRun(['ip', 'link', 'add', ns.hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', ns.name]);
  await mustRun(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', ns.hostInterface]);
  await mustRun(['ip', 'link', 'set', ns.hostInterface, 'up']);
  await mustRun(['ip', '-n', ns.name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsInterface]);
  await mustRun(['ip', '-n', ns.name, 'link', 'set', nsInterface, 'up']);
  await mustRun(['ip', '-n', ns.name, 'link', 'set', 'lo', 'up']);
  await mustRun(['ip', '-n', ns.name, 'route', 'add', 'default', 'via', hostAddress]);
  for (const restore of ['iptables-restore', 'ip6tables-restore']) {
    await mustRun([restore, '-w', '5'], { netns: ns.name, input: FIREWALL_RULES });
  }
  return ns;
}

// ---- the storage's sshd --------------------------------------------------------------------

interface Sshd {
  readonly port: number;
  readonly hostKeyGlob: string;
  readonly pid: number;
  log(): string;
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: address, exclusive: true }, () => {
      const bound = server.address();
      server.close(() => (typeof bound === 'object' && bound !== null ? resolve(bound.port) : reject(new Error())));
    });
  });
}

/** `/usr/sbin/sshd -D -e` with `settings` after its address, host key and pid file, once it listens. */
async function startSshd(dir: string, address: string, settings: readonly string[]): Promise<Sshd> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await mustRun(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'turku-bench-sshd', '-f', hostKey]);
  // sshd runs every command (rsync's server, the forced command) through the user's shell, and
  // bash reads ~/.bashrc when sshd starts it. Sessions get an empty HOME, so neither side pays for
  // this machine's root dotfiles (a `pyenv init` there costs about 0.6 s per login); the storage
  // charm's ping user has /bin/sh and no dotfiles.
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o755 });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(address);
    const config = [
      `ListenAddress ${address}:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `SetEnv HOME=${home}`,
      ...settings,
      '',
    ].join('\n');
    const configFile = join(dir, 'sshd_config');
    await writeFile(configFile, config, { mode: 0o644 });
    const child = spawn(SSHD, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: SAFE_ENV });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`Cannot run ${SSHD}`);
    const killTree = () => killAll(processTree(pid));
    exitActions.add(killTree);
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-100_000)));
    let status: string | undefined;
    child.once('exit', (code, signal) => (status = signal ?? `exit code ${String(code)}`));
    const deadline = Date.now() + 15_000;
    while (!log.includes(`Server listening on ${address} port ${port}.`) && status === undefined) {
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (log.includes(`Server listening on ${address} port ${port}.`) && status === undefined) {
      return { port, pid, hostKeyGlob: join(dir, 'ssh_host_*_key.pub'), log: () => log };
    }
    killTree();
    exitActions.delete(killTree);
    if (attempt < 3 && /Address already in use|Cannot bind any address/.test(log)) continue;
    throw new Error(`sshd did not start (${status ?? 'timeout'}):\n${log.slice(-4000)}`);
  }
}

/**
 * The storage host's ordinary sshd, for the bare baseline: what an operator would use to copy the
 * data by hand, root logging in with a key (OpenSSH's defaults otherwise, ciphers included).
 * Returns the `ssh` command line for `rsync -e`, with the host key pinned.
 */
async function startPlainSshd(dir: string, address: string): Promise<Sshd & { readonly ssh: string }> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const clientKey = join(dir, 'client_ed25519');
  await mustRun(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'turku-bench-bare', '-f', clientKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const sshd = await startSshd(dir, address, [
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes yes',
    'UseDNS no',
  ]);
  const hostKey = (await readFile(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `[${address}]:${sshd.port} ${hostKey}\n`, { mode: 0o600 });
  const ssh = [
    'ssh',
    `-i ${clientKey}`,
    `-p ${sshd.port}`,
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=yes',
    `-o UserKnownHostsFile=${knownHosts}`,
  ].join(' ');
  return { ...sshd, ssh };
}

const PROGRAMS: readonly WorkloadProgram[] = [
  'turku-update-config',
  'turku-agent-ping',
  'turku-storage-update-config',
  'turku-storage-ping',
];

/** Writes `<dir>/<program>.cjs`, the bundles a packed charm carries; returns their paths. */
async function bundlePrograms(dir: string): Promise<Record<string, string>> {
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
  /** `<storage var_dir>/machines/<uuid>`, through its symlink. */
  readonly machineDir: string;
  readonly storageLog: string;
  readonly agentDir: string;
  /** turku-agent-ping with these arguments, inside the agent's namespace. */
  ping(...args: string[]): Promise<Finished>;
  /**
   * The bare way to copy between the two machines: `rsync -a FROM TO` from the agent's namespace,
   * over ssh to the storage host's ordinary sshd (root's key, no forced command); one of FROM
   * and TO is `root@<storage>:<path>`, see `remote`.
   */
  rsyncOverSsh(from: string, to: string): Promise<Finished>;
  /** `root@<storage address>:<path>` for rsyncOverSsh. */
  remote(path: string): string;
  /** The bundled turku-agent-ping. */
  readonly agentPingProgram: string;
  /** Makes a source due now, as `turku-api trigger` does. */
  trigger(source: string): Promise<void>;
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
  sweepLeftovers();
  const root = await mkdtemp(join(ROOT_BASE, `run.${process.pid}.`));
  await chmod(root, 0o755);
  exitActions.add(() => rmSync(root, { recursive: true, force: true, maxRetries: 3 }));
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
    }),
  );
  const storageUpdateConfig = () =>
    mustRun([process.execPath, program('turku-storage-update-config'), '--config-dir', storageConfigDir]);

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
  await mustRun(agentProgram('turku-update-config', []), { netns: ns.name, timeoutMs: 60_000 });
  const uuid = (
    JSON.parse(await readFile(join(agentVarDir, 'config.d', '10-machine_uuid.json'), 'utf8')) as {
      machine_uuid: string;
    }
  ).machine_uuid;
  await storageUpdateConfig();

  let destroying: Promise<void> | undefined;
  return {
    root,
    netns: ns.name,
    hostAddress,
    api,
    uuid,
    sshdPort: sshd.port,
    remote: (path) => `root@${hostAddress}:${path}`,
    machineDir: join(storageVarDir, 'machines', uuid),
    storageLog,
    agentDir,
    ping: (...args) => run(agentProgram('turku-agent-ping', args), { netns: ns.name, timeoutMs: 900_000 }),
    rsyncOverSsh: (from, to) => run(['rsync', '-a', '-e', plain.ssh, from, to], { netns: ns.name, timeoutMs: 900_000 }),
    trigger: (source) => triggerBackup(api.ctx, uuid, source),
    agentPingProgram: program('turku-agent-ping'),
    destroy: () =>
      (destroying ??= (async () => {
        await api.close().catch(() => undefined);
        removeNamespaceSync(ns);
        killAll(processTree(sshd.pid));
        killAll(processTree(plain.pid));
        await rm(root, { recursive: true, force: true, maxRetries: 3 });
        exitActions.clear();
      })()),
  };
}
