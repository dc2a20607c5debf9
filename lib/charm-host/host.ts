import { spawn } from 'node:child_process';
import { join } from 'node:path';

import type { JujuCommon } from '../charm/index.js';
import { charmNode, locateWorkload, type Workload } from './workload.js';

/**
 * The machine a charm manages: its files, its processes and the Turku programs. Charms take a
 * Host instead of touching `/` directly, so tests and the local substrate give each unit its own
 * root directory (`/etc`, `/var/lib`, ... under it) while running the same real programs.
 */

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Kill the process after this long (default 10 minutes: a hook must end). */
  readonly timeoutMs?: number;
  /** Sees stdout as it comes (it is also in the result). */
  readonly onStdout?: (chunk: string) => void;
}

export interface Host {
  /** "/" on a real unit. */
  readonly root: string;
  /** An absolute machine path (e.g. "/etc/turku-agent") as seen from here. */
  path(machinePath: string): string;
  /** Runs a program to completion; never throws for a non-zero exit. */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  readonly workload: Workload;
  /** True on the machine's own root, where apt, systemctl and useradd may act on the system. */
  readonly isSystemRoot: boolean;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/**
 * The charm's own runner, not lib/common/process.ts: every hook runs programs through it, and
 * loading execa would add tens of milliseconds to each hook's cold start (measured for the hook
 * tools, see lib/charm/exec-runner.ts). It also differs in shape: the hooks want a shell-like
 * status (127 not started, 128 killed) and the failure in stderr, never a separate start error.
 */
export function runProgram(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('runProgram: empty argv');
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Our own timer, not spawn's `timeout`: Node leaves that one pending when the program cannot
    // be started at all, which kept a hook's process alive for the whole timeout.
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    const finish = (result: RunResult) => {
      clearTimeout(timer);
      resolve(result);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => finish({ exitCode: 127, stdout, stderr: stderr + `${file}: ${error.message}\n` }));
    child.on('close', (code, signal) => finish({ exitCode: code ?? (signal === null ? 1 : 128), stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export function hostAt(root: string, workload: Workload): Host {
  const isSystemRoot = root === '/';
  return {
    root,
    path: (machinePath) => (isSystemRoot ? machinePath : join(root, machinePath)),
    run: runProgram,
    workload,
    isSystemRoot,
  };
}

/**
 * The host of a charm running on its unit: the machine's root, unless `TURKU_MACHINE_ROOT`
 * names another (the local substrate gives each unit its own tree this way). The programs run
 * with the charm's own Node.js for this architecture when it ships one.
 */
export function unitHost(
  juju: Pick<JujuCommon, 'charmDir'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Host {
  const charmDir = juju.charmDir === '' ? process.cwd() : juju.charmDir;
  const root = env['TURKU_MACHINE_ROOT'] || '/';
  return hostAt(root, locateWorkload(charmDir, env, charmNode(charmDir, process.execPath)));
}

/**
 * A failed program's error in one line: the last non-empty line of stderr (Turku programs log
 * first and end with their error), else of stdout, else the exit status.
 */
export function failureLine(result: RunResult): string {
  const last = (text: string) =>
    text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1);
  return last(result.stderr) ?? last(result.stdout) ?? `exit status ${result.exitCode}`;
}
