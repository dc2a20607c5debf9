import { readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

import { memoryOf, pssOf } from '../harness/proc.js';
import { processTree } from '../harness/processes.js';

/**
 * What the storage machine's side of a run holds, sampled every `intervalMs`: the memory of an
 * sshd's whole process tree (its listener, the sessions' sshd processes, turku-storage-ping and
 * the rsyncs they run, or the bare reference's `rsync --server`s), as the sum of its processes'
 * resident sets (each shared page counted once per process: the Node binary's pages, tens of MB,
 * count once for every Node process) and as the sum of their proportional sets (PSS: a page
 * shared by n of them counts 1/n to each, so the sum is what the tree costs the machine); how
 * many rsyncs transfer at once (rsync forks a helper of its own: only those whose parent is not
 * an rsync count), and how many Node processes (turku-storage-ping) run at once.
 */

export interface Peaks {
  readonly samples: number;
  readonly peakRssBytes: number;
  readonly peakPssBytes: number;
  readonly peakRsyncs: number;
  readonly peakNodes: number;
  /** Concurrent rsyncs on average over the samples: how busy the slots were kept. */
  readonly meanRsyncs: number;
  /** The most concurrent rsyncs in each 5 s of the run: where the slots stood idle. */
  readonly rsyncsBy5s: readonly number[];
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
}

function procOf(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return { pid, ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), comm };
  } catch {
    return undefined;
  }
}

function executable(pid: number): string {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return '';
  }
}

export function sampleTree(rootPid: number): { rss: number; pss: number; rsyncs: number; nodes: number } {
  const procs = processTree(rootPid).flatMap((pid) => procOf(pid) ?? []);
  const comms = new Map(procs.map((proc) => [proc.pid, proc.comm]));
  let rss = 0;
  let pss = 0;
  for (const proc of procs) {
    rss += memoryOf(proc.pid)?.rss ?? 0;
    pss += pssOf(proc.pid) ?? 0;
  }
  return {
    rss,
    pss,
    rsyncs: procs.filter((proc) => proc.comm === 'rsync' && comms.get(proc.ppid) !== 'rsync').length,
    // Node names its main thread "MainThread": the executable tells.
    nodes: procs.filter((proc) => executable(proc.pid) === 'node').length,
  };
}

/** Samples until stop() is called; stop() returns the peaks. */
export function startSampler(rootPid: number, intervalMs: number): { stop(): Peaks } {
  let samples = 0;
  let peakRssBytes = 0;
  let peakPssBytes = 0;
  let peakRsyncs = 0;
  let peakNodes = 0;
  let rsyncSum = 0;
  const rsyncsBy5s: number[] = [];
  const start = performance.now();
  const take = () => {
    const sample = sampleTree(rootPid);
    samples++;
    rsyncSum += sample.rsyncs;
    const bucket = Math.floor((performance.now() - start) / 5000);
    while (rsyncsBy5s.length <= bucket) rsyncsBy5s.push(0);
    rsyncsBy5s[bucket] = Math.max(rsyncsBy5s[bucket]!, sample.rsyncs);
    peakRssBytes = Math.max(peakRssBytes, sample.rss);
    peakPssBytes = Math.max(peakPssBytes, sample.pss);
    peakRsyncs = Math.max(peakRsyncs, sample.rsyncs);
    peakNodes = Math.max(peakNodes, sample.nodes);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      const meanRsyncs = Math.round((rsyncSum / samples) * 100) / 100;
      return { samples, peakRssBytes, peakPssBytes, peakRsyncs, peakNodes, meanRsyncs, rsyncsBy5s };
    },
  };
}
