import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';

import { delay, say } from './lifecycle.js';
import { machineCpuSeconds } from './proc.js';
import { round } from './stats.js';

/** The machine a result was measured on, and how busy it was: every results file records both. */

/** Operating system, CPU model, cores and memory, as the results files' `machine` starts. */
export function machineInfo(): { os: string; cpu: string; cores: number; totalMemoryGb: number } {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemoryGb: round(os.totalmem() / 1e9, 1),
  };
}

/** How busy the whole machine is over `seconds`, in percent of one core. */
export async function machineBusyPercent(seconds: number): Promise<number> {
  const before = machineCpuSeconds().busy;
  await delay(seconds * 1000);
  return Math.round(((machineCpuSeconds().busy - before) / seconds) * 100);
}

export interface QuietOptions {
  /** Below this (percent of one core) the machine counts as quiet. */
  readonly percent: number;
  /** Give up waiting after this long, and say so. */
  readonly waitSeconds: number;
  /** Length of the first reading (later ones take 1 s). */
  readonly firstSampleSeconds: number;
  /** Indentation of the line said when the machine stays busy. */
  readonly indent: string;
}

/**
 * Other work on the machine (another build, a test run) skews every figure: before a measurement,
 * wait up to `waitSeconds` for a second in which the machine is nearly idle. Returns the last reading.
 */
export async function waitForQuiet(options: QuietOptions): Promise<number> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  let busy = await machineBusyPercent(options.firstSampleSeconds);
  while (busy > options.percent && Date.now() < deadline) busy = await machineBusyPercent(1);
  if (busy > options.percent) {
    say(`${options.indent}(machine still ${busy}% busy with other work after ${options.waitSeconds} s)`);
  }
  return busy;
}

/** The first line a program prints for its version (ssh -V prints on stderr). */
export function versionOf(argv: readonly string[]): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return `${result.stdout ?? ''}\n${result.stderr ?? ''}`.trim().split('\n')[0]?.trim() || 'unknown';
}

/** The type and device of the file system holding `path`, as df prints them. */
export function fileSystemOf(path: string): string {
  try {
    return execFileSync('df', ['--output=fstype,source', path], { encoding: 'utf8' }).split('\n')[1]?.trim() ?? '?';
  } catch {
    return 'unknown';
  }
}
