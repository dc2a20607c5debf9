// LXD's daemons on this host. Debian's lxd and lxcfs packages leave them to systemd; where
// systemd does not run the host (this project's build machines, most containers) they are
// started here by hand as their units would (/lib/systemd/system/lxd.service, lxcfs.service),
// each in its own session with a pid file, so a later teardown stops exactly what was started.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

import { isProcessAlive, livePidFromFile } from '../../charm-host/services.js';
import { tryLxc } from './lxc.js';

/** Where the pid files of the daemons started here are kept. */
export const RUN_DIR = '/run/turku-lxd';
const LOG_DIR = '/var/log/lxd';
const LXCFS_MOUNT = '/var/lib/lxcfs';

export type DaemonStart = 'running' | 'systemd' | 'started';

export function hostRunsSystemd(): boolean {
  return existsSync('/run/systemd/system');
}

/** Whether LXD answers on its socket now. */
export async function lxdAnswers(): Promise<boolean> {
  return (await execa('lxd', ['waitready', '--timeout', '1'], { reject: false, stdin: 'ignore' })).exitCode === 0;
}

async function lxcfsMounted(): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === LXCFS_MOUNT && line.includes(' fuse.lxcfs '));
}

/**
 * lxcfs's mount with no daemon behind it: what a killed lxcfs leaves (FUSE answers "Transport
 * endpoint is not connected"). Containers started on it would get broken /proc views.
 */
async function lxcfsMountDead(): Promise<boolean> {
  if (!(await lxcfsMounted())) return false;
  try {
    await stat(join(LXCFS_MOUNT, 'proc'));
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

async function unmountLxcfs(): Promise<void> {
  await execa('fusermount', ['-u', LXCFS_MOUNT], { reject: false, stdin: 'ignore' });
  await execa('umount', ['-l', LXCFS_MOUNT], { reject: false, stdin: 'ignore' });
}

/** Starts `argv` in its own session, output to `log`, its pid in RUN_DIR/<name>.pid. */
async function startDetached(name: string, argv: readonly string[], log: string): Promise<void> {
  await mkdir(RUN_DIR, { recursive: true });
  await mkdir(LOG_DIR, { recursive: true });
  const out = openSync(log, 'a', 0o640);
  try {
    const [file, ...args] = argv;
    const child = spawn(file!, args, { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid!));
    });
    await writeFile(join(RUN_DIR, `${name}.pid`), `${pid}\n`);
  } finally {
    closeSync(out);
  }
}

/**
 * Makes LXD answer: nothing to do when it does; `systemctl start` where systemd runs the host;
 * else lxcfs (containers' /proc views) then `lxd --group lxd`, waiting for `lxd waitready`.
 * Idempotent, and safe when another process started them first.
 */
export async function ensureLxd(timeoutSeconds = 120): Promise<DaemonStart> {
  if (await lxdAnswers()) return 'running';
  if (hostRunsSystemd()) {
    await execa('systemctl', ['start', 'lxcfs.service', 'lxd.service'], { stdin: 'ignore' });
  } else {
    if (await lxcfsMountDead()) await unmountLxcfs();
    if (!(await lxcfsMounted())) {
      await mkdir(LXCFS_MOUNT, { recursive: true });
      await startDetached('lxcfs', ['lxcfs', LXCFS_MOUNT], join(LOG_DIR, 'lxcfs.log'));
      for (let i = 0; i < 50 && !(await lxcfsMounted()); i++) await sleep(100);
      if (!(await lxcfsMounted())) throw new Error(`lxcfs did not mount ${LXCFS_MOUNT}: see ${LOG_DIR}/lxcfs.log`);
    }
    const logfile = join(LOG_DIR, 'lxd.log');
    await startDetached('lxd', ['lxd', '--group', 'lxd', `--logfile=${logfile}`], join(LOG_DIR, 'lxd.stdout'));
  }
  const ready = await execa('lxd', ['waitready', `--timeout=${timeoutSeconds}`], { reject: false, stdin: 'ignore' });
  if (ready.exitCode !== 0) throw new Error(`LXD did not become ready in ${timeoutSeconds} s: see ${LOG_DIR}/lxd.log`);
  return hostRunsSystemd() ? 'systemd' : 'started';
}

function startedPid(name: string): Promise<number | undefined> {
  return livePidFromFile(join(RUN_DIR, `${name}.pid`));
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Stops the daemons ensureLxd started by hand (never a systemd-managed or someone else's LXD):
 * `lxd shutdown` stops its instances and exits; lxcfs is unmounted. Returns what it stopped.
 */
export async function stopStartedLxd(): Promise<string[]> {
  const stopped: string[] = [];
  const lxd = await startedPid('lxd');
  if (lxd !== undefined) {
    await execa('lxd', ['shutdown', '--timeout=60'], { reject: false, stdin: 'ignore' });
    if (!(await waitGone(lxd, 10_000))) process.kill(lxd, 'SIGKILL');
    stopped.push('lxd');
  }
  await rm(join(RUN_DIR, 'lxd.pid'), { force: true });
  const lxcfs = await startedPid('lxcfs');
  if (lxcfs !== undefined) {
    process.kill(lxcfs, 'SIGTERM');
    if (!(await waitGone(lxcfs, 5_000))) process.kill(lxcfs, 'SIGKILL');
    await unmountLxcfs();
    stopped.push('lxcfs');
  } else if (existsSync(join(RUN_DIR, 'lxcfs.pid')) && (await lxcfsMountDead())) {
    // The lxcfs started here was killed: its mount is all that is left of it.
    await unmountLxcfs();
    stopped.push('lxcfs (its dead mount)');
  }
  await rm(join(RUN_DIR, 'lxcfs.pid'), { force: true });
  return stopped;
}

/** The LXD server's version (`lxc version`'s server line), for reports. */
export async function lxdVersion(): Promise<string> {
  const result = await tryLxc(['version']);
  return /Server version:\s*(\S+)/.exec(result.stdout)?.[1] ?? 'unknown';
}
