import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

import { writeFileAtomic } from '../common/atomic-write.js';
import { failureLine, type Host } from './host.js';

/**
 * A long-running workload process (turku-api serve). On a machine run by systemd it is a
 * systemd service; elsewhere (containers without systemd, the local substrate, tests) the charm
 * supervises it itself: a detached process with a pid file, restarted by the next hook when it
 * died. Either way a change of `fingerprint` (config the process reads at start) restarts it.
 */

export interface ServiceSpec {
  /** Unit and pid-file name, e.g. "turku-api". */
  readonly name: string;
  readonly description: string;
  readonly argv: readonly string[];
  /** What the process read at start (its config files' text): a change restarts it. */
  readonly fingerprint: string;
}

export interface ServiceState {
  readonly running: boolean;
  /** "systemd" or "supervised". */
  readonly manager: 'systemd' | 'supervised';
  readonly restarted: boolean;
  readonly pid?: number;
}

export function usesSystemd(host: Host): boolean {
  return host.isSystemRoot && existsSync('/run/systemd/system');
}

function digest(spec: ServiceSpec): string {
  return createHash('sha256')
    .update(JSON.stringify([spec.argv, spec.fingerprint]))
    .digest('hex')
    .slice(0, 16);
}

export async function ensureService(host: Host, spec: ServiceSpec): Promise<ServiceState> {
  return usesSystemd(host) ? ensureSystemdService(host, spec) : ensureSupervised(host, spec);
}

export async function stopService(host: Host, name: string): Promise<void> {
  if (usesSystemd(host)) {
    await host.run(['systemctl', 'disable', '--now', `${name}.service`]);
    await rm(`/etc/systemd/system/${name}.service`, { force: true });
    await host.run(['systemctl', 'daemon-reload']);
    return;
  }
  const pid = await supervisedPid(host, name);
  if (pid !== undefined) {
    signal(-pid, 'SIGTERM');
    for (let i = 0; i < 50 && isProcessAlive(pid); i += 1) await new Promise((r) => setTimeout(r, 100));
    if (isProcessAlive(pid)) signal(-pid, 'SIGKILL');
  }
  await rm(pidFile(host, name), { force: true });
  await rm(stampFile(host, name), { force: true });
}

/** A daemon the machine runs itself (sshd), which a charm only asks to reread its configuration. */
export interface SystemDaemon {
  /** Its systemd unit, e.g. "ssh.service" (Debian and Ubuntu's name for sshd). */
  readonly unit: string;
  /** Its pid file where systemd does not run it, e.g. "/run/sshd.pid" (sshd's default). */
  readonly pidFile: string;
}

/**
 * Makes a running daemon reread its configuration: `systemctl try-reload-or-restart` under
 * systemd, else SIGHUP to the pid in its pid file (under the host's root: the local substrate's
 * machines run their sshd with such a pid file). A daemon that is not running reads the new
 * configuration when it starts: 'not running', nothing done.
 */
export async function reloadDaemon(host: Host, daemon: SystemDaemon): Promise<'reloaded' | 'not running'> {
  if (usesSystemd(host)) {
    const active = await host.run(['systemctl', 'is-active', daemon.unit]);
    if (active.stdout.trim() !== 'active') return 'not running';
    await systemctl(host, ['try-reload-or-restart', daemon.unit]);
    return 'reloaded';
  }
  const text = await readFile(host.path(daemon.pidFile), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1 || !isProcessAlive(pid)) return 'not running';
  process.kill(pid, 'SIGHUP');
  return 'reloaded';
}

// ---- systemd ------------------------------------------------------------------------------

function unitText(spec: ServiceSpec): string {
  const exec = spec.argv.map((arg) => (/[\s"'\\$%]/.test(arg) ? JSON.stringify(arg) : arg)).join(' ');
  return [
    '[Unit]',
    `Description=${spec.description}`,
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStart=${exec}`,
    'Restart=on-failure',
    'RestartSec=5',
    `# fingerprint ${digest(spec)}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

async function ensureSystemdService(host: Host, spec: ServiceSpec): Promise<ServiceState> {
  const file = `/etc/systemd/system/${spec.name}.service`;
  const text = unitText(spec);
  const before = await readFile(file, 'utf8').catch(() => '');
  const changed = before !== text;
  if (changed) {
    await writeFileAtomic(file, text);
    await systemctl(host, ['daemon-reload']);
  }
  await systemctl(host, ['enable', `${spec.name}.service`]);
  await systemctl(host, [changed ? 'restart' : 'start', `${spec.name}.service`]);
  const active = await host.run(['systemctl', 'is-active', `${spec.name}.service`]);
  return { running: active.stdout.trim() === 'active', manager: 'systemd', restarted: changed };
}

async function systemctl(host: Host, args: string[]): Promise<void> {
  const result = await host.run(['systemctl', ...args]);
  if (result.exitCode !== 0) throw new Error(`systemctl ${args.join(' ')}: ${failureLine(result)}`);
}

// ---- supervised ---------------------------------------------------------------------------

const pidFile = (host: Host, name: string) => host.path(`/run/${name}.pid`);
const stampFile = (host: Host, name: string) => host.path(`/run/${name}.fingerprint`);
export const serviceLogFile = (host: Host, name: string) => host.path(`/var/log/${name}.log`);

/** Whether a process with this pid exists (a zombie counts until its parent reaps it). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** The pid a pid file names, if that process is alive (a missing or garbled file: undefined). */
export async function livePidFromFile(path: string): Promise<number | undefined> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 1 && isProcessAlive(pid) ? pid : undefined;
}

function supervisedPid(host: Host, name: string): Promise<number | undefined> {
  return livePidFromFile(pidFile(host, name));
}

async function ensureSupervised(host: Host, spec: ServiceSpec): Promise<ServiceState> {
  const stamp = digest(spec);
  const pid = await supervisedPid(host, spec.name);
  const current = await readFile(stampFile(host, spec.name), 'utf8').catch(() => '');
  if (pid !== undefined && current === stamp) return { running: true, manager: 'supervised', restarted: false, pid };
  if (pid !== undefined) await stopService(host, spec.name);

  const log = serviceLogFile(host, spec.name);
  await mkdir(dirname(log), { recursive: true });
  await mkdir(dirname(pidFile(host, spec.name)), { recursive: true });
  const out = openSync(log, 'a', 0o640);
  try {
    const [file, ...args] = spec.argv;
    // Its own process group, outliving the hook: the next hook finds it by its pid file.
    const child = spawn(file!, args, { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    const started = await new Promise<number | undefined>((resolve) => {
      child.once('error', () => resolve(undefined));
      child.once('spawn', () => resolve(child.pid));
    });
    if (started === undefined) throw new Error(`cannot start ${spec.name}: ${spec.argv[0]!} not found`);
    await writeFileAtomic(pidFile(host, spec.name), `${started}\n`);
    await writeFileAtomic(stampFile(host, spec.name), stamp);
    return { running: true, manager: 'supervised', restarted: true, pid: started };
  } finally {
    closeSync(out);
  }
}
