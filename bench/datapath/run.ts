import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { errorText, say } from '../harness/lifecycle.js';
import { fileSystemOf, machineInfo, versionOf } from '../harness/machine.js';
import { writeResults } from '../harness/results.js';
import { median, round } from '../harness/stats.js';
import { benchDataset, type DatasetResult } from './dataset-bench.js';
import { mixedDataset, smallFilesDataset, writeDataset, type Dataset } from './datasets.js';
import { lastRsyncArgv, settler } from './measure.js';
import { benchNothingDue, type NothingDueResult } from './nothing-due.js';
import { BASELINE, report, targets } from './report.js';
import { datapathOutput, datapathSettings, type DatapathSettings } from './settings.js';
import { createWorld, makeBenchRoot, type World } from './world.js';

/**
 * The data-path benchmark (`node dist/bench/datapath/run.js` after `npm run build`): how long a
 * whole Turku backup cycle takes, against a bare `rsync -a` of the same data from the agent
 * machine to the storage machine over ssh, and (for reference) a local `rsync -a` between two
 * directories, on one machine. See bench/datapath/README.md.
 *
 * For each dataset (A: ~2,000 mixed files, ~500 MB; B: 50,000 small files), timed in the same run
 * (bare copies first, then Turku, `sync` before each):
 *   full        - turku-agent-ping of a triggered source with no snapshot yet on the storage, vs
 *                 `rsync -a SRC/ [root@STORAGE:]DST/` into an empty directory;
 *   incremental - after ~1 % of the files (≤ 1 % of the bytes) were rewritten, vs `rsync -a` onto
 *                 the previous bare copy;
 *   no change   - the same again with nothing changed;
 *   restore     - scripted restore of `latest` into an empty directory, vs `rsync -a` of that
 *                 snapshot into an empty directory.
 * Then the check-in of a machine with nothing due.
 *
 * Environment (for smoke runs): BENCH_SCALE (dataset size factor, default 1), BENCH_RUNS (runs per
 * cheap measurement, default 3), BENCH_LARGE_RUNS (runs of A's full backup and restore, default 2),
 * BENCH_DATASETS ("A,B"), BENCH_SEED, BENCH_OUTPUT (file name in bench/results/, default
 * datapath.json).
 */

interface Measured {
  readonly results: DatasetResult[];
  readonly failures: { step: string; error: string }[];
  nothingDue: NothingDueResult | undefined;
  readonly rsyncArgv: { pull: string | null; restore: string | null };
  readonly busyReadings: readonly number[];
  readonly fileSystem: string;
}

/** Generates the datasets, builds the deployment in a fresh run directory, and measures; always cleans up. */
async function measure(settings: DatapathSettings): Promise<Measured> {
  const { readings, settle } = settler();
  const root = await makeBenchRoot();
  const measured: Measured = {
    results: [],
    failures: [],
    nothingDue: undefined,
    rsyncArgv: { pull: null, restore: null },
    busyReadings: readings,
    fileSystem: fileSystemOf(root),
  };
  let world: World | undefined;
  try {
    const datasets: Dataset[] = settings.datasets.map((name) =>
      name === 'A' ? mixedDataset(settings.seed, settings.scale) : smallFilesDataset(settings.seed, settings.scale),
    );
    const sourceOf = (dataset: Dataset) => join(root, 'data', dataset.name);
    const generated = new Map<string, number>();
    for (const dataset of datasets) {
      const start = performance.now();
      writeDataset(sourceOf(dataset), settings.seed, dataset);
      generated.set(dataset.name, round((performance.now() - start) / 1000, 2));
      say(`Generated dataset ${dataset.name} in ${generated.get(dataset.name)} s`);
    }
    await mkdir(join(root, 'bare'), { recursive: true });
    world = await createWorld(
      root,
      Object.fromEntries(datasets.map((dataset) => [dataset.name, { path: sourceOf(dataset) }])),
    );
    say(`Agent in network namespace ${world.netns}; API and sshd (port ${world.sshdPort}) on ${world.hostAddress}`);
    for (const dataset of datasets) {
      try {
        const generateSeconds = generated.get(dataset.name) ?? 0;
        measured.results.push(await benchDataset(world, settings, settle, dataset, sourceOf(dataset), generateSeconds));
        measured.rsyncArgv.pull ??= await lastRsyncArgv(world, 'pull');
        measured.rsyncArgv.restore ??= await lastRsyncArgv(world, 'restore');
      } catch (error) {
        const message = errorText(error);
        say(`  dataset ${dataset.name} failed: ${message}`);
        measured.failures.push({ step: `dataset ${dataset.name}`, error: message });
      }
    }
    try {
      measured.nothingDue = await benchNothingDue(world, settings, settle);
    } catch (error) {
      const message = errorText(error);
      say(`  nothing-due ping failed: ${message}`);
      measured.failures.push({ step: 'nothing-due ping', error: message });
    }
  } finally {
    await world?.destroy();
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  }
  return measured;
}

/** The results file's content (bench/results/datapath.json: keep its shape, the README cites it). */
function resultsFile(settings: DatapathSettings, measured: Measured, started: number) {
  const { results, nothingDue, failures, rsyncArgv, busyReadings, fileSystem } = measured;
  const checks = targets(results, nothingDue);
  const output = {
    date: new Date().toISOString(),
    node: process.version,
    machine: {
      ...machineInfo(),
      fileSystem,
      rsync: versionOf(['rsync', '--version']),
      ssh: versionOf(['ssh', '-V']),
    },
    settings,
    totalSeconds: round((Date.now() - started) / 1000, 1),
    baseline: BASELINE,
    turku:
      'turku-agent-ping in a network namespace that drops inbound traffic: check-in with turku-api (in the ' +
      'benchmark process), rsync daemon on 127.0.0.1, ssh -R to the storage’s own sshd, whose forced command ' +
      '(turku-storage-ping) checks in, pulls with rsync through the tunnel into a link-dest snapshot and reports. ' +
      'Restore: turku-agent-ping --restore --restore-source NAME --restore-target EMPTY_DIR (the storage pushes ' +
      'latest with rsync --archive --compress --numeric-ids --hard-links).',
    storageRsyncArgv: rsyncArgv,
    bareRsyncArgv: 'rsync -a SRC/ DST/',
    notes: [
      'Each pair is timed bare first, then Turku, with `sync` and a wait for an idle machine before each; page ' +
        'caches cannot be dropped, so the source (and the snapshot, before restores) is read once before timing.',
      'Full runs set the source’s snapshots on the storage aside first, so each one starts with no base.',
      'Nothing is deleted between timed runs: trees are renamed aside and removed at the end. On ext4 without a ' +
        'journal (as here), creating files within ~30 s of a mass delete is several times slower (the inode ' +
        'allocator skips and reads every recently deleted inode).',
      'bareLinkDest (incremental and no change) is a reference without a target: `rsync -a --link-dest=COPY SRC/ ' +
        'NEW/` with COPY the bare copy before the round, the local equivalent of the storage’s snapshot.',
      'Incremental rounds each rewrite a different ~1 % of the files (≤ 1 % of the bytes), same sizes, new mtimes.',
      'machineCpuSeconds = CPU the whole machine spent during the run (all cores); other work running at the same ' +
        'time is included. busyBeforeRunsPercent = the machine’s load before each timed run.',
      'Timings include `ip netns exec` (a few ms) for the Turku runs.',
    ],
    busyBeforeRunsPercent: {
      median: median(busyReadings),
      max: busyReadings.length === 0 ? null : Math.max(...busyReadings),
    },
    datasets: results,
    nothingDue: nothingDue ?? null,
    failures,
    targets: checks,
  };
  return output;
}

async function main(): Promise<void> {
  const settings = datapathSettings();
  const output = datapathOutput();
  const started = Date.now();
  const measured = await measure(settings);
  const results = resultsFile(settings, measured, started);
  await writeResults(output, results);
  report(measured.results, measured.nothingDue, results.targets);
  say(`\nTotal ${results.totalSeconds} s. Results: bench/results/${output}`);
  if (measured.failures.length > 0) process.exitCode = 1;
}

await main();
