import { randomFillSync } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { delay, say } from '../harness/lifecycle.js';
import { run, type Finished } from '../harness/processes.js';
import { median, round } from '../harness/stats.js';
import type { Agent, Deployment } from './deployment.js';
import { inBatches } from './netns.js';
import { startCpuSplit, type CpuSplit } from './cpu-split.js';
import { startSampler, type Peaks } from './sampler.js';
import type { FleetSettings } from './settings.js';

/** The fleet benchmark's three measurements: the bare reference, one agent alone, and all agents at once. */

export interface RunFigures extends Peaks {
  readonly seconds: number;
  readonly cpu: CpuSplit;
}

export interface TurkuFigures extends RunFigures {
  readonly succeeded: number;
  readonly failed: number;
  readonly busyAnswers: number;
  readonly mostBusyAnswers: number;
  readonly medianPingSeconds: number;
  readonly longestPingSeconds: number;
  /** The first lines of what failed agents said. */
  readonly failures: readonly string[];
}

export interface FleetResult {
  readonly agents: number;
  readonly megabytes: number;
  readonly files: number;
  readonly slots: number;
  readonly parallel: number;
  readonly spreadSeconds: number;
  readonly reference: RunFigures;
  readonly solo: RunFigures;
  readonly turku: TurkuFigures;
}

/** Agent k's source: `files` files of random bytes, `megabytes` in all. */
export function writeSource(dir: string, settings: Pick<FleetSettings, 'megabytes' | 'files'>): void {
  mkdirSync(dir, { recursive: true });
  const size = Math.max(1, Math.round((settings.megabytes * 1e6) / settings.files));
  const buffer = Buffer.alloc(Math.min(size, 1 << 20));
  for (let file = 0; file < settings.files; file++) {
    const fd = openSync(join(dir, `blob-${file}`), 'w');
    for (let written = 0; written < size; written += buffer.length) {
      randomFillSync(buffer);
      writeSync(fd, buffer, 0, Math.min(buffer.length, size - written));
    }
    closeSync(fd);
  }
}

/** `work` timed, with the storage side's process tree (under the sshd `rootPid`) sampled and CPU counted. */
async function sampled<T>(
  deployment: Deployment,
  rootPid: number,
  sampleMs: number,
  work: () => Promise<T>,
): Promise<[T, RunFigures]> {
  await run(['sync']);
  const sampler = startSampler(rootPid, sampleMs);
  const cpu = startCpuSplit(rootPid, deployment.api.pid);
  const start = performance.now();
  const value = await work();
  const seconds = round((performance.now() - start) / 1000, 2);
  return [value, { seconds, ...sampler.stop(), cpu: cpu() }];
}

/** `parallel` bare copies at a time, one per agent, into `<root>/reference/<k>`. */
export async function measureReference(
  deployment: Deployment,
  agents: readonly Agent[],
  root: string,
  settings: FleetSettings,
): Promise<RunFigures> {
  mkdirSync(join(root, 'reference'), { recursive: true });
  const failed: string[] = [];
  const [, figures] = await sampled(deployment, deployment.plainSshd.pid, settings.sampleMs, () =>
    inBatches(
      agents,
      async (agent) => {
        const copy = await deployment.bareCopy(agent, join(root, 'reference', String(agent.index)));
        if (copy.code !== 0) failed.push(`agent ${agent.index}: ${copy.stderr.trim().split('\n').pop() ?? ''}`);
      },
      settings.parallel,
    ),
  );
  if (failed.length > 0) throw new Error(`The bare reference failed:\n${failed.slice(0, 5).join('\n')}`);
  return figures;
}

/** One agent backing up alone: what one session costs the storage. */
export async function measureSolo(deployment: Deployment, agent: Agent, settings: FleetSettings): Promise<RunFigures> {
  await deployment.trigger(agent);
  const [ping, figures] = await sampled(deployment, deployment.storageSshd.pid, settings.sampleMs, () =>
    deployment.ping(agent),
  );
  if (ping.code !== 0) throw new Error(`The lone agent's backup failed:\n${ping.stderr.slice(-2000)}`);
  return figures;
}

const BUSY_LINE = /busy \(\d+ backups running\); trying again/g;

/** Every agent's ping, started evenly over `spreadSeconds`; all of them triggered first. */
export async function measureFleet(
  deployment: Deployment,
  agents: readonly Agent[],
  settings: FleetSettings,
): Promise<TurkuFigures> {
  for (const agent of agents) await deployment.trigger(agent);
  const gapMs = agents.length > 1 ? (settings.spreadSeconds * 1000) / (agents.length - 1) : 0;
  const [pings, figures] = await sampled(deployment, deployment.storageSshd.pid, settings.sampleMs, () =>
    Promise.all(
      agents.map(async (agent): Promise<Finished> => {
        await delay(agent.index * gapMs);
        return deployment.ping(agent);
      }),
    ),
  );
  const failures: string[] = [];
  let succeeded = 0;
  for (const [index, ping] of pings.entries()) {
    const stored = existsSync(join(deployment.machinesDir, agents[index]!.uuid, 'data.snapshots', 'latest'));
    if (ping.code === 0 && stored) succeeded++;
    else failures.push(`agent ${index} (exit ${ping.code}${stored ? '' : ', no snapshot'}): ${lastLine(ping.stderr)}`);
  }
  const busy = pings.map((ping) => ping.stderr.match(BUSY_LINE)?.length ?? 0);
  for (const failure of failures.slice(0, 5)) say(`  failed: ${failure}`);
  return {
    ...figures,
    succeeded,
    failed: agents.length - succeeded,
    busyAnswers: busy.reduce((sum, count) => sum + count, 0),
    mostBusyAnswers: Math.max(0, ...busy),
    medianPingSeconds: round(median(pings.map((ping) => ping.seconds)), 2),
    longestPingSeconds: round(Math.max(...pings.map((ping) => ping.seconds)), 2),
    failures: failures.slice(0, 10),
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
