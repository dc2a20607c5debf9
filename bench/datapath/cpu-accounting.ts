import { closeSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';

import { atExit } from '../harness/lifecycle.js';
import { mustRun, quietSync } from '../harness/processes.js';
import { median, round } from '../harness/stats.js';

/**
 * Where a run's CPU time goes, per program: the kernel's BSD process accounting (acct(2)) appends
 * one record per exiting process (command name, pid, parent pid, user and system CPU time) to a
 * file, so the short-lived processes of a backup (each side's rsync, ssh, sshd's session
 * processes, the Node programs) are all counted without polling /proc. The records of a run are
 * those of processes that descend from this benchmark (what it started: the agent's side) or from
 * one of the storage's sshds (the storage's side); other work on the machine is left out.
 *
 * Accounting is one switch for the whole machine: it is on from start to the end of the run (the
 * exit hook turns it off however the run ends). Two benchmarks at once would take it from each
 * other; then the figures are missing, not wrong (each run only counts its own descendants).
 */

/** acct(2)'s number, per architecture (no libc binding from Node: perl makes the call). */
const ACCT_SYSCALL: Partial<Record<string, number>> = { x64: 163, arm64: 89 };
/** struct acct_v3 (linux/acct.h): 64 bytes a record. */
const RECORD_BYTES = 64;
/** CPU times are in AHZ ticks (100 per second). */
const TICKS_PER_SECOND = 100;

/**
 * A record names the last thread of a process to exit: a Node process ends under one of its
 * threads' names (Node 24 names the main thread too), all counted as "node".
 */
const NODE_THREADS = /^(node|MainThread|SignalInspector|DelayedTaskSche|V8Worker|libuv-worker|PlatformWorker)$/;

/** CPU seconds per "side program" (e.g. "storage rsync"), of the processes that ended in a run. */
export type CpuByProgram = Record<string, number>;

export interface CpuAccounting {
  /** Where the records stand now: call right before a measured run. */
  mark(): number;
  /** CPU seconds per side and program of the processes that ended since `mark`. */
  since(mark: number): CpuByProgram;
  /** Turns accounting off (the exit hook does too, if the run ends before). */
  stop(): void;
}

/** comp_t: a 13-bit mantissa and a 3-bit base-8 exponent. */
function compT(value: number): number {
  return (value & 0x1fff) << (3 * (value >> 13));
}

function syscallArgv(argument: string): string[] {
  const number = ACCT_SYSCALL[process.arch];
  return ['perl', '-e', `syscall(${number}, ${argument}) == 0 or die "acct: $!\\n"`];
}

/**
 * Turns accounting on into `file`, with `storageRoots` the pids of the storage's sshds. Undefined
 * when the kernel or architecture does not allow it (the results then have no per-program CPU).
 */
export async function startCpuAccounting(
  file: string,
  storageRoots: readonly number[],
): Promise<CpuAccounting | undefined> {
  if (ACCT_SYSCALL[process.arch] === undefined) return undefined;
  writeFileSync(file, '', { mode: 0o600 });
  try {
    await mustRun([...syscallArgv('$ARGV[0]'), file]);
  } catch {
    return undefined;
  }
  const stop = () => quietSync(syscallArgv('0'));
  const cancel = atExit(stop);
  const sides = new Map<number, string>([
    [process.pid, 'agent'],
    ...storageRoots.map((pid) => [pid, 'storage'] as const),
  ]);
  const size = () => {
    const fd = openSync(file, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  };
  return {
    stop: () => {
      stop();
      cancel();
    },
    mark: size,
    since: (mark) => {
      const end = size();
      const buffer = Buffer.alloc(Math.max(0, end - mark));
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, mark);
      } finally {
        closeSync(fd);
      }
      const records = new Map<number, { ppid: number; comm: string; seconds: number }>();
      for (let offset = 0; offset + RECORD_BYTES <= buffer.length; offset += RECORD_BYTES) {
        if (buffer.readUInt8(offset + 1) !== 3) continue; // not acct_v3
        const name = buffer.toString('latin1', offset + 48, offset + 64).replace(/\0.*$/s, '');
        const comm = NODE_THREADS.test(name) ? 'node' : name;
        const ticks = compT(buffer.readUInt16LE(offset + 32)) + compT(buffer.readUInt16LE(offset + 34));
        records.set(buffer.readUInt32LE(offset + 16), {
          ppid: buffer.readUInt32LE(offset + 20),
          comm,
          seconds: ticks / TICKS_PER_SECOND,
        });
      }
      const found: CpuByProgram = {};
      for (const record of records.values()) {
        const side = sideOf(record.ppid, records, sides);
        if (side === undefined) continue;
        const key = `${side} ${record.comm}`;
        found[key] = round((found[key] ?? 0) + record.seconds, 2);
      }
      return found;
    },
  };
}

/** The side of the first ancestor that is a root, through ended processes' records and then /proc. */
function sideOf(
  pid: number,
  records: ReadonlyMap<number, { readonly ppid: number }>,
  sides: ReadonlyMap<number, string>,
): string | undefined {
  for (let depth = 0; depth < 32 && pid > 1; depth++) {
    const side = sides.get(pid);
    if (side !== undefined) return side;
    const parent = records.get(pid)?.ppid ?? parentOf(pid);
    if (parent === undefined) return undefined;
    pid = parent;
  }
  return undefined;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Per program, the median over runs of its CPU seconds (0 in a run where it did not appear). */
export function cpuMedians(runs: readonly (CpuByProgram | undefined)[]): CpuByProgram | undefined {
  const known = runs.filter((run): run is CpuByProgram => run !== undefined);
  if (known.length === 0) return undefined;
  const names = [...new Set(known.flatMap((run) => Object.keys(run)))].sort();
  const medians = names.map((name) => [name, round(median(known.map((run) => run[name] ?? 0)), 2)] as const);
  return Object.fromEntries(medians.sort((a, b) => b[1] - a[1]));
}
