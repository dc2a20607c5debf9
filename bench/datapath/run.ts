import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { errorText, say } from '../harness/lifecycle.js';
import { fileSystemOf, machineInfo, versionOf } from '../harness/machine.js';
import { writeResults } from '../harness/results.js';
import { median, round } from '../harness/stats.js';
import { ANCHOR_SETTINGS, ANCHOR_VERSION_COMMANDS } from './anchors.js';
import { AES_GCM, benchDataset, type DatasetResult } from './dataset-bench.js';
import { ENVIRONMENT_NOTE, unitEnvironment } from './environment.js';
import { mixedDataset, smallFilesDataset, writeDataset, type Dataset } from './datasets.js';
import { type CpuAccounting, startCpuAccounting } from './cpu-accounting.js';
import { lastRsyncArgv, settler, useCpuAccounting } from './measure.js';
import { benchManifest, type ManifestResult } from './manifest-bench.js';
import { benchNothingDue, type NothingDueResult } from './nothing-due.js';
import { BASELINE, report, reportManifest } from './report.js';
import { LIMITS, targets } from './targets.js';
import { datapathOutput, datapathSettings, type DatapathSettings } from './settings.js';
import { createWorld, makeBenchRoot, type World } from './world.js';

/**
 * The data-path benchmark (`node dist/bench/datapath/run.js` after `npm run build`): how long a
 * whole Turku backup cycle takes, against a bare `rsync -a` of the same data from the agent
 * machine to the storage machine over ssh, a local `rsync -a` between two directories, and what
 * an operator would use instead (`borg create`, `restic backup`), on one machine, every program
 * in a systemd unit's environment. See bench/datapath/README.md.
 *
 * For each dataset (A: ~2,000 mixed files, ~500 MB; B: 50,000 small files), timed in the same run
 * (references first, then Turku, `sync` before each):
 *   full        - turku-agent-ping of a triggered source with no snapshot yet on the storage, vs
 *                 `rsync -a SRC/ [root@STORAGE:]DST/` into an empty directory (over ssh also with
 *                 AES-GCM), and borg / restic into fresh repositories;
 *   incremental - after ~1 % of the files (≤ 1 % of the bytes) were rewritten, vs `rsync -a` onto
 *                 the previous bare copy and the next borg archive / restic snapshot;
 *   no change   - the same again with nothing changed;
 *   restore     - scripted restore of `latest` into an empty directory, vs `rsync -a` of that
 *                 snapshot into an empty directory.
 * Then, per dataset, what the snapshots' manifests add to a full and a 1 % incremental backup (the
 * storage's `manifest` off and on, in pairs) and verify's throughput against sha256sum
 * (manifest-bench.ts). Then the check-in of a machine with nothing due, against `node -e 0` taken
 * in turns with it.
 *
 * Environment (for smoke runs): BENCH_SCALE (dataset size factor, default 1), BENCH_RUNS (runs per
 * cheap measurement, default 3), BENCH_LARGE_RUNS (runs of A's full backup and restore, default 2),
 * BENCH_DATASETS ("A,B"), BENCH_SEED, BENCH_QUIET_SECONDS (longest wait for an idle machine before
 * each timed run, default 30), BENCH_OUTPUT (file name in bench/results/, default datapath.json).
 */

interface Measured {
  readonly results: DatasetResult[];
  readonly manifest: ManifestResult[];
  readonly failures: { step: string; error: string }[];
  nothingDue: NothingDueResult | undefined;
  readonly rsyncArgv: { pull: string | null; restore: string | null };
  readonly busyReadings: readonly number[];
  readonly fileSystem: string;
  cpuAccounting: boolean;
}

/** Generates the datasets, builds the deployment in a fresh run directory, and measures; always cleans up. */
async function measure(settings: DatapathSettings): Promise<Measured> {
  const { readings, settle } = settler(settings.quietWaitSeconds);
  const root = await makeBenchRoot();
  const measured: Measured = {
    results: [],
    manifest: [],
    failures: [],
    nothingDue: undefined,
    rsyncArgv: { pull: null, restore: null },
    busyReadings: readings,
    fileSystem: fileSystemOf(root),
    cpuAccounting: false,
  };
  let world: World | undefined;
  let accounting: CpuAccounting | undefined;
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
    accounting = await startCpuAccounting(join(root, 'acct'), world.sshdPids);
    measured.cpuAccounting = accounting !== undefined;
    useCpuAccounting(accounting);
    for (const dataset of datasets) {
      if (settings.steps.includes('backups')) {
        try {
          const generateSeconds = generated.get(dataset.name) ?? 0;
          measured.results.push(
            await benchDataset(world, settings, settle, dataset, sourceOf(dataset), generateSeconds),
          );
          measured.rsyncArgv.pull ??= await lastRsyncArgv(world, 'pull');
          measured.rsyncArgv.restore ??= await lastRsyncArgv(world, 'restore');
        } catch (error) {
          const message = errorText(error);
          say(`  dataset ${dataset.name} failed: ${message}`);
          measured.failures.push({ step: `dataset ${dataset.name}`, error: message });
        }
      }
      if (settings.steps.includes('manifests')) {
        try {
          measured.manifest.push(await benchManifest(world, settings, settle, dataset, sourceOf(dataset)));
        } catch (error) {
          const message = errorText(error);
          say(`  manifests of dataset ${dataset.name} failed: ${message}`);
          measured.failures.push({ step: `manifests of dataset ${dataset.name}`, error: message });
        }
      }
    }
    if (settings.steps.includes('nothing-due')) {
      try {
        measured.nothingDue = await benchNothingDue(world, settings, settle);
      } catch (error) {
        const message = errorText(error);
        say(`  nothing-due ping failed: ${message}`);
        measured.failures.push({ step: 'nothing-due ping', error: message });
      }
    }
  } finally {
    // Before destroy(), which drops the exit hook's actions, the one turning accounting off included.
    accounting?.stop();
    await world?.destroy();
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
  }
  return measured;
}

/** The results file's content (bench/results/datapath.json: keep its shape, the README cites it). */
function resultsFile(settings: DatapathSettings, measured: Measured, started: number) {
  const { results, nothingDue, failures, rsyncArgv, busyReadings, fileSystem } = measured;
  const checks = targets(results, nothingDue, measured.manifest);
  const output = {
    date: new Date().toISOString(),
    node: process.version,
    machine: {
      ...machineInfo(),
      fileSystem,
      rsync: versionOf(['rsync', '--version']),
      ssh: versionOf(['ssh', '-V']),
      borg: versionOf(ANCHOR_VERSION_COMMANDS.borg),
      restic: versionOf(ANCHOR_VERSION_COMMANDS.restic),
    },
    environment: { variables: unitEnvironment(), home: 'set for borg and restic only', note: ENVIRONMENT_NOTE },
    settings,
    totalSeconds: round((Date.now() - started) / 1000, 1),
    baseline: BASELINE,
    turku:
      'turku-agent-ping in a network namespace that drops inbound traffic: check-in with turku-api (in the ' +
      'benchmark process), rsync daemon on 127.0.0.1, ssh -R to the storage’s own sshd, whose forced command ' +
      '(turku-storage-ping) checks in, pulls with rsync through the tunnel into a link-dest snapshot and reports. ' +
      'Restore: turku-agent-ping --restore --restore-source NAME --restore-target EMPTY_DIR (the storage pushes ' +
      'latest with rsync --archive --numeric-ids --sockopts=TCP_NODELAY --hard-links).',
    storageRsyncArgv: rsyncArgv,
    bareRsyncArgv: 'rsync -a SRC/ DST/',
    bareSshAesGcmArgv: `rsync -a -e "ssh -c ${AES_GCM} ..." SRC/ root@STORAGE:DST/`,
    anchors: ANCHOR_SETTINGS,
    limits: LIMITS,
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
      measured.cpuAccounting
        ? 'cpuSecondsByProgram (and the *CpuMedianSeconds) = user + system CPU seconds of the processes that ended ' +
          'during the run, from the kernel’s process accounting, per side ("agent" = started by the benchmark, in the ' +
          'agent’s namespace for Turku and the copies over ssh; "storage" = under one of the storage’s sshds) and ' +
          'command name; the kernel’s own network and file-system work is not in it.'
        : 'Process accounting was not available: no per-program CPU seconds.',
      'Timings include `env -i` (about 1 ms) for every run and `ip netns exec` (a few ms) for the Turku runs and the ' +
        'copies over ssh.',
      'Each full round starts the anchors over with fresh repositories (created untimed); incremental and no-change ' +
        'rounds add the next borg archive / restic snapshot of the same source to them.',
    ],
    busyBeforeRunsPercent: {
      median: median(busyReadings),
      max: busyReadings.length === 0 ? null : Math.max(...busyReadings),
    },
    datasets: results,
    manifest: measured.manifest,
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
  reportManifest(measured.manifest);
  report(measured.results, measured.nothingDue, results.targets);
  say(`\nTotal ${results.totalSeconds} s. Results: bench/results/${output}`);
  if (measured.failures.length > 0) process.exitCode = 1;
}

await main();
