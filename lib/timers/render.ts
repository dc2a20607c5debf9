import { posix } from 'node:path';

import { PLAIN_WORD, shellQuote } from '../common/shell-quote.js';
import { CRON_FILE, JOBS, type Job, type Role } from './jobs.js';

/**
 * The text of the systemd units and the cron file, free of I/O. Paths here are paths on the
 * target system ("/etc/..."); apply.ts puts them under --root.
 */

export const SYSTEMD_DIR = '/etc/systemd/system';
export const TIMERS_WANTS_DIR = `${SYSTEMD_DIR}/timers.target.wants`;
export const CRON_DIR = '/etc/cron.d';
/** Exists while systemd is the running init (sd_booted(3)); the cron lines test it. */
export const SYSTEMD_RUNNING_DIR = '/run/systemd/system';
/** cron starts jobs with PATH=/usr/bin:/bin; the programs also run ssh, rsync, ssh-keygen and borg. */
export const CRON_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The first line of every file turku-timers writes; remove deletes only files starting with it. */
export const MARKER = '# Written by turku-timers';

export type InstallMode = 'systemd' | 'cron' | 'both';

export interface FileEntry {
  readonly kind: 'file';
  readonly path: string;
  readonly content: string;
}

/** A symbolic link, as `systemctl enable` makes in timers.target.wants/. */
export interface LinkEntry {
  readonly kind: 'link';
  readonly path: string;
  readonly target: string;
}

export type Entry = FileEntry | LinkEntry;

/** How a job's program is started. */
export interface CommandOptions {
  /** Run `<binDir>/<program>` instead of this package's built program under Node.js. */
  readonly binDir?: string;
  /** Passed to every job as `--config-dir DIR`; without it the programs use their default. */
  readonly configDir?: string;
  /** Node.js, for the default commands. */
  readonly execPath: string;
  /** This package's dist/ directory, holding lib/agent/ping-main.js and the others. */
  readonly distDir: string;
}

/** The file a job runs: `<binDir>/<program>`, or the built script under dist/. */
export function programFile(job: Job, options: CommandOptions): string {
  return options.binDir === undefined
    ? posix.join(options.distDir, job.distPath)
    : posix.join(options.binDir, job.program);
}

/** A job's command line as separate arguments (the cron lines add `--wait=N`). */
export function jobCommand(job: Job, options: CommandOptions): string[] {
  const program = programFile(job, options);
  const argv = options.binDir === undefined ? [options.execPath, program] : [program];
  if (options.configDir !== undefined) argv.push('--config-dir', options.configDir);
  for (const arg of argv) {
    if (hasControlCharacter(arg)) throw new Error(`a control character in ${JSON.stringify(arg)}`);
  }
  return argv;
}

export function hasControlCharacter(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text);
}

/**
 * One argument of an `ExecStart=` line (systemd.service(5), "Command lines"): `%` starts a
 * specifier and `$` a variable anywhere, quoted or not, so they are doubled; a word with other
 * characters goes in double quotes, where backslash and `"` are escaped.
 */
export function systemdQuote(arg: string): string {
  const literal = arg.replace(/%/g, '%%').replace(/\$/g, () => '$$');
  if (PLAIN_WORD.test(arg)) return literal;
  return `"${literal.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A command for a cron line: shell words, with `%` escaped (cron turns a bare `%` into a newline). */
export function cronCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ').replace(/%/g, '\\%');
}

function header(role: Role, hint: string): string {
  return `${MARKER}: "turku-timers install ${role}" rewrites this file and "turku-timers remove ${role}" deletes it.\n# ${hint}\n`;
}

/** systemd refuses an executable whose path holds a quote or a backslash ("special characters"). */
export function isSystemdExecutable(path: string): boolean {
  return posix.isAbsolute(path) && !/["'\\]/.test(path) && !hasControlCharacter(path);
}

export function renderService(role: Role, job: Job, argv: readonly string[]): string {
  const executable = argv[0] ?? '';
  if (!isSystemdExecutable(executable)) {
    throw new Error(
      `systemd cannot run ${JSON.stringify(executable)}: it needs an absolute path without quotes or backslashes`,
    );
  }
  return `${header(role, `For local changes use a drop-in: systemctl edit ${job.program}.service`)}
[Unit]
Description=${job.description}
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${argv.map(systemdQuote).join(' ')}
`;
}

/**
 * A monotonic timer: the first run OnStartupSec after boot (at once when installed later),
 * then OnUnitActiveSec after each start, each delayed by up to RandomizedDelaySec so a fleet
 * spreads out. Persistent= is left out: it applies only to OnCalendar= timers.
 */
export function renderTimer(role: Role, job: Job): string {
  const { onStartupSec, onUnitActiveSec, randomizedDelaySec } = job.systemd;
  return `${header(role, `For local changes use a drop-in: systemctl edit ${job.program}.timer`)}
[Unit]
Description=Run ${job.program} ${job.every}

[Timer]
OnStartupSec=${onStartupSec}
OnUnitActiveSec=${onUnitActiveSec}
RandomizedDelaySec=${randomizedDelaySec}

[Install]
WantedBy=timers.target
`;
}

/** The role's cron file. Each line does nothing while systemd runs: the timers do the work then. */
export function renderCron(role: Role, commandFor: (job: Job) => readonly string[]): string {
  const lines = JOBS[role].map((job) => {
    const command = cronCommand([...commandFor(job), `--wait=${job.cron.waitSeconds}`]);
    return `${job.cron.when} root [ -d ${SYSTEMD_RUNNING_DIR} ] || ${command}`;
  });
  return `${header(role, 'Each line is inert while systemd runs: the turku-*.timer units schedule these programs there.')}
PATH=${CRON_PATH}
${lines.join('\n')}
`;
}

export function servicePath(job: Job): string {
  return `${SYSTEMD_DIR}/${job.program}.service`;
}

export function timerPath(job: Job): string {
  return `${SYSTEMD_DIR}/${job.program}.timer`;
}

export function wantsLinkPath(job: Job): string {
  return `${TIMERS_WANTS_DIR}/${job.program}.timer`;
}

export function cronPath(role: Role): string {
  return `${CRON_DIR}/${CRON_FILE[role]}`;
}

/** Everything `install` writes for a role in a mode, in the order it writes it. */
export function plan(role: Role, mode: InstallMode, commandFor: (job: Job) => readonly string[]): Entry[] {
  const entries: Entry[] = [];
  if (mode === 'systemd' || mode === 'both') {
    for (const job of JOBS[role]) {
      entries.push(
        { kind: 'file', path: servicePath(job), content: renderService(role, job, commandFor(job)) },
        { kind: 'file', path: timerPath(job), content: renderTimer(role, job) },
        { kind: 'link', path: wantsLinkPath(job), target: timerPath(job) },
      );
    }
  }
  if (mode === 'cron' || mode === 'both') {
    entries.push({ kind: 'file', path: cronPath(role), content: renderCron(role, commandFor) });
  }
  return entries;
}

/** Every path `install` may write for a role, in any mode: what `remove` looks at. */
export function allPaths(role: Role): { readonly systemd: Entry[]; readonly cron: Entry[] } {
  const placeholder = () => ['/bin/true']; // the paths do not depend on the commands
  return { systemd: plan(role, 'systemd', placeholder), cron: plan(role, 'cron', placeholder) };
}

/** `render`'s output: each file under a `==> path <==` heading, each link as `==> path -> target <==`. */
export function formatPlan(entries: readonly Entry[], root: string): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    const path = posix.join(root, entry.path);
    if (entry.kind === 'link') {
      out.push(`==> ${path} -> ${entry.target} <==`, '');
    } else {
      out.push(`==> ${path} <==`, entry.content);
    }
  }
  return out;
}
