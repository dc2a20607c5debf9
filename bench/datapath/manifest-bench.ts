import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

import { say } from '../harness/lifecycle.js';
import { type Finished } from '../harness/processes.js';
import { median, round } from '../harness/stats.js';
import { setAside } from './dataset-bench.js';
import { mutateDataset, warmUp, type Dataset } from './datasets.js';
import { runInUnit } from './environment.js';
import { check, logSize, timed, treeSummary, turkuBackup, type Timing } from './measure.js';
import { type DatapathSettings } from './settings.js';
import { type World } from './world.js';

/**
 * What the snapshots' manifests cost and how fast verify reads (docs/datapath.md, "Manifests and
 * verify"), per dataset, in the same run:
 *   full, incremental - Turku's backup with the storage's `manifest` off and on, in pairs (the
 *                       order alternating), incrementals after ~1 % of the files changed; with it
 *                       off, the snapshot's manifest is recorded after the fact, untimed, so that
 *                       each "on" incremental has a base manifest to reuse, as in production. The
 *                       target is the difference of the off and on medians (everything the
 *                       manifest costs, the hashing during a full backup's rsync included); beside
 *                       it, from the same runs, the median of the pairs' own differences (less
 *                       moved by a machine whose speed drifts), the spread of the "off" runs
 *                       (their noise, several % on a shared machine), the recording's own time
 *                       after rsync (the storage's log) against the "on" backup's, and the
 *                       storage's node CPU;
 *   verify            - `turku-storage-admin verify` of the latest snapshot against
 *                       `find -type f | xargs sha256sum` of the same tree, in turns, cache warm.
 */

export interface ManifestCost {
  readonly off: Timing[];
  readonly on: Timing[];
  /** The storage's own "Recorded the manifest … in N ms" of each "on" run. */
  readonly recordMs: number[];
  readonly offMedianSeconds: number;
  readonly onMedianSeconds: number;
  /** (on − off) / off of the medians, in percent. */
  readonly addedPercent: number;
  /**
   * The median of each pair's (on − off) / off, in percent: a pair's two runs are back to back, so
   * a machine whose speed drifts between pairs (a shared host's) moves both alike; beside
   * `addedPercent`, which the target reads.
   */
  readonly pairedPercent: number;
  /**
   * The recording's own median time (after rsync) against the "on" backups' median, in percent. A
   * full backup hashes most files while rsync runs, which this does not count: see `storageNodeCpu`.
   */
  readonly recordPercent: number;
  /** Median CPU seconds of the storage's node processes, off and on (process accounting; null without it). */
  readonly storageNodeCpu: { readonly off: number; readonly on: number } | null;
  /** (max − min) / median of the "off" runs, in percent: the benchmark's own noise, beside `addedPercent`. */
  readonly offSpreadPercent: number;
}

export interface VerifySpeed {
  readonly bytes: number;
  readonly files: number;
  readonly verify: Timing[];
  readonly sha256sum: Timing[];
  readonly verifyMBps: number;
  readonly sha256sumMBps: number;
  /** verify's throughput ÷ sha256sum's. */
  readonly ratio: number;
}

export interface ManifestResult {
  readonly name: string;
  readonly full: ManifestCost;
  readonly incremental: ManifestCost;
  readonly verify: VerifySpeed;
}

/** Whole, or as a delta on the base's (lib/storage/manifest/record.ts). */
const RECORDED = /Recorded the manifest of \S+(?: as a delta on that of \S+)?: .* in (\d+) ms/;

export async function benchManifest(
  world: World,
  settings: DatapathSettings,
  settle: () => Promise<void>,
  dataset: Dataset,
  source: string,
): Promise<ManifestResult> {
  const snapshots = join(world.machineDir, `${dataset.name}.snapshots`);
  const large = dataset.bytes >= 100_000_000;
  const heavyRuns = large ? settings.largeRuns : settings.runs;
  say(`\nDataset ${dataset.name}: manifests off and on, verify against sha256sum`);
  let previous: string | null = null;

  /** One backup with the manifest `on` or not; the storage's own manifest time when on. */
  const backup = async (on: boolean, into: { off: Timing[]; on: Timing[]; recordMs: number[] }) => {
    await world.configureStorage({ manifest: on });
    await settle();
    const offset = await logSize(world);
    const done = await turkuBackup(world, dataset.name, previous);
    previous = done.snapshot;
    (on ? into.on : into.off).push(done.timing);
    if (on) {
      const text = (await readFile(world.storageLog)).subarray(offset).toString('utf8');
      const ms = RECORDED.exec(text)?.[1];
      if (ms === undefined) throw new Error(`No manifest recorded for ${done.snapshot}`);
      into.recordMs.push(Number(ms));
    } else {
      // Untimed: the next "on" incremental has a base manifest, as every backup after the first would.
      check(await world.storageAdmin('manifest', world.uuid, dataset.name, done.snapshot), 'manifest after the fact');
    }
    return done.timing;
  };
  const pairs = async (label: string, runs: number, before: (i: number) => Promise<void>): Promise<ManifestCost> => {
    const into = { off: [] as Timing[], on: [] as Timing[], recordMs: [] as number[] };
    for (let i = 0; i < runs; i++) {
      for (const on of i % 2 === 0 ? [false, true] : [true, false]) {
        await before(i);
        await backup(on, into);
      }
      say(
        `  ${label} #${i + 1}: manifest off ${described(into.off.at(-1)!)}, on ${described(into.on.at(-1)!)} ` +
          `(recording ${into.recordMs.at(-1)} ms)`,
      );
    }
    return cost(into);
  };

  const full = await pairs('full', heavyRuns, async () => {
    for (const path of [snapshots, join(world.machineDir, dataset.name)]) await setAside(world, path);
    previous = null;
  });
  let changes = 0;
  const incremental = await pairs('incremental (1%)', settings.runs, () => {
    // Rounds of changes of their own, apart from those of the main incremental runs.
    mutateDataset(source, settings.seed, dataset, 1000 + ++changes);
    return Promise.resolve();
  });
  await world.configureStorage({});

  const latest = join(snapshots, await readlink(join(snapshots, 'latest')));
  warmUp(latest, dataset);
  const { files, bytes } = treeSummary(latest);
  const verify: Timing[] = [];
  const sha256sum: Timing[] = [];
  const timedRun = async (what: string, action: () => Promise<Finished>, into: Timing[]) => {
    await settle();
    const run = await timed(action);
    check(run.finished, what);
    into.push(run.timing);
  };
  for (let i = 0; i < settings.runs; i++) {
    await timedRun(
      'sha256sum',
      () => runInUnit(['sh', '-c', 'cd "$1" && find . -type f -print0 | xargs -0 sha256sum > /dev/null', 'sh', latest]),
      sha256sum,
    );
    await timedRun('turku-storage-admin verify', () => world.storageAdmin('verify', world.uuid, dataset.name), verify);
    say(
      `  verify #${i + 1}: turku-storage-admin verify ${verify.at(-1)!.seconds} s, sha256sum ${sha256sum.at(-1)!.seconds} s`,
    );
  }
  const mbps = (timings: readonly Timing[]) => round(bytes / 1e6 / median(timings.map((t) => t.seconds)), 1);
  const verifyMBps = mbps(verify);
  const sha256sumMBps = mbps(sha256sum);
  return {
    name: dataset.name,
    full,
    incremental,
    verify: { bytes, files, verify, sha256sum, verifyMBps, sha256sumMBps, ratio: round(verifyMBps / sha256sumMBps, 2) },
  };
}

/** A run's seconds and, when the storage's log gave them, its phases (before rsync / rsync / after). */
function described(timing: Timing): string {
  const phases = timing.phases;
  return phases === undefined
    ? `${timing.seconds} s`
    : `${timing.seconds} s (${phases.beforeRsync} / ${phases.rsync} / ${phases.afterRsync})`;
}

function cost(into: { off: Timing[]; on: Timing[]; recordMs: number[] }): ManifestCost {
  const offMedianSeconds = round(median(into.off.map((t) => t.seconds)), 3);
  const onMedianSeconds = round(median(into.on.map((t) => t.seconds)), 3);
  const off = into.off.map((t) => t.seconds);
  return {
    ...into,
    offMedianSeconds,
    onMedianSeconds,
    addedPercent: round(((onMedianSeconds - offMedianSeconds) / offMedianSeconds) * 100, 1),
    pairedPercent: round(median(into.on.map((t, i) => (t.seconds / into.off[i]!.seconds - 1) * 100)), 1),
    recordPercent: round((median(into.recordMs) / 1000 / onMedianSeconds) * 100, 1),
    storageNodeCpu: nodeCpu(into.off) === null ? null : { off: nodeCpu(into.off)!, on: nodeCpu(into.on)! },
    offSpreadPercent: round(((Math.max(...off) - Math.min(...off)) / offMedianSeconds) * 100, 1),
  };
}

function nodeCpu(timings: readonly Timing[]): number | null {
  const seconds = timings.map((t) => t.cpuSecondsByProgram?.['storage node']);
  return seconds.some((value) => value === undefined) ? null : round(median(seconds as number[]), 2);
}
