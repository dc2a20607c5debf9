import { mkdir, readFile } from 'node:fs/promises';

import { writeFileAtomic } from '../common/atomic-write.js';
import { failureLine, type Host } from './host.js';
import type { WorkloadProgram } from './workload.js';

/** Where a unit's Turku commands are, for operators and for the timers. */
export const BIN_DIR = '/usr/local/bin';

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Puts the Turku programs on the unit's PATH: one small sh wrapper per program that runs it with
 * the charm's Node.js, so operators and principal charms call `turku-update-config` as with the
 * original Turku. Returns the wrappers that changed.
 */
export async function installPrograms(host: Host, programs: readonly WorkloadProgram[]): Promise<string[]> {
  const dir = host.path(BIN_DIR);
  await mkdir(dir, { recursive: true });
  const changed: string[] = [];
  for (const program of programs) {
    const file = `${dir}/${program}`;
    const text = `#!/bin/sh\n# Installed by the ${program.startsWith('turku-storage') ? 'turku-storage' : 'Turku'} charm; rewritten by its hooks.\nexec ${host.workload
      .command(program)
      .map(shellQuote)
      .join(' ')} "$@"\n`;
    if ((await readFile(file, 'utf8').catch(() => '')) === text) continue;
    await writeFileAtomic(file, text, { mode: 0o755 });
    changed.push(program);
  }
  return changed;
}

/**
 * Installs the periodic jobs of an agent or a storage (turku-timers: systemd timers where
 * systemd runs the machine, cron lines otherwise). Throws one line when it fails.
 */
export async function installTimers(host: Host, role: 'agent' | 'storage', configDir: string): Promise<void> {
  const args = ['install', role, '--bin-dir', host.path(BIN_DIR), '--config-dir', configDir];
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
