import { readdirSync, readFileSync } from 'node:fs';

/** Linux /proc readings: a process's memory and CPU time, and the machine's CPU time. */

/** Clock ticks per second of /proc CPU times (USER_HZ, 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

export interface Memory {
  /** resident set size now, bytes */
  readonly rss: number;
  /** peak resident set size (VmHWM), bytes */
  readonly peakRss: number;
}

/** A /proc file's text; undefined once its process is gone. */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A `<field>: <n> kB` line of /proc text, in bytes (0 when the line is missing). */
function kibField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** VmRSS and VmHWM of a live process; undefined once it is gone. */
export function memoryOf(pid: number): Memory | undefined {
  const status = readProc(`/proc/${pid}/status`);
  return status === undefined ? undefined : { rss: kibField(status, 'VmRSS'), peakRss: kibField(status, 'VmHWM') };
}

/**
 * The proportional set size of a live process in bytes (`/proc/<pid>/smaps_rollup`: a page shared
 * by n processes counts 1/n); undefined once it is gone.
 */
export function pssOf(pid: number): number | undefined {
  const rollup = readProc(`/proc/${pid}/smaps_rollup`);
  return rollup === undefined ? undefined : kibField(rollup, 'Pss');
}

/**
 * User + system CPU seconds a process has used so far; with `reapedChildren`, plus those of its
 * children that have exited and been waited for. Undefined once it is gone.
 */
export function cpuSecondsOf(pid: number, { reapedChildren = false } = {}): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields 3… follow its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
  return (utime! + stime! + (reapedChildren ? cutime! + cstime! : 0)) / TICKS_PER_SECOND;
}

/** Busy and total CPU seconds of the whole machine (summed over cores) since boot. */
export function machineCpuSeconds(): { readonly busy: number; readonly total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** Processes whose parent is `pid` (one level: enough for a PostgreSQL postmaster's backends). */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(`/proc/${name}/stat`); // undefined: gone meanwhile
    if (stat !== undefined && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) {
      found.push(Number(name));
    }
  }
  return found;
}

/** The PostgreSQL postmaster listening on `port` (its command line has `-p PORT`), if any. */
export function postmasterOn(port: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const args = readProc(`/proc/${name}/cmdline`)?.split('\0'); // undefined: gone meanwhile
    if (args === undefined || !(args[0] ?? '').endsWith('/postgres')) continue;
    const at = args.indexOf('-p');
    if (at >= 0 && args[at + 1] === String(port)) return Number(name);
  }
  return undefined;
}
