import { access, stat } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { errorLine, isUsageError, USAGE_EXIT, UsageError } from '../common/errors.js';
import { install, remove, type ApplyContext } from './apply.js';
import { JOBS, ROLES, type Job, type Role } from './jobs.js';
import {
  formatPlan,
  hasControlCharacter,
  isSystemdExecutable,
  jobCommand,
  plan,
  programFile,
  SYSTEMD_RUNNING_DIR,
  type CommandOptions,
  type InstallMode,
} from './render.js';

/**
 * turku-timers: installs, removes or shows the periodic jobs of an agent or a storage machine
 * (docs/timers.md, "What runs when", docs/datapath.md, "Programs") as systemd timers, cron lines,
 * or both. The flow is here, free of process globals, so tests drive it in-process; main.ts wires
 * it to argv, stdout, stderr and systemctl.
 */

export const USAGE = `Usage:
  turku-timers install|remove|render agent|storage [options]

Options:
  --mode MODE        systemd (timers), cron (/etc/cron.d lines), both, or auto (the default):
                     systemd when <root>/run/systemd/system exists, else cron
  --config-dir DIR   passed to every job as --config-dir DIR (default: none, so the programs
                     use /etc/turku-agent or /etc/turku-storage)
  --bin-dir DIR      run DIR/turku-agent-ping and the others (default: this package's built
                     programs, run by the Node.js that runs turku-timers)
  --root DIR         write every path under DIR, for image builders and tests; systemctl is
                     then not run, and the timers are enabled by their timers.target.wants links

install writes the files (again when changed), removes the role's files of the other mode and,
on a running systemd, reloads it and enables and starts the timers. remove disables the timers
and deletes every file install wrote, in any mode (--mode does not matter). render prints the
files install would write. Exit status: 0 success, 1 failure, 2 bad usage.`;

const COMMANDS = ['install', 'remove', 'render'] as const;
type Command = (typeof COMMANDS)[number];
const MODES = ['systemd', 'cron', 'both', 'auto'] as const;
type Mode = (typeof MODES)[number];

export interface TimersIo {
  /** Node.js, which runs the default commands (process.execPath). */
  readonly execPath: string;
  /** This package's dist/ directory, holding lib/agent/ping-main.js and the others. */
  readonly distDir: string;
  /** The root of the running system ("/"): only there does systemctl run. */
  readonly hostRoot: string;
  /** Runs systemctl; rejects with a one-line message when it fails. */
  systemctl(args: readonly string[]): Promise<void>;
}

export interface TimersCliResult {
  readonly exitCode: number;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
}

interface Invocation {
  readonly command: Command;
  readonly role: Role;
  readonly mode: Mode;
  readonly root: string;
  readonly commandOptions: CommandOptions;
}

export async function runTimersCli(argv: readonly string[], io: TimersIo): Promise<TimersCliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  try {
    const invocation = parse(argv, io);
    if (invocation === 'help') return { exitCode: 0, stdout: [USAGE], stderr };
    await run(invocation, io, stdout, stderr);
    return { exitCode: 0, stdout, stderr };
  } catch (error) {
    return {
      exitCode: isUsageError(error) ? USAGE_EXIT : 1,
      stdout,
      stderr: [...stderr, errorLine('turku-timers', error)],
    };
  }
}

async function run(invocation: Invocation, io: TimersIo, stdout: string[], stderr: string[]): Promise<void> {
  const { command, role, root, commandOptions } = invocation;
  const warn = (line: string) => stderr.push(`turku-timers: warning: ${line}`);
  const systemdRunning = await isDirectory(join(root, SYSTEMD_RUNNING_DIR));
  const mode: InstallMode = invocation.mode === 'auto' ? (systemdRunning ? 'systemd' : 'cron') : invocation.mode;
  const commandFor = (job: Job) => jobCommand(job, commandOptions);

  if (command === 'remove') {
    await remove(context(root, systemdRunning, io, stdout, warn), role);
    return;
  }
  if (mode === 'cron' && systemdRunning) {
    warn(`systemd runs under ${root}, so the cron lines stay inert there: use --mode systemd or both`);
  }
  const entries = plan(role, mode, commandFor);
  if (command === 'render') {
    stdout.push(...formatPlan(entries, root));
    return;
  }
  await install(context(root, systemdRunning, io, stdout, warn), role, entries);
  for (const job of JOBS[role]) {
    const program = join(root, programFile(job, commandOptions));
    if (!(await exists(program))) warn(`${program} does not exist: the ${job.program} job fails until it is installed`);
  }
}

function context(
  root: string,
  systemdRunning: boolean,
  io: TimersIo,
  stdout: string[],
  warn: (line: string) => void,
): ApplyContext {
  const onHost = root === resolve(io.hostRoot);
  return {
    root,
    live: onHost && systemdRunning,
    notLiveReason: onHost ? 'systemd is not running' : `${root} is not the running system`,
    systemctl: (args) => io.systemctl(args),
    report: (line) => stdout.push(line),
    warn,
  };
}

function parse(argv: readonly string[], io: TimersIo): Invocation | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      mode: { type: 'string' },
      'config-dir': { type: 'string', short: 'c' },
      'bin-dir': { type: 'string' },
      root: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true || positionals[0] === 'help') return 'help';
  const [command, role, ...extra] = positionals;
  if (command === undefined) throw new UsageError('missing command: install, remove or render (see --help)');
  if (!isOneOf(COMMANDS, command)) {
    throw new UsageError(`unknown command "${command}": expected install, remove or render`);
  }
  if (role === undefined) throw new UsageError(`missing role: ${command} agent or ${command} storage`);
  if (!isOneOf(ROLES, role)) throw new UsageError(`unknown role "${role}": expected agent or storage`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const mode = values.mode ?? 'auto';
  if (!isOneOf(MODES, mode)) throw new UsageError(`--mode must be systemd, cron, both or auto, not "${mode}"`);
  if (values.root !== undefined) checkPath('--root', values.root, false);
  const configDir = values['config-dir'];
  const binDir = values['bin-dir'];
  return {
    command,
    role,
    mode,
    root: resolve(values.root ?? io.hostRoot),
    commandOptions: {
      execPath: io.execPath,
      distDir: io.distDir,
      ...(configDir === undefined ? {} : { configDir: checkPath('--config-dir', configDir, true) }),
      ...(binDir === undefined ? {} : { binDir: checkBinDir(binDir) }),
    },
  };
}

/** A directory named on the command line, normalized; paths for the jobs must be absolute. */
function checkPath(flag: string, path: string, absolute: boolean): string {
  if (path === '') throw new UsageError(`${flag} must not be empty`);
  if (hasControlCharacter(path)) throw new UsageError(`${flag} must not contain control characters`);
  if (absolute && !posix.isAbsolute(path)) {
    throw new UsageError(`${flag} must be an absolute path (the jobs do not run here), not "${path}"`);
  }
  const normalized = posix.normalize(path);
  return normalized.length > 1 ? normalized.replace(/\/$/, '') : normalized;
}

/** systemd refuses an executable path with quotes or backslashes, so --bin-dir may not have them. */
function checkBinDir(path: string): string {
  const normalized = checkPath('--bin-dir', path, true);
  if (!isSystemdExecutable(normalized)) throw new UsageError('--bin-dir must not contain quotes or backslashes');
  return normalized;
}

function isOneOf<T extends string>(choices: readonly T[], value: string): value is T {
  return (choices as readonly string[]).includes(value);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
