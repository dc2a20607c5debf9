import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

import { trackChild } from './lifecycle.js';

/** Running commands to their end and timing them, and finding and killing process trees, for the benchmarks. */

export interface Finished {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit (and closed output), seconds. */
  readonly seconds: number;
}

/** Runs a command to its end; `netns` runs it inside that network namespace (`ip netns exec`). */
export function run(
  argv: readonly string[],
  options: { readonly netns?: string; readonly input?: string; readonly timeoutMs?: number } = {},
): Promise<Finished> {
  const full = options.netns === undefined ? argv : ['ip', 'netns', 'exec', options.netns, ...argv];
  const [file, ...args] = full;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(file!, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    trackChild(child);
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-200_000);
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      const seconds = (performance.now() - start) / 1000;
      clearTimeout(timer);
      resolve({
        code: code ?? (signal === null ? -1 : -128),
        stdout: Buffer.concat(out).toString(),
        stderr: err,
        seconds,
      });
    });
  });
}

export async function mustRun(argv: readonly string[], options: Parameters<typeof run>[1] = {}): Promise<Finished> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    throw new Error(`${argv.join(' ')} failed (${result.code}):\n${result.stderr.slice(-4000)}${result.stdout}`);
  }
  return result;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? 'X');
  } catch {
    return false;
  }
}

/** pid and all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found = [pid];
  for (let i = 0; i < found.length; i++) found.push(...(byParent.get(found[i]!) ?? []));
  return found;
}

export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A command's output, or '' when it fails: for best-effort cleanup and probing. */
export function quietSync(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}
