import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type Options, type Result, type ResultPromise } from 'execa';
import {
  isAlive,
  killTree,
  netnsArgv,
  onProcessExit,
  processIdentity,
  tcpOutcome,
  type TcpOutcome,
} from './processes.js';

/**
 * Test "machines" in their own network namespaces, for end-to-end tests of the no-ingress property
 * (docs/datapath.md, "A backup, step by step").
 *
 * Each isolated host gets a veth pair on a /30 of its own: `10.X.Y.1` on the root-namespace side (hostAddress, where
 * the test puts the storage's sshd and the API) and `10.X.Y.2` inside (nsAddress), `lo` up and a default route via the
 * host side. An iptables (and ip6tables) policy inside drops every inbound packet except on `lo` and those of
 * connections the namespace opened itself (conntrack ESTABLISHED,RELATED): processes inside can connect out, nobody can
 * connect in. IP forwarding in the root namespace is left as it is (off on test machines), so the namespace reaches
 * the host side and nothing beyond it.
 *
 * Names derive from the subnet (`turku-e2e-XXYY`, veths `te2e-XXYY-h`/`-n`), and a subnet is claimed by creating an
 * owner file under /run/turku-tests/netns exclusively, so concurrent jest workers never share one. Cleanup: destroy(),
 * an exit hook for hosts a test forgot, and a sweep (on the next createIsolatedHost) of namespaces whose owner
 * process is gone, for runs that were killed.
 */

/** execa options as the caller gave none (execa's own default type parameter). */
export type NoOptions = Record<never, never>;

/** Where a connection attempt starts: the root network namespace, or an isolated host's. */
export type NamespaceRef = 'root' | { readonly name: string };

export interface IsolatedHost {
  /** The network namespace (`ip netns exec <name> ...`). */
  readonly name: string;
  /** Root-namespace end of the veth: how the host is reached from inside (10.X.Y.1). */
  readonly hostAddress: string;
  /** Namespace end of the veth (10.X.Y.2). Nothing can connect to it from outside. */
  readonly nsAddress: string;
  readonly hostInterface: string;
  readonly nsInterface: string;
  /**
   * Runs a command inside the namespace through execa and returns its result. Unlike plain execa it does not reject
   * on a non-zero exit (read `exitCode`) unless the options say `reject: true`.
   */
  exec<const O extends Options = NoOptions>(argv: readonly string[], options?: O): Promise<Result<O>>;
  /**
   * Starts a long-running command inside the namespace and returns the execa subprocess (its pid is the command's own:
   * `ip netns exec` execs it). Same `reject: false` default as exec. destroy() kills it with its descendants.
   */
  spawn<const O extends Options = NoOptions>(argv: readonly string[], options?: O): ResultPromise<O>;
  /** Kills every process in the namespace, deletes it and the veth pair. Idempotent. */
  destroy(): Promise<void>;
}

export interface IsolatedHostOptions {
  /** Attempts at finding an unused subnet and names (default 20). */
  readonly attempts?: number;
}

const NAME_PREFIX = 'turku-e2e-';
const LINK_PREFIX = 'te2e-';
const OWNERS_DIR = '/run/turku-tests/netns';
const DEFAULT_ATTEMPTS = 20;

/**
 * Inbound: only loopback and replies to connections made from inside. FORWARD is dropped too (no routing through).
 * The agent machine of the data-path benchmark gets the same rules (bench/datapath/netns.ts).
 */
export const NO_INGRESS_RULES = [
  '*filter',
  ':INPUT DROP [0:0]',
  ':FORWARD DROP [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A INPUT -i lo -j ACCEPT',
  '-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  'COMMIT',
  '',
].join('\n');

export async function createIsolatedHost(options: IsolatedHostOptions = {}): Promise<IsolatedHost> {
  await sweepStaleHosts();
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const taken = await usedIpv4Networks();
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    // 10.64.0.0 - 10.254.255.0: stays clear of the 10.0.x.x networks that container and VM tools like to use.
    const x = randomInt(64, 255);
    const y = randomInt(0, 256);
    const network = ipv4ToNumber(`10.${x}.${y}.0`);
    if (taken.some((used) => overlaps(used, { base: network, bits: 30 }))) continue;
    const tag = x.toString(16).padStart(2, '0') + y.toString(16).padStart(2, '0');
    const names: HostNames = {
      name: `${NAME_PREFIX}${tag}`,
      hostInterface: `${LINK_PREFIX}${tag}-h`,
      nsInterface: `${LINK_PREFIX}${tag}-n`,
      hostAddress: `10.${x}.${y}.1`,
      nsAddress: `10.${x}.${y}.2`,
    };
    if (!claim(names.name)) continue;
    try {
      return await build(names);
    } catch (error) {
      lastError = error;
      release(names.name);
      if (!isNameClash(error)) throw error;
    }
  }
  throw new Error(`Could not set up an isolated network namespace in ${attempts} attempts`, { cause: lastError });
}

/** Whether a TCP connection from `from` to address:port succeeds within timeoutMs. */
export async function probeTcp(from: NamespaceRef, address: string, port: number, timeoutMs: number): Promise<boolean> {
  return (await probeTcpOutcome(from, address, port, timeoutMs)) === 'connected';
}

/** How a TCP connection attempt from `from` to address:port ends: a DROP rule shows as `timeout`. */
export function probeTcpOutcome(
  from: NamespaceRef,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<TcpOutcome> {
  return tcpOutcome(address, port, timeoutMs, from === 'root' ? {} : { netns: from.name });
}

interface HostNames {
  readonly name: string;
  readonly hostInterface: string;
  readonly nsInterface: string;
  readonly hostAddress: string;
  readonly nsAddress: string;
}

async function build(names: HostNames): Promise<IsolatedHost> {
  const { name, hostInterface, nsInterface, hostAddress, nsAddress } = names;
  // Undo only what this call created: a name clash must not take down someone else's namespace or link.
  const created = { netns: false, link: false };
  const unregister = onProcessExit(() => removeHostSync(names, created));
  try {
    await ip(['netns', 'add', name]);
    created.netns = true;
    await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', name]);
    created.link = true;
    await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface]);
    await ip(['link', 'set', hostInterface, 'up']);
    await ip(['-n', name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsInterface]);
    await ip(['-n', name, 'link', 'set', nsInterface, 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    await ip(['-n', name, 'route', 'add', 'default', 'via', hostAddress]);
    for (const restore of ['iptables-restore', 'ip6tables-restore']) {
      await execa('ip', netnsArgv(name, [restore, '-w', '5']), { input: NO_INGRESS_RULES });
    }
  } catch (error) {
    unregister();
    await removeHost(names, created);
    throw error;
  }

  const spawned = new Set<ResultPromise>();
  let destroying: Promise<void> | undefined;
  const destroy = async (): Promise<void> => {
    await Promise.all(
      [...spawned].map(async (subprocess) => {
        if (subprocess.pid !== undefined) await killTree(subprocess.pid, { graceMs: 2_000 });
      }),
    );
    await removeHost(names);
    release(name);
    unregister();
  };
  const start = (argv: readonly string[], options: Options | undefined): ResultPromise => {
    if (destroying !== undefined) throw new Error(`Isolated host ${name} is destroyed`);
    if (argv.length === 0) throw new Error('No command to run');
    return execa('ip', netnsArgv(name, argv), { reject: false, ...options }) as unknown as ResultPromise;
  };
  return {
    ...names,
    exec: async <const O extends Options = NoOptions>(argv: readonly string[], options?: O) =>
      (await start(argv, options)) as unknown as Result<O>,
    spawn: <const O extends Options = NoOptions>(argv: readonly string[], options?: O) => {
      const subprocess = start(argv, options);
      spawned.add(subprocess);
      const forget = (): void => void spawned.delete(subprocess);
      subprocess.then(forget, forget);
      return subprocess as unknown as ResultPromise<O>;
    },
    destroy: () => (destroying ??= destroy()),
  };
}

async function ip(args: readonly string[]): Promise<void> {
  await execa('ip', args, { stdin: 'ignore' });
}

function isNameClash(error: unknown): boolean {
  const stderr = (error as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' && /File exists|already exists/i.test(stderr);
}

/**
 * Claims a name by creating its owner file (holding this process's identity) atomically: written under a temporary
 * name, then hard-linked into place, which fails if the name is taken. Readers never see a half-written file.
 */
function claim(name: string): boolean {
  mkdirSync(OWNERS_DIR, { recursive: true, mode: 0o755 });
  const temporary = join(OWNERS_DIR, `.${name}.${process.pid}.${randomInt(1e9)}`);
  writeFileSync(temporary, `${processIdentity() ?? ''}\n`);
  try {
    linkSync(temporary, join(OWNERS_DIR, name));
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
}

function release(name: string): void {
  rmSync(join(OWNERS_DIR, name), { force: true });
}

interface Created {
  netns: boolean;
  link: boolean;
}

const EVERYTHING: Readonly<Created> = { netns: true, link: true };

/**
 * Kills what runs inside, deletes the namespace and the host end of the veth (deleting the namespace alone would also
 * take the veth pair away, but only once nothing holds the namespace any more). The owner file is the caller's.
 */
async function removeHost(names: HostNames, created: Readonly<Created> = EVERYTHING): Promise<void> {
  if (created.netns) {
    const pids = await execa('ip', ['netns', 'pids', names.name], { reject: false, stdin: 'ignore' });
    if (pids.exitCode === 0) {
      const inside = pids.stdout.split(/\s+/).filter(Boolean).map(Number);
      await Promise.all(inside.map((pid) => killTree(pid, { signal: 'SIGKILL' })));
    }
    await execa('ip', ['netns', 'del', names.name], { reject: false, stdin: 'ignore' });
  }
  if (created.link) await execa('ip', ['link', 'del', names.hostInterface], { reject: false, stdin: 'ignore' });
}

/** removeHost for the exit hook, synchronously; `ip netns pids` errors out when the namespace is already gone. */
function removeHostSync(names: HostNames, created: Readonly<Created>): void {
  const run = (args: string[]): string => {
    try {
      return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  };
  if (created.netns) {
    for (const pid of run(['netns', 'pids', names.name]).split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    run(['netns', 'del', names.name]);
  }
  if (created.link) run(['link', 'del', names.hostInterface]);
  release(names.name);
}

function namesFor(name: string): HostNames | undefined {
  const tag = name.slice(NAME_PREFIX.length);
  if (!name.startsWith(NAME_PREFIX) || !/^[0-9a-f]{4}$/.test(tag)) return undefined;
  const x = Number.parseInt(tag.slice(0, 2), 16);
  const y = Number.parseInt(tag.slice(2), 16);
  return {
    name,
    hostInterface: `${LINK_PREFIX}${tag}-h`,
    nsInterface: `${LINK_PREFIX}${tag}-n`,
    hostAddress: `10.${x}.${y}.1`,
    nsAddress: `10.${x}.${y}.2`,
  };
}

let swept = false;

/**
 * Removes namespaces left by test processes that died without cleaning up (SIGKILL, a crashed worker): those whose
 * owner file names a process that no longer runs, and ours with no owner file at all (a file is always created before
 * its namespace and removed after it). Once per module instance.
 */
async function sweepStaleHosts(): Promise<void> {
  if (swept) return;
  swept = true;
  // Namespaces first, owners second: an owner file exists before its namespace, so every namespace listed here that
  // is being set up right now already has its file when the owners are read.
  const listed = await execa('ip', ['netns', 'list'], { reject: false, stdin: 'ignore' });
  const namespaces = listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(NAME_PREFIX));
  const owners = new Map<string, string>();
  let entries: string[] = [];
  try {
    entries = readdirSync(OWNERS_DIR);
  } catch {
    // no owners directory yet
  }
  for (const entry of entries) {
    try {
      owners.set(entry, readFileSync(join(OWNERS_DIR, entry), 'utf8').trim());
    } catch {
      // released meanwhile
    }
  }
  const stale = new Set<string>();
  for (const [name, owner] of owners) if (!ownerAlive(owner)) stale.add(name);
  for (const name of namespaces) if (!owners.has(name)) stale.add(name);
  for (const name of stale) {
    const names = namesFor(name);
    if (names !== undefined) await removeHost(names);
    release(name);
  }
}

function ownerAlive(owner: string): boolean {
  const pid = Number(owner.split(' ')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  return processIdentity(pid) === owner;
}

interface Ipv4Network {
  readonly base: number;
  readonly bits: number;
}

/** IPv4 networks in use in the root namespace (routes of all tables and interface addresses), to stay clear of. */
async function usedIpv4Networks(): Promise<Ipv4Network[]> {
  const networks: Ipv4Network[] = [];
  const routes = await execa('ip', ['-4', 'route', 'show', 'table', 'all'], { reject: false, stdin: 'ignore' });
  const addresses = await execa('ip', ['-4', '-o', 'addr', 'show'], { reject: false, stdin: 'ignore' });
  const text = `${routes.stdout}\n${addresses.stdout}`;
  for (const match of text.matchAll(/\b(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?\b/g)) {
    const [, address = '', bits = '32'] = match;
    if (Number(bits) === 0) continue;
    networks.push({ base: ipv4ToNumber(address), bits: Number(bits) });
  }
  return networks;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + (Number(octet) & 255), 0);
}

function overlaps(a: Ipv4Network, b: Ipv4Network): boolean {
  const bits = Math.min(a.bits, b.bits);
  const size = 2 ** (32 - bits);
  return Math.floor(a.base / size) === Math.floor(b.base / size);
}
