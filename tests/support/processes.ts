import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { execa, type Options, type ResultPromise } from 'execa';

/**
 * Small process and TCP helpers for the end-to-end tests: free ports, waiting for a listener, probing or reading a TCP
 * port (from the root network namespace or from inside a named one), running the built programs under `dist/`, and
 * killing a process together with everything it started.
 */

/** The repository root (this file is tests/support/processes.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
/** Where `npm run build` puts the compiled programs. */
export const DIST_DIR = join(REPO_ROOT, 'dist');

const POLL_INTERVAL_MS = 50;
const KILL_GRACE_MS = 5_000;

/**
 * A port that was free on `address` a moment ago, for a server the caller starts next. It is picked at random BELOW
 * the kernel's ephemeral range (net.ipv4.ip_local_port_range): ports in that range are what `listen(0)` hands out and
 * what every outgoing connection on the machine takes as its local port, so one picked there can be taken by any
 * busy process between this check and the caller's bind. Below it, only another explicit pick can collide: each
 * Jest worker picks from its own slice of that range, so tests running side by side never pick the same port (two
 * servers racing for one port made a test talk to another test's server, which then went away); within a worker the
 * random choice keeps a port apart from one a test just released. Callers that can tell "address in use" still
 * retry with a new port.
 */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const [low, high] = listenerPorts();
  for (let attempt = 0; high > low && attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if ((await tryListen(address, port)) !== undefined) return port;
  }
  const port = await tryListen(address, 0);
  if (port === undefined) throw new Error(`No free port on ${address}`);
  return port;
}

/** How many slices the listener range is cut into: one per Jest worker (ids 1, 2, ...; more workers wrap around). */
const WORKER_SLICES = 8;

/**
 * The ports {@link freePort} picks from: this Jest worker's slice of the 12,000 below the ephemeral range
 * (20768-32767 with Linux's default); the whole range outside Jest.
 */
export function listenerPorts(workerId = process.env['JEST_WORKER_ID']): readonly [number, number] {
  let ephemeralLow = 32_768;
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 0) ephemeralLow = first;
  } catch {
    // Not Linux: the usual range.
  }
  const low = Math.max(1_024, ephemeralLow - 12_000);
  const high = ephemeralLow - 1;
  const worker = Number(workerId);
  if (!Number.isInteger(worker) || worker < 1) return [low, high];
  const size = Math.floor((high - low + 1) / WORKER_SLICES);
  const start = low + ((worker - 1) % WORKER_SLICES) * size;
  return [start, start + size - 1];
}

/** Binds address:port (0: the kernel picks) and closes it again: the port, or undefined when it is taken. */
function tryListen(address: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: Error & { code?: string }) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined);
      else reject(error);
    });
    server.listen({ port, host: address, exclusive: true }, () => {
      const bound = server.address();
      server.close(() => {
        if (typeof bound === 'object' && bound !== null) resolve(bound.port);
        else reject(new Error(`Unexpected server address ${String(bound)}`));
      });
    });
  });
}

/** How a TCP connection attempt ended. `timeout` is what a DROP firewall rule looks like from outside. */
export type TcpOutcome = 'connected' | 'refused' | 'timeout' | 'unreachable' | 'error';

export interface NetnsOption {
  /** Run the attempt inside this network namespace (by `ip netns exec`); the root namespace when absent. */
  readonly netns?: string;
}

/**
 * The same attempt as {@link tcpAttempt}, as a plain script for `node -e` so that it can run inside another network
 * namespace (kept as text rather than stringifying the function, which coverage instrumentation would rewrite).
 * Arguments: mode (`probe` or `read`), address, port, timeout in ms. Prints one JSON line.
 */
const TCP_SCRIPT = `
const { connect } = require('node:net');
const [mode, host, port, timeoutMs] = process.argv.slice(1);
const chunks = [];
let connected = false;
let settled = false;
const socket = connect({ host, port: Number(port) });
const data = () => Buffer.concat(chunks).toString('utf8');
const finish = (result) => {
  if (settled) return;
  settled = true;
  clearTimeout(timer);
  socket.destroy();
  process.stdout.write(JSON.stringify(result) + '\\n');
};
const timer = setTimeout(() => finish(connected ? { outcome: 'connected', data: data() } : { outcome: 'timeout' }), Number(timeoutMs));
socket.once('connect', () => {
  connected = true;
  if (mode !== 'read') finish({ outcome: 'connected' });
});
socket.on('data', (chunk) => chunks.push(chunk));
socket.once('end', () => finish({ outcome: 'connected', data: data() }));
socket.once('error', (error) => {
  const code = error.code ?? 'unknown';
  if (connected) finish({ outcome: 'connected', data: data(), code });
  else if (code === 'ECONNREFUSED') finish({ outcome: 'refused', code });
  else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') finish({ outcome: 'unreachable', code });
  else if (code === 'ETIMEDOUT') finish({ outcome: 'timeout', code });
  else finish({ outcome: 'error', code });
});
`;

interface TcpAttempt {
  readonly outcome: TcpOutcome;
  readonly data?: string;
  readonly code?: string;
}

/**
 * One connection attempt, in this process. In `read` mode it also collects what the peer sends until it closes. Keep
 * in step with {@link TCP_SCRIPT}.
 */
function tcpAttempt(mode: string, host: string, port: number, timeoutMs: number): Promise<TcpAttempt> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let connected = false;
    let settled = false;
    const socket = connect({ host, port });
    const finish = (result: TcpAttempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      if (connected) finish({ outcome: 'connected', data: Buffer.concat(chunks).toString('utf8') });
      else finish({ outcome: 'timeout' });
    }, timeoutMs);
    socket.once('connect', () => {
      connected = true;
      if (mode !== 'read') finish({ outcome: 'connected' });
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => finish({ outcome: 'connected', data: Buffer.concat(chunks).toString('utf8') }));
    socket.once('error', (error: Error & { code?: string }) => {
      const code = error.code ?? 'unknown';
      if (connected) finish({ outcome: 'connected', data: Buffer.concat(chunks).toString('utf8'), code });
      else if (code === 'ECONNREFUSED') finish({ outcome: 'refused', code });
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') finish({ outcome: 'unreachable', code });
      else if (code === 'ETIMEDOUT') finish({ outcome: 'timeout', code });
      else finish({ outcome: 'error', code });
    });
  });
}

async function tcpAttemptIn(
  mode: 'probe' | 'read',
  address: string,
  port: number,
  timeoutMs: number,
  options: NetnsOption,
): Promise<TcpAttempt> {
  if (options.netns === undefined) return tcpAttempt(mode, address, port, timeoutMs);
  const { stdout } = await execa(
    'ip',
    netnsArgv(options.netns, [process.execPath, '-e', TCP_SCRIPT, mode, address, String(port), String(timeoutMs)]),
    { stdin: 'ignore', timeout: timeoutMs + 10_000 },
  );
  return JSON.parse(stdout) as TcpAttempt;
}

/** Tries once to connect to address:port and says how that went (never throws for network errors). */
export async function tcpOutcome(
  address: string,
  port: number,
  timeoutMs: number,
  options: NetnsOption = {},
): Promise<TcpOutcome> {
  return (await tcpAttemptIn('probe', address, port, timeoutMs, options)).outcome;
}

/**
 * Connects to address:port and returns everything the peer sends until it closes the connection (or until
 * timeoutMs, returning what came so far). Throws when the connection cannot be made.
 */
export async function readTcp(
  address: string,
  port: number,
  timeoutMs = 5_000,
  options: NetnsOption = {},
): Promise<string> {
  const result = await tcpAttemptIn('read', address, port, timeoutMs, options);
  if (result.outcome !== 'connected') {
    throw new Error(`Could not connect to ${address}:${port}${where(options)}: ${result.outcome} ${result.code ?? ''}`);
  }
  return result.data ?? '';
}

/**
 * Polls until address:port accepts a TCP connection; throws after timeoutMs, or as soon as `exited` settles (pass the
 * server's exit, so a crashed server fails fast instead of waiting for the timeout).
 */
export async function waitForPort(
  address: string,
  port: number,
  timeoutMs: number,
  options: NetnsOption & { readonly exited?: Promise<unknown> | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void options.exited?.then(
    () => (gone = true),
    () => (gone = true),
  );
  let last: TcpOutcome = 'timeout';
  for (;;) {
    if (gone) throw new Error(`The process that should listen on ${address}:${port}${where(options)} exited`);
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    last = await tcpOutcome(address, port, Math.min(remaining, 1_000), options);
    if (last === 'connected') return;
    await delay(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
  throw new Error(
    `Nothing accepted connections on ${address}:${port}${where(options)} within ${timeoutMs} ms (${last})`,
  );
}

function where(options: NetnsOption): string {
  return options.netns === undefined ? '' : ` in network namespace ${options.netns}`;
}

/** argv that runs `argv` inside a network namespace: `ip netns exec <name> ...` minus the leading `ip`. */
export function netnsArgv(netns: string, argv: readonly string[]): string[] {
  return ['netns', 'exec', netns, ...argv];
}

/**
 * The path of a built program: relative paths are taken under `dist/` (`lib/agent/ping-main.js` is
 * `dist/lib/agent/ping-main.js`), absolute ones are kept. Run `npm run build` first.
 */
export function distPath(scriptPath: string): string {
  return isAbsolute(scriptPath) ? scriptPath : join(DIST_DIR, scriptPath);
}

/** argv that runs a built program with this Node binary (to hand to `IsolatedHost.exec`/`spawn`, say). */
export function nodeArgv(scriptPath: string, args: readonly string[] = []): [string, ...string[]] {
  return [process.execPath, distPath(scriptPath), ...args];
}

/** Runs a built program from `dist/` with this Node binary (`process.execPath`), through execa. */
export function runNode<const O extends Options = Record<never, never>>(
  scriptPath: string,
  args: readonly string[] = [],
  options?: O,
): ResultPromise<O> {
  return execa(process.execPath, [distPath(scriptPath), ...args], options ?? {}) as unknown as ResultPromise<O>;
}

/** Parent pid and state of a process, from /proc; undefined when it is gone. */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]) };
}

/** Whether the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The pids of all descendants of pid (children, their children, ...), from /proc. */
export function descendantPids(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = Number(entry);
    const stat = procStat(child);
    if (stat === undefined) continue;
    const siblings = children.get(stat.ppid);
    if (siblings === undefined) children.set(stat.ppid, [child]);
    else siblings.push(child);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Sends a signal to pid and all its descendants (collected first), ignoring processes that are already gone. */
export function signalTree(pid: number, signal: NodeJS.Signals): number[] {
  const pids = [pid, ...descendantPids(pid)];
  for (const target of pids) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
  return pids;
}

/**
 * Kills a process and everything it started: `signal` (SIGTERM) to the whole tree, then SIGKILL to whatever is still
 * alive after graceMs. Resolves once none of them is alive (zombies count as gone: their parent reaps them).
 */
export async function killTree(
  pid: number,
  options: { readonly signal?: NodeJS.Signals; readonly graceMs?: number } = {},
): Promise<void> {
  const pids = signalTree(pid, options.signal ?? 'SIGTERM');
  const deadline = Date.now() + (options.graceMs ?? KILL_GRACE_MS);
  let killed = false;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0) return;
    if (!killed && Date.now() >= deadline) {
      killed = true;
      for (const target of alive) signalTree(target, 'SIGKILL');
    }
    if (killed && Date.now() >= deadline + KILL_GRACE_MS) {
      throw new Error(`Processes ${alive.join(', ')} survived SIGKILL`);
    }
    await delay(20);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `action` (synchronously) when the real process exits, for leftovers a test did not clean up. Under jest
 * `process` is a per-test-file sandbox copy whose 'exit' never fires, so the hook goes on the real process object,
 * once, with one list shared by every copy of this module. Returns a function that unregisters the action.
 */
export function onProcessExit(action: () => void): () => void {
  exitActions.add(action);
  return () => {
    exitActions.delete(action);
  };
}

const realProcess: NodeJS.Process = (() => {
  try {
    return vm.runInThisContext('process') as NodeJS.Process;
  } catch {
    return process;
  }
})();

const exitActions: Set<() => void> = (() => {
  const key = Symbol.for('turku.tests.processes.exit-actions');
  const holder = realProcess as NodeJS.Process & { [key]?: Set<() => void> };
  const existing = holder[key];
  if (existing !== undefined) return existing;
  const created = new Set<() => void>();
  holder[key] = created;
  realProcess.once('exit', () => {
    for (const action of created) {
      try {
        action();
      } catch {
        // best effort
      }
    }
  });
  return created;
})();

/** The real process's pid and start time (from /proc), to tell a live owner from a recycled pid. */
export function processIdentity(pid: number = realProcess.pid): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return startTime === undefined ? undefined : `${pid} ${startTime}`;
  } catch {
    return undefined;
  }
}
