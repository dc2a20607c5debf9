import { cpuSecondsOf, machineCpuSeconds } from '../harness/proc.js';

/**
 * Where a run's CPU time went, in CPU seconds summed over cores: the storage side (an sshd and
 * every session it ran: sshd, turku-storage-ping, rsync, cp, the manifest), the agent side (the
 * processes this benchmark started and has waited for: turku-agent-ping or the bare rsync, with
 * their ssh clients and rsync daemons), the API process, this benchmark itself (spawning, sampling)
 * and the whole machine, beside the CPU seconds the run's wall time offered.
 *
 * Read from /proc as times of processes that have exited and been waited for (a parent's cutime),
 * so a side's figure is complete only once its processes have ended: true of both sides at the end
 * of a run, when every session and ping has finished.
 */

export interface CpuSplit {
  readonly storage: number;
  readonly agents: number;
  readonly api: number;
  readonly bench: number;
  readonly machineBusy: number;
  /** Wall time × cores: the most the run could have used. */
  readonly machineTotal: number;
}

interface Reading {
  readonly storage: number;
  readonly api: number;
  readonly benchAndChildren: number;
  readonly bench: number;
  readonly machine: ReturnType<typeof machineCpuSeconds>;
}

function read(storagePid: number, apiPid: number): Reading {
  const own = process.cpuUsage();
  return {
    storage: cpuSecondsOf(storagePid, { reapedChildren: true }) ?? 0,
    api: cpuSecondsOf(apiPid) ?? 0,
    benchAndChildren: cpuSecondsOf(process.pid, { reapedChildren: true }) ?? 0,
    bench: (own.user + own.system) / 1e6,
    machine: machineCpuSeconds(),
  };
}

/** Starts counting; the returned function gives the split since then. */
export function startCpuSplit(storagePid: number, apiPid: number): () => CpuSplit {
  const before = read(storagePid, apiPid);
  return () => {
    const after = read(storagePid, apiPid);
    const bench = after.bench - before.bench;
    const round = (seconds: number) => Math.round(seconds * 10) / 10;
    return {
      storage: round(after.storage - before.storage),
      agents: round(after.benchAndChildren - before.benchAndChildren - bench),
      api: round(after.api - before.api),
      bench: round(bench),
      machineBusy: round(after.machine.busy - before.machine.busy),
      machineTotal: round(after.machine.total - before.machine.total),
    };
  };
}
