import { chmod, cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';

import { writeFileAtomic } from '../common/atomic-write.js';
import { failureLine, type Host } from './host.js';
import { workloadAt, type Workload, type WorkloadProgram } from './workload.js';

/** Where a unit's Turku commands are, for operators and for the timers. */
export const BIN_DIR = '/usr/local/bin';

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Where a packed charm's programs are copied, one directory per unit. */
export const LIB_DIR = '/usr/local/lib/turku';

/**
 * A packed charm's workload (and its Node.js for this machine's architecture, node/<arch>/bin/node,
 * when it ships one) copied out of the charm directory: the storage's ping user runs
 * turku-storage-ping by a forced ssh command, and a unit's charm directory
 * (/var/lib/juju/agents/unit-*) is not for other users to traverse. The copy is redone only when
 * the charm's files changed (an upgrade).
 */
async function installedWorkload(host: Host): Promise<Workload> {
  const { workload } = host;
  if (!workload.packed) return workload;
  const charmDir = dirname(workload.dir);
  // A unit's charm directory is /var/lib/juju/agents/unit-<app>-<n>/charm: one copy per unit.
  const target = host.path(`${LIB_DIR}/${basename(dirname(charmDir))}`);
  const bundledNode = workload.node.startsWith(`${charmDir}/`);
  const sources = bundledNode ? [workload.dir, workload.node] : [workload.dir];
  const stamp = JSON.stringify(await Promise.all(sources.map(async (path) => [path, await treeStamp(path)])));
  const stampFile = join(target, '.installed');
  if ((await readFile(stampFile, 'utf8').catch(() => '')) !== stamp) {
    const next = `${target}.new`;
    await rm(next, { recursive: true, force: true });
    await cp(workload.dir, join(next, 'workload'), { recursive: true });
    if (bundledNode) await cp(workload.node, join(next, 'node'));
    await chmodTree(next);
    await writeFile(join(next, '.installed'), stamp);
    await rm(target, { recursive: true, force: true });
    await rename(next, target);
  }
  return workloadAt(join(target, 'workload'), {
    packed: true,
    node: bundledNode ? join(target, 'node') : workload.node,
  });
}

/** Sizes and modification times of the files under `path`: what an upgrade changes. */
async function treeStamp(path: string): Promise<string> {
  const info = await stat(path);
  if (!info.isDirectory()) return `${info.size}:${info.mtimeMs}`;
  const entries = (await readdir(path)).sort();
  return (await Promise.all(entries.map(async (entry) => `${entry}=${await treeStamp(join(path, entry))}`))).join(',');
}

/** Readable by everyone, executable where it was; written by root only. */
async function chmodTree(path: string): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    await chmod(path, 0o755);
    for (const entry of await readdir(path)) await chmodTree(join(path, entry));
  } else {
    await chmod(path, info.mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * Puts the Turku programs on the unit's PATH: one small sh wrapper per program that runs it with
 * the charm's Node.js, so operators and principal charms call `turku-update-config` as with the
 * original Turku. Returns the wrappers that changed.
 */
export async function installPrograms(host: Host, programs: readonly WorkloadProgram[]): Promise<string[]> {
  const workload = await installedWorkload(host);
  const dir = host.path(BIN_DIR);
  await mkdir(dir, { recursive: true });
  const changed: string[] = [];
  for (const program of programs) {
    const file = `${dir}/${program}`;
    const command = workload.command(program).map(shellQuote).join(' ');
    const text = `#!/bin/sh\n# Installed by a Turku charm; rewritten by its hooks.\nexec ${command} "$@"\n`;
    if ((await readFile(file, 'utf8').catch(() => '')) === text) continue;
    await writeFileAtomic(file, text, { mode: 0o755 });
    changed.push(program);
  }
  return changed;
}

/** `<root>/etc/x` -> `/etc/x`: turku-timers with --root takes the paths the machine itself sees. */
function machinePath(host: Host, path: string): string {
  if (host.isSystemRoot) return path;
  const inside = relative(host.root, path);
  return inside.startsWith('..') || isAbsolute(inside) ? path : `/${inside}`;
}

/**
 * Installs the periodic jobs of an agent or a storage (turku-timers: systemd timers where
 * systemd runs the machine, cron lines otherwise). `configDir` may be given as host.path(...).
 * Throws one line when it fails.
 */
export async function installTimers(host: Host, role: 'agent' | 'storage', configDir: string): Promise<void> {
  const args = ['install', role, '--bin-dir', BIN_DIR, '--config-dir', machinePath(host, configDir)];
  if (!host.isSystemRoot) args.push('--root', host.root);
  const result = await host.run(host.workload.command('turku-timers', args));
  if (result.exitCode !== 0) throw new Error(`turku-timers ${args.join(' ')}: ${failureLine(result)}`);
}

export async function removeTimers(host: Host, role: 'agent' | 'storage'): Promise<void> {
  const args = ['remove', role];
  if (!host.isSystemRoot) args.push('--root', host.root);
  const result = await host.run(host.workload.command('turku-timers', args));
  if (result.exitCode !== 0) throw new Error(`turku-timers ${args.join(' ')}: ${failureLine(result)}`);
}
