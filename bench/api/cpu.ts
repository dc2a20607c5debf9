import { childrenOf, cpuSecondsOf, machineCpuSeconds } from '../harness/proc.js';

/**
 * CPU used during one measured row, from /proc, in percent of one core: the server under load,
 * the database server (PostgreSQL's postmaster and its backends), the load generator (wrk, a child
 * of this process: its time shows up in this process's reaped-children total once it has exited)
 * and the whole machine; what is left is "other" (the kernel's softirqs, other work).
 */

export interface CpuShare {
  readonly serverPercent: number;
  readonly loadGeneratorPercent: number;
  readonly databasePercent: number;
  /** the whole machine (200 = both cores of a 2-core machine busy) */
  readonly machinePercent: number;
  /** machine less the three above */
  readonly otherPercent: number;
}

export interface CpuSample {
  readonly at: number;
  readonly server: number;
  /** CPU seconds of this process's exited and reaped children (wrk, once it is done) */
  readonly reapedChildren: number;
  /** CPU seconds of the database's root process, with its exited children */
  readonly databaseRoot: number;
  /** CPU seconds of each live child of the database's root process */
  readonly databaseChildren: ReadonlyMap<number, number>;
  readonly machine: number;
}

function ownReapedChildrenSeconds(): number {
  return (cpuSecondsOf(process.pid, { reapedChildren: true }) ?? 0) - (cpuSecondsOf(process.pid) ?? 0);
}

export function cpuSample(serverPid: number, databasePid: number | undefined): CpuSample {
  const children = new Map<number, number>();
  for (const pid of databasePid === undefined ? [] : childrenOf(databasePid)) {
    const seconds = cpuSecondsOf(pid);
    if (seconds !== undefined) children.set(pid, seconds);
  }
  return {
    at: performance.now(),
    server: cpuSecondsOf(serverPid) ?? Number.NaN,
    reapedChildren: ownReapedChildrenSeconds(),
    databaseRoot: databasePid === undefined ? 0 : (cpuSecondsOf(databasePid, { reapedChildren: true }) ?? 0),
    databaseChildren: children,
    machine: machineCpuSeconds().busy,
  };
}

/**
 * CPU seconds the database server used between two samples: the postmaster's own, every backend
 * live at the end (from 0 if it started meanwhile), and those that exited meanwhile, whose time
 * went to the postmaster's reaped-children total (less what they had used before the window).
 */
function databaseSeconds(before: CpuSample, after: CpuSample): number {
  let sum = after.databaseRoot - before.databaseRoot;
  for (const [pid, seconds] of after.databaseChildren) sum += seconds - (before.databaseChildren.get(pid) ?? 0);
  for (const [pid, seconds] of before.databaseChildren) if (!after.databaseChildren.has(pid)) sum -= seconds;
  return sum;
}

export function cpuShare(before: CpuSample, after: CpuSample): CpuShare {
  const elapsed = (after.at - before.at) / 1000;
  const percent = (seconds: number) => Math.round((seconds / elapsed) * 100);
  const serverPercent = percent(after.server - before.server);
  const loadGeneratorPercent = percent(after.reapedChildren - before.reapedChildren);
  const databasePercent = percent(databaseSeconds(before, after));
  const machinePercent = percent(after.machine - before.machine);
  return {
    serverPercent,
    loadGeneratorPercent,
    databasePercent,
    machinePercent,
    otherPercent: machinePercent - serverPercent - loadGeneratorPercent - databasePercent,
  };
}
