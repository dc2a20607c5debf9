import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

import { errorMessage, isErrno, UserError } from '../common/errors.js';
import { hasControlCharacters, sourceNameProblem } from '../turku/names.js';
import { randomTunnelPort } from '../common/random.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { dieWithParent } from './die-with-parent.js';
import { trackProcessGroup } from './exit-cleanup.js';

/**
 * The on-demand rsync daemon (docs/datapath.md, "The agent's rsync daemon", "A backup, step by
 * step" step 2): its configuration text, and its life, from start on a free port to stop.
 */

export interface DaemonModule {
  /** The rsync module name: the source name, or `restore_module`. */
  readonly name: string;
  readonly path: string;
  /** One-time credentials, never persisted. */
  readonly username: string;
  readonly password: string;
  readonly readOnly: boolean;
}

export interface RsyncdConfig {
  readonly address: string;
  readonly port: number;
  readonly uid: string;
  readonly gid: string;
  readonly secretsFile: string;
  readonly modules: readonly DaemonModule[];
}

/**
 * The daemon configuration, in the original's layout with one line more
 * (docs/datapath.md, "The agent's rsync daemon").
 */
export function rsyncdConfigText(config: RsyncdConfig): string {
  for (const [what, value] of [
    ['address', config.address],
    ['uid', config.uid],
    ['gid', config.gid],
    ['secrets file', config.secretsFile],
  ] as const) {
    checkValue(what, value);
  }
  let text =
    `address = ${config.address}\n` +
    `port = ${config.port}\n` +
    'log file = /dev/stdout\n' +
    `uid = ${config.uid}\n` +
    `gid = ${config.gid}\n` +
    'list = false\n' +
    // Without it, rsync's small protocol writes wait for delayed ACKs, about 40 ms at several
    // turns of each pull (docs/datapath.md, "The agent's rsync daemon"); the storage's client
    // turns Nagle's algorithm off on its side too.
    'socket options = TCP_NODELAY\n' +
    '\n';
  for (const module of config.modules) {
    checkModule(module);
    text +=
      `[${module.name}]\n` +
      `    path = ${module.path}\n` +
      `    auth users = ${module.username}\n` +
      `    secrets file = ${config.secretsFile}\n` +
      `    read only = ${module.readOnly ? 'true' : 'false'}\n` +
      '\n';
  }
  return text;
}

/** One `username:password` line per module. */
export function rsyncdSecretsText(modules: readonly DaemonModule[]): string {
  return modules.map((module) => `${module.username}:${module.password}\n`).join('');
}

/**
 * Why a module cannot be put in the daemon's configuration, if it cannot: its name must pass the
 * source-name rule (lib/turku/names.ts), and a path with a line break would start a new setting.
 */
export function moduleProblem(module: Pick<DaemonModule, 'name' | 'path'>): string | undefined {
  const nameProblem = sourceNameProblem(module.name);
  if (nameProblem !== undefined) return `the name "${module.name}" ${nameProblem}`;
  if (module.path === '' || hasControlCharacters(module.path) || module.path.trim() !== module.path) {
    return `the path ${JSON.stringify(module.path)} cannot be put in an rsync daemon configuration`;
  }
  return undefined;
}

function checkModule(module: DaemonModule): void {
  const problem = moduleProblem(module);
  if (problem !== undefined) throw new UserError(`Cannot offer module "${module.name}": ${problem}`);
  checkValue('auth users', module.username);
  if (/[\s:]/.test(module.username) || /[\r\n]/.test(module.password)) {
    throw new UserError(`Cannot offer module "${module.name}": unusable credentials`);
  }
}

function checkValue(what: string, value: string): void {
  if (value === '' || hasControlCharacters(value)) throw new UserError(`Invalid rsync daemon ${what}: "${value}"`);
}

// ---- lifecycle ------------------------------------------------------------------------------

export interface RsyncDaemonOptions {
  /** `rsyncd_command`, e.g. `["rsync"]`. */
  readonly command: readonly string[];
  readonly address: string;
  readonly uid: string;
  readonly gid: string;
  readonly modules: readonly DaemonModule[];
  /** A private directory (mode 0700) for `rsyncd.conf`, `rsyncd.secrets` and `rsyncd.log`. */
  readonly dir: string;
  readonly log: WorkloadLogger;
  /** Picks a port to try; random in 49152–65535 by default. */
  readonly choosePort?: () => number;
  /** Ports to try before giving up (default 5). */
  readonly maxTries?: number;
  /** How long one start may take to accept connections (default 3000 ms). */
  readonly readyTimeoutMs?: number;
}

export interface RsyncDaemon {
  readonly port: number;
  readonly pid: number;
  /** Whether the daemon has exited (it should only once stopped). */
  readonly exited: boolean;
  /** SIGTERM to the daemon and its connection handlers, then waits for it (idempotent). */
  stop(): Promise<void>;
}

/**
 * Writes the configuration and secrets (mode 0600) and starts the daemon, returning once it
 * accepts connections. A daemon that exits early (the port is taken) is retried on a new port.
 */
export async function startRsyncDaemon(options: RsyncDaemonOptions): Promise<RsyncDaemon> {
  const [program, ...baseArgs] = options.command;
  if (program === undefined) throw new UserError('rsyncd_command is empty');
  const configFile = join(options.dir, 'rsyncd.conf');
  const secretsFile = join(options.dir, 'rsyncd.secrets');
  await writeFile(secretsFile, rsyncdSecretsText(options.modules), { mode: 0o600 });
  const maxTries = options.maxTries ?? 5;
  const problems: string[] = [];
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const port = (options.choosePort ?? randomTunnelPort)();
    const config = rsyncdConfigText({ ...options, port, secretsFile });
    await writeFile(configFile, config, { mode: 0o600 });
    const daemon = spawnDaemon(program, [...baseArgs, '--no-detach', '--daemon', `--config=${configFile}`], options);
    const outcome = await waitUntilReady(daemon, options.address, port, options.readyTimeoutMs ?? 3000);
    if (outcome === 'ready') {
      options.log.debug(`rsync daemon ${daemon.child.pid} accepts connections on ${options.address}:${port}`);
      return daemonHandle(daemon, port);
    }
    await daemon.stop();
    if (daemon.startError !== undefined) {
      const reason = isErrno(daemon.startError, 'ENOENT') ? 'not found' : errorMessage(daemon.startError);
      throw new UserError(`Cannot run the rsync daemon (${program}): ${reason}`);
    }
    if (outcome === 'timeout') {
      throw new UserError(
        `The rsync daemon did not accept connections on ${options.address}:${port} within ` +
          `${(options.readyTimeoutMs ?? 3000) / 1000} s${daemon.problem() ? `: ${daemon.problem()}` : ''}`,
      );
    }
    const problem = `port ${port}: ${daemon.exitDescription()}${daemon.problem() ? ` (${daemon.problem()})` : ''}`;
    options.log.debug(`The rsync daemon exited at start (${problem}); trying another port`);
    problems.push(problem);
  }
  throw new UserError(`The rsync daemon could not start after ${maxTries} tries (${problems.join('; ')})`);
}

interface SpawnedDaemon {
  readonly child: ChildProcess;
  readonly exited: boolean;
  readonly startError: Error | undefined;
  /** Resolves when the process has exited (or failed to start). */
  readonly done: Promise<void>;
  exitDescription(): string;
  /** The first thing it said after starting, usually why it stopped. */
  problem(): string;
  stop(): Promise<void>;
}

function spawnDaemon(program: string, args: string[], options: RsyncDaemonOptions): SpawnedDaemon {
  // `log file = /dev/stdout` needs a stdout it can open again: Node's pipes are sockets, which
  // cannot be, so stdout is a log file in the private directory, read into our debug log.
  const logFile = join(options.dir, 'rsyncd.log');
  const logFd = openSync(logFile, 'a', 0o600);
  let logOffset = fstatSync(logFd).size;
  // Its own process group: a terminal's Ctrl-C reaches the agent only, which then stops the
  // daemon in order; stopping the group also ends connection handlers it forked. It dies with
  // the agent even when the agent is killed (die-with-parent.ts).
  let child: ChildProcess;
  try {
    const [wrapped, ...wrappedArgs] = dieWithParent([program, ...args]);
    child = spawn(wrapped!, wrappedArgs, { stdio: ['ignore', logFd, 'pipe'], detached: true });
  } finally {
    closeSync(logFd);
  }
  const untrack = child.pid === undefined ? () => false : trackProcessGroup(child.pid);
  let exited = false;
  let startError: Error | undefined;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  const recent: string[] = [];
  const done = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      startError = error;
      exited = true;
      untrack();
      resolve();
    });
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      exited = true;
      untrack();
      resolve();
    });
  });
  const note = (text: string) => {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      options.log.debug(`rsyncd: ${line.trim()}`);
      // Without rsync's own `2024/12/15 07:00:00 [pid] ` prefix.
      recent.push(line.trim().replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[\d+\] /, ''));
      if (recent.length > 20) recent.shift();
    }
  };
  const drainLog = () => {
    try {
      const text = readFileSync(logFile);
      note(text.subarray(logOffset).toString());
      logOffset = text.length;
    } catch {
      // Removed with the directory.
    }
  };
  child.stderr?.on('data', (chunk: Buffer) => note(chunk.toString()));
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      // The whole group: connection handlers it forked end with it.
      const pid = child.pid;
      // rsync sleeps 400 ms on SIGTERM before it exits. A daemon that only serves read-only
      // modules has nothing to finish once ssh has ended, so it is killed at once; one that
      // receives a restore gets SIGTERM, so a transfer cut short cleans up its temporary files.
      const writable = options.modules.some((module) => !module.readOnly);
      signalGroup(pid, writable ? 'SIGTERM' : 'SIGKILL');
      const killer = setTimeout(() => signalGroup(pid, 'SIGKILL'), 5000);
      await done;
      clearTimeout(killer);
    }
    await done;
    drainLog();
  };
  return {
    child,
    get exited() {
      return exited;
    },
    get startError() {
      return startError;
    },
    done,
    exitDescription: () => (exitSignal !== null ? `killed by ${exitSignal}` : `exit status ${exitCode}`),
    problem: () => {
      drainLog();
      return recent.find((line) => !/^rsyncd version .* starting/.test(line)) ?? '';
    },
    stop,
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

function daemonHandle(daemon: SpawnedDaemon, port: number): RsyncDaemon {
  return {
    port,
    pid: daemon.child.pid!,
    get exited() {
      return daemon.exited;
    },
    stop: () => daemon.stop(),
  };
}

/**
 * Polls until the daemon greets a connection with `@RSYNCD:`. Checking the greeting, and that
 * our daemon is still running, keeps a foreign listener on the port from passing as ours.
 */
async function waitUntilReady(
  daemon: SpawnedDaemon,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (daemon.exited) return 'exited';
    const left = deadline - Date.now();
    if (left <= 0) return 'timeout';
    const greeted = await rsyncGreets(address, port, Math.min(left, 500));
    if (daemon.exited) return 'exited';
    if (greeted) return 'ready';
    // Poll again soon, or as soon as the daemon exits.
    await Promise.race([daemon.done, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
}

function rsyncGreets(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    let received = '';
    const finish = (result: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.length >= 8 || received.includes('\n')) finish(received.startsWith('@RSYNCD:'));
    });
    socket.on('error', () => finish(false));
    socket.on('end', () => finish(received.startsWith('@RSYNCD:')));
  });
}
