import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { listBackups } from '../../lib/api/admin/commands.js';
import { machineCpuSeconds } from '../api/proc.js';
import { median, round } from '../api/stats.js';
import {
  mixedDataset,
  mutateDataset,
  smallFilesDataset,
  warmUp,
  writeDataset,
  type Dataset,
  type Mutation,
} from './datasets.js';
import { createWorld, makeBenchRoot, run, type Finished, type World } from './world.js';

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

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === '' ? undefined : value;
}

function numberEnv(name: string, fallback: number, { integer = true, min = 1 } = {}): number {
  const text = env(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${text}"`);
  }
  return value;
}

const DATASET_NAMES = ['A', 'B'] as const;
type DatasetName = (typeof DATASET_NAMES)[number];

const SETTINGS = {
  scale: numberEnv('BENCH_SCALE', 1, { integer: false, min: 0.001 }),
  runs: numberEnv('BENCH_RUNS', 3),
  largeRuns: numberEnv('BENCH_LARGE_RUNS', 2),
  datasets: (env('BENCH_DATASETS') ?? 'A,B').split(',').map((name) => {
    const trimmed = name.trim();
    if (!(DATASET_NAMES as readonly string[]).includes(trimmed)) throw new Error(`BENCH_DATASETS: unknown "${name}"`);
    return trimmed as DatasetName;
  }),
  nothingDueRuns: 11,
  seed: env('BENCH_SEED') ?? 'turku-bench-datapath',
};
const OUTPUT = env('BENCH_OUTPUT') ?? 'datapath.json';
if (!/^datapath[\w.-]*\.json$/.test(OUTPUT)) throw new Error(`BENCH_OUTPUT: expected datapath*.json, got "${OUTPUT}"`);
const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

const TARGET_FULL_RATIO = 1.3;
const TARGET_INCREMENTAL_RATIO = 1.5;
const TARGET_INCREMENTAL_SLACK_SECONDS = 1;
const TARGET_NOTHING_DUE_SECONDS = 0.3;
const QUIET_PERCENT = 25;
const QUIET_WAIT_SECONDS = 30;

const BASELINE =
  'bare `rsync -a SRC/ root@STORAGE:DST/` from the agent machine (its network namespace) to the storage machine ' +
  "over ssh, to the storage host's ordinary sshd (root key, OpenSSH defaults): the bare way to copy the data to " +
  'the storage; the targets are measured against it. For reference, a local `rsync -a SRC/ DST/` between two ' +
  'directories (no network, no encryption, whole-file copies) is timed in the same pairs';

process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- measuring -----------------------------------------------------------------------------

interface Phases {
  /** From the ping's start to the storage starting rsync: check-ins, daemon, ssh, storage program. */
  readonly beforeRsync: number;
  /** The storage's rsync (pull or restore push), from its log. */
  readonly rsync: number;
  /** From rsync's end to the ping's exit: snapshot, sidecar, report, session teardown. */
  readonly afterRsync: number;
}

interface Timing {
  readonly seconds: number;
  /** CPU seconds the whole machine spent (all cores, all processes) during the run. */
  readonly machineCpuSeconds: number;
  readonly phases?: Phases;
}

interface Comparison {
  /** A local copy: no network, no encryption. */
  readonly bare: readonly Timing[];
  /** The same copy between the two machines, over ssh: what the targets are measured against. */
  readonly bareSsh: readonly Timing[];
  readonly turku: readonly Timing[];
  readonly bareMedianSeconds: number;
  readonly bareSshMedianSeconds: number;
  readonly turkuMedianSeconds: number;
  /** turku / bare, of the medians */
  readonly ratio: number;
  /** turku / bareSsh, of the medians */
  readonly ratioSsh: number;
  /** Median of the storage's rsync part of the Turku runs. */
  readonly turkuRsyncMedianSeconds: number | null;
  /**
   * Reference, no target: `rsync -a --link-dest=COPY SRC/ NEW/`, a local snapshot like the
   * storage's (a new tree of hard links to the unchanged files), without Turku's transport.
   */
  readonly bareLinkDest?: readonly Timing[];
  readonly bareLinkDestMedianSeconds?: number;
}

async function timed(
  action: () => Promise<Finished>,
): Promise<{ finished: Finished; timing: Timing; startMs: number }> {
  const before = machineCpuSeconds().busy;
  const startMs = Date.now();
  const finished = await action();
  const cpu = machineCpuSeconds().busy - before;
  return { finished, startMs, timing: { seconds: round(finished.seconds, 3), machineCpuSeconds: round(cpu, 2) } };
}

/** How busy the whole machine is over `seconds`, in percent of one core. */
async function machineBusyPercent(seconds: number): Promise<number> {
  const before = machineCpuSeconds().busy;
  await delay(seconds * 1000);
  return Math.round(((machineCpuSeconds().busy - before) / seconds) * 100);
}

/** Other work on the machine skews every figure: wait (a while) for a nearly idle second first. */
async function waitForQuiet(): Promise<number> {
  const deadline = Date.now() + QUIET_WAIT_SECONDS * 1000;
  let busy = await machineBusyPercent(0.5);
  while (busy > QUIET_PERCENT && Date.now() < deadline) busy = await machineBusyPercent(1);
  if (busy > QUIET_PERCENT) say(`    (machine still ${busy}% busy with other work after ${QUIET_WAIT_SECONDS} s)`);
  return busy;
}

const busyReadings: number[] = [];

async function settle(): Promise<void> {
  await run(['sync']);
  busyReadings.push(await waitForQuiet());
}

function bareRsync(from: string, to: string): Promise<Finished> {
  return run(['rsync', '-a', `${from}/`, `${to}/`]);
}

function check(finished: Finished, what: string): void {
  if (finished.code !== 0) {
    throw new Error(`${what} failed (exit ${finished.code}):\n${finished.stderr.slice(-4000)}${finished.stdout}`);
  }
}

/** Times of the storage's rsync in the log lines the storage wrote since `offset`. */
async function storagePhases(
  world: World,
  offset: number,
  startMs: number,
  seconds: number,
): Promise<Phases | undefined> {
  const text = (await readFile(world.storageLog)).subarray(offset).toString('utf8');
  const time = (line: string): number | undefined => {
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) /.exec(line);
    if (m === null) return undefined;
    const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
    return Date.UTC(y, mo - 1, d, h, mi, s, ms);
  };
  let began: number | undefined;
  let ended: number | undefined;
  for (const line of text.split('\n')) {
    if (began === undefined && line.includes(': Running: rsync ')) began = time(line);
    else if (began !== undefined && line.includes(': Return code: ')) {
      ended = time(line);
      break;
    }
  }
  if (began === undefined || ended === undefined) return undefined;
  const endMs = startMs + seconds * 1000;
  return {
    beforeRsync: round((began - startMs) / 1000, 3),
    rsync: round((ended - began) / 1000, 3),
    afterRsync: round((endMs - ended) / 1000, 3),
  };
}

async function logSize(world: World): Promise<number> {
  return stat(world.storageLog).then(
    (stats) => stats.size,
    () => 0,
  );
}

/** The last storage rsync command line of a kind, with the one-time user name and port replaced. */
async function lastRsyncArgv(world: World, kind: 'pull' | 'restore'): Promise<string | null> {
  const text = await readFile(world.storageLog, 'utf8').catch(() => '');
  const line = text
    .split('\n')
    .filter((candidate) => candidate.includes(': Running: rsync '))
    .filter((candidate) => candidate.includes('/turku-restore/') === (kind === 'restore'))
    .at(-1);
  if (line === undefined) return null;
  return line
    .slice(line.indexOf(': Running: ') + ': Running: '.length)
    .replace(/rsync:\/\/[^@/]+@127\.0\.0\.1:\d+\//, 'rsync://USER@127.0.0.1:PORT/')
    .replaceAll(world.root, '<root>');
}

/** One Turku backup of `source`: trigger, then the agent's ping, checked against the API's log. */
async function turkuBackup(
  world: World,
  source: string,
  previous: string | null,
): Promise<{ timing: Timing; snapshot: string }> {
  await world.trigger(source);
  const offset = await logSize(world);
  const { finished, timing, startMs } = await timed(() => world.ping());
  check(finished, `turku-agent-ping (backup of ${source})`);
  const [log] = await listBackups(world.api.ctx, 1);
  if (
    log === undefined ||
    log.source !== source ||
    !log.success ||
    log.snapshot === null ||
    log.snapshot === previous
  ) {
    throw new Error(
      `The backup of ${source} did not report a new snapshot: ${JSON.stringify(log)}\n${finished.stderr}`,
    );
  }
  const phases = await storagePhases(world, offset, startMs, finished.seconds);
  return { timing: phases === undefined ? timing : { ...timing, phases }, snapshot: log.snapshot };
}

function compare(bare: Timing[], bareSsh: Timing[], turku: Timing[], bareLinkDest?: Timing[]): Comparison {
  const bareMedian = median(bare.map((timing) => timing.seconds));
  const bareSshMedian = median(bareSsh.map((timing) => timing.seconds));
  const turkuMedian = median(turku.map((timing) => timing.seconds));
  const rsyncParts = turku.flatMap((timing) => (timing.phases === undefined ? [] : [timing.phases.rsync]));
  return {
    bare,
    bareSsh,
    turku,
    bareMedianSeconds: round(bareMedian, 3),
    bareSshMedianSeconds: round(bareSshMedian, 3),
    turkuMedianSeconds: round(turkuMedian, 3),
    ratio: round(turkuMedian / bareMedian, 2),
    ratioSsh: round(turkuMedian / bareSshMedian, 2),
    turkuRsyncMedianSeconds: rsyncParts.length === 0 ? null : round(median(rsyncParts), 3),
    ...(bareLinkDest === undefined
      ? {}
      : { bareLinkDest, bareLinkDestMedianSeconds: round(median(bareLinkDest.map((timing) => timing.seconds)), 3) }),
  };
}

/** Files and bytes of a tree (regular files only). */
function treeSummary(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        files++;
        bytes += statSync(path).size;
      }
    }
  };
  walk(root);
  return { files, bytes };
}

function expectTree(root: string, dataset: Dataset, what: string): void {
  const found = treeSummary(root);
  if (found.files !== dataset.files.length || found.bytes !== dataset.bytes) {
    throw new Error(
      `${what}: ${found.files} files, ${found.bytes} bytes; expected ${dataset.files.length} and ${dataset.bytes}`,
    );
  }
}

// ---- one dataset ---------------------------------------------------------------------------

interface DatasetResult {
  readonly name: string;
  readonly description: string;
  readonly files: number;
  readonly bytes: number;
  readonly generateSeconds: number;
  readonly mutations: readonly Mutation[];
  readonly full: Comparison;
  readonly incremental: Comparison;
  readonly noChange: Comparison;
  readonly restore: Comparison;
}

/**
 * Moves a tree out of the way (a rename) rather than deleting it: on a file system without a
 * journal, ext4 skips inodes deleted in the last ~30 s when allocating new ones, reading each
 * one's inode block, so creating files right after a mass delete is many times slower. Whatever
 * is set aside goes with the run directory at the end, after the last measurement.
 */
let setAsideCount = 0;
async function setAside(world: World, path: string): Promise<void> {
  await mkdir(join(world.root, 'set-aside'), { recursive: true });
  await rename(path, join(world.root, 'set-aside', String(++setAsideCount))).catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
  });
}

async function benchDataset(
  world: World,
  dataset: Dataset,
  source: string,
  generateSeconds: number,
): Promise<DatasetResult> {
  const bare = join(world.root, 'bare', dataset.name);
  const bareCopy = join(bare, 'copy');
  const bareRestore = join(bare, 'restore');
  const bareSnapshot = join(bare, 'snapshot');
  const sshCopy = join(bare, 'ssh-copy');
  const sshRestore = join(bare, 'ssh-restore');
  const overSsh = async (from: string, to: string, what: string): Promise<Timing> => {
    await settle();
    const timing = await timed(() => world.rsyncOverSsh(from, to));
    check(timing.finished, what);
    return timing.timing;
  };
  const snapshots = join(world.machineDir, `${dataset.name}.snapshots`);
  const large = dataset.bytes >= 100_000_000;
  const heavyRuns = large ? SETTINGS.largeRuns : SETTINGS.runs;
  await mkdir(bare, { recursive: true });
  say(`\nDataset ${dataset.name}: ${dataset.description}, ${(dataset.bytes / 1e6).toFixed(1)} MB`);
  say(`  warm-up read: ${(warmUp(source, dataset) / 1e6).toFixed(1)} MB`);

  // Full.
  const full = { bare: [] as Timing[], bareSsh: [] as Timing[], turku: [] as Timing[] };
  let snapshot: string | null = null;
  for (let i = 0; i < heavyRuns; i++) {
    // From the second run on: start over with no copy, and no snapshot on the storage.
    await setAside(world, bareCopy);
    await setAside(world, sshCopy);
    await setAside(world, snapshots);
    await setAside(world, join(world.machineDir, dataset.name));
    await settle();
    const bareRun = await timed(() => bareRsync(source, bareCopy));
    check(bareRun.finished, 'bare rsync (full)');
    const sshRun = await overSsh(`${source}/`, world.remote(`${sshCopy}/`), 'bare rsync over ssh (full)');
    await settle();
    const turku = await turkuBackup(world, dataset.name, snapshot);
    snapshot = turku.snapshot;
    full.bare.push(bareRun.timing);
    full.bareSsh.push(sshRun);
    full.turku.push(turku.timing);
    say(
      `  full #${i + 1}: bare ${bareRun.timing.seconds} s, over ssh ${sshRun.seconds} s, Turku ${turku.timing.seconds} s`,
    );
  }
  expectTree(join(snapshots, snapshot!), dataset, 'the full snapshot');

  /**
   * One incremental or no-change round: for reference (no target), a local link-dest snapshot of
   * the source onto the bare copy as it was; then the bare rsync onto the copy; then Turku.
   */
  const round = async (
    into: { bare: Timing[]; bareSsh: Timing[]; bareLinkDest: Timing[]; turku: Timing[] },
    label: string,
  ) => {
    await settle();
    const linkDest = await timed(() =>
      run(['rsync', '-a', `--link-dest=${bareCopy}`, `${source}/`, `${bareSnapshot}/`]),
    );
    check(linkDest.finished, 'bare rsync --link-dest');
    await setAside(world, bareSnapshot);
    await settle();
    const bareRun = await timed(() => bareRsync(source, bareCopy));
    check(bareRun.finished, 'bare rsync');
    const sshRun = await overSsh(`${source}/`, world.remote(`${sshCopy}/`), 'bare rsync over ssh');
    await settle();
    const turku = await turkuBackup(world, dataset.name, snapshot);
    snapshot = turku.snapshot;
    into.bare.push(bareRun.timing);
    into.bareSsh.push(sshRun);
    into.bareLinkDest.push(linkDest.timing);
    into.turku.push(turku.timing);
    say(
      `  ${label}: bare ${bareRun.timing.seconds} s (link-dest ${linkDest.timing.seconds} s), over ssh ${sshRun.seconds} s, ` +
        `Turku ${turku.timing.seconds} s`,
    );
  };

  // Incremental, with a new ~1 % of changes each round.
  const incremental = {
    bare: [] as Timing[],
    bareSsh: [] as Timing[],
    bareLinkDest: [] as Timing[],
    turku: [] as Timing[],
  };
  const mutations: Mutation[] = [];
  for (let i = 1; i <= SETTINGS.runs; i++) {
    const mutation = mutateDataset(source, SETTINGS.seed, dataset, i);
    mutations.push(mutation);
    await round(incremental, `incremental #${i} (${mutation.files} files, ${(mutation.bytes / 1e6).toFixed(2)} MB)`);
  }

  // No change.
  const noChange = {
    bare: [] as Timing[],
    bareSsh: [] as Timing[],
    bareLinkDest: [] as Timing[],
    turku: [] as Timing[],
  };
  for (let i = 1; i <= SETTINGS.runs; i++) await round(noChange, `no change #${i}`);
  expectTree(join(snapshots, snapshot!), dataset, 'the last snapshot');

  // Restore of latest into an empty directory.
  const restore = { bare: [] as Timing[], bareSsh: [] as Timing[], turku: [] as Timing[] };
  const latest = join(snapshots, await readlink(join(snapshots, 'latest')));
  warmUp(latest, dataset);
  const target = join(world.agentDir, `restore-${dataset.name}`);
  for (let i = 0; i < heavyRuns; i++) {
    await settle();
    const bareRun = await timed(() => bareRsync(latest, bareRestore));
    check(bareRun.finished, 'bare rsync (restore)');
    await setAside(world, bareRestore);
    const sshRun = await overSsh(world.remote(`${latest}/`), `${sshRestore}/`, 'bare rsync over ssh (restore)');
    await setAside(world, sshRestore);
    await settle();
    const offset = await logSize(world);
    const turku = await timed(() =>
      world.ping('--restore', '--restore-source', dataset.name, '--restore-target', target),
    );
    check(turku.finished, `scripted restore of ${dataset.name}`);
    if (!turku.finished.stdout.includes(`Restored ${dataset.name}`)) {
      throw new Error(`The restore of ${dataset.name} did not say it restored:\n${turku.finished.stdout}`);
    }
    expectTree(target, dataset, 'the restored tree');
    await setAside(world, target);
    const phases = await storagePhases(world, offset, turku.startMs, turku.finished.seconds);
    restore.bare.push(bareRun.timing);
    restore.bareSsh.push(sshRun);
    restore.turku.push(phases === undefined ? turku.timing : { ...turku.timing, phases });
    say(
      `  restore #${i + 1}: bare ${bareRun.timing.seconds} s, over ssh ${sshRun.seconds} s, Turku ${turku.timing.seconds} s`,
    );
  }

  return {
    name: dataset.name,
    description: dataset.description,
    files: dataset.files.length,
    bytes: dataset.bytes,
    generateSeconds,
    mutations,
    full: compare(full.bare, full.bareSsh, full.turku),
    incremental: compare(incremental.bare, incremental.bareSsh, incremental.turku, incremental.bareLinkDest),
    noChange: compare(noChange.bare, noChange.bareSsh, noChange.turku, noChange.bareLinkDest),
    restore: compare(restore.bare, restore.bareSsh, restore.turku),
  };
}

// ---- nothing due ---------------------------------------------------------------------------

interface NothingDueResult {
  readonly runs: readonly number[];
  readonly medianSeconds: number;
  /** For scale: the same namespace hop and Node start-up without the check-in. */
  readonly context: {
    readonly ipNetnsExecTrueSeconds: number;
    readonly nodeEmptyScriptSeconds: number;
    readonly pingHelpSeconds: number;
  };
}

async function benchNothingDue(world: World): Promise<NothingDueResult> {
  const medianOf = async (argv: string[]): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < SETTINGS.nothingDueRuns; i++) {
      const finished = await run(argv, { netns: world.netns });
      check(finished, argv.join(' '));
      times.push(finished.seconds);
    }
    return round(median(times), 3);
  };
  await settle();
  const before = (await listBackups(world.api.ctx, 1))[0]?.date;
  await world.ping(); // not timed: the first run after the backups
  const runs: number[] = [];
  for (let i = 0; i < SETTINGS.nothingDueRuns; i++) {
    const finished = await world.ping();
    check(finished, 'turku-agent-ping (nothing due)');
    runs.push(round(finished.seconds, 3));
  }
  if ((await listBackups(world.api.ctx, 1))[0]?.date !== before)
    throw new Error('A backup ran during the nothing-due pings');
  say(`\nNothing-due ping: ${runs.join(' s, ')} s`);
  return {
    runs,
    medianSeconds: round(median(runs), 3),
    context: {
      ipNetnsExecTrueSeconds: await medianOf(['true']),
      nodeEmptyScriptSeconds: await medianOf([process.execPath, '-e', '0']),
      pingHelpSeconds: await medianOf([process.execPath, world.agentPingProgram, '--help']),
    },
  };
}

// ---- targets and report --------------------------------------------------------------------

interface Target {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

function targets(datasets: readonly DatasetResult[], nothingDue: NothingDueResult | undefined): Target[] {
  const found: Target[] = [];
  for (const result of datasets) {
    for (const [baseline, full, incremental] of [
      ['bare rsync -a over ssh', result.full.bareSshMedianSeconds, result.incremental.bareSshMedianSeconds],
      ['a local rsync -a copy', result.full.bareMedianSeconds, result.incremental.bareMedianSeconds],
    ] as const) {
      found.push({
        target: `${result.name}: full backup ≤ ${TARGET_FULL_RATIO}× ${baseline}`,
        measured: `${result.full.turkuMedianSeconds} s vs ${full} s (${round(result.full.turkuMedianSeconds / full, 2)}×)`,
        pass: result.full.turkuMedianSeconds <= TARGET_FULL_RATIO * full,
      });
      const limit = TARGET_INCREMENTAL_RATIO * incremental + TARGET_INCREMENTAL_SLACK_SECONDS;
      found.push({
        target: `${result.name}: 1%-changed incremental ≤ ${TARGET_INCREMENTAL_RATIO}× ${baseline} + ${TARGET_INCREMENTAL_SLACK_SECONDS} s`,
        measured: `${result.incremental.turkuMedianSeconds} s vs limit ${round(limit, 3)} s (bare ${incremental} s)`,
        pass: result.incremental.turkuMedianSeconds <= limit,
      });
    }
  }
  if (nothingDue !== undefined) {
    found.push({
      target: `nothing-due ping < ${TARGET_NOTHING_DUE_SECONDS * 1000} ms`,
      measured: `${Math.round(nothingDue.medianSeconds * 1000)} ms`,
      pass: nothingDue.medianSeconds < TARGET_NOTHING_DUE_SECONDS,
    });
  }
  return found;
}

function report(
  datasets: readonly DatasetResult[],
  nothingDue: NothingDueResult | undefined,
  checks: readonly Target[],
): void {
  const cell = (value: string, width: number) => value.padStart(width);
  const seconds = (value: number | null) => (value === null ? '-' : `${value.toFixed(2)} s`);
  say('\nMedians; Turku = the whole turku-agent-ping (check-in, ssh tunnel, storage pull, snapshot, report).');
  say(`Baseline: ${BASELINE}.`);
  for (const result of datasets) {
    say(`\nDataset ${result.name}: ${result.description}, ${(result.bytes / 1e6).toFixed(1)} MB`);
    say(
      `  ${'step'.padEnd(18)} ${cell('runs', 4)} ${cell('bare rsync', 11)} ${cell('(link-dest)', 11)} ${cell('over ssh', 9)} ` +
        `${cell('Turku', 9)} ${cell('ratio', 7)} ${cell('vs ssh', 7)} ` +
        `${cell('Turku: rsync', 12)} ${cell('before', 8)} ${cell('after', 8)}  target`,
    );
    const rows: [string, Comparison, string][] = [
      ['full', result.full, `≤ ${TARGET_FULL_RATIO}×`],
      [
        'incremental (1%)',
        result.incremental,
        `≤ ${round(TARGET_INCREMENTAL_RATIO * result.incremental.bareSshMedianSeconds + TARGET_INCREMENTAL_SLACK_SECONDS, 2)} s`,
      ],
      ['no change', result.noChange, ''],
      ['restore', result.restore, ''],
    ];
    for (const [name, comparison, target] of rows) {
      const phases = comparison.turku.flatMap((timing) => (timing.phases === undefined ? [] : [timing.phases]));
      const before = phases.length === 0 ? null : median(phases.map((phase) => phase.beforeRsync));
      const after = phases.length === 0 ? null : median(phases.map((phase) => phase.afterRsync));
      say(
        `  ${name.padEnd(18)} ${cell(String(comparison.turku.length), 4)} ${cell(seconds(comparison.bareMedianSeconds), 11)} ` +
          `${cell(seconds(comparison.bareLinkDestMedianSeconds ?? null), 11)} ${cell(seconds(comparison.bareSshMedianSeconds), 9)} ` +
          `${cell(seconds(comparison.turkuMedianSeconds), 9)} ${cell(`${comparison.ratio.toFixed(2)}×`, 7)} ` +
          `${cell(`${comparison.ratioSsh.toFixed(2)}×`, 7)} ` +
          `${cell(seconds(comparison.turkuRsyncMedianSeconds), 12)} ${cell(seconds(before), 8)} ${cell(seconds(after), 8)}  ${target}`,
      );
    }
    const changed = result.mutations.map((m) => `${m.files} files/${(m.bytes / 1e6).toFixed(2)} MB`).join(', ');
    say(`  changes per incremental round: ${changed}`);
  }
  if (nothingDue !== undefined) {
    const c = nothingDue.context;
    say(
      `\nNothing-due ping: median ${Math.round(nothingDue.medianSeconds * 1000)} ms over ${nothingDue.runs.length} runs ` +
        `(for scale, in the namespace: ip netns exec true ${Math.round(c.ipNetnsExecTrueSeconds * 1000)} ms, ` +
        `node -e 0 ${Math.round(c.nodeEmptyScriptSeconds * 1000)} ms, ping-main --help ${Math.round(c.pingHelpSeconds * 1000)} ms)`,
    );
  }
  say('Columns: bare rsync = a local copy; over ssh = `rsync -a` from the agent machine to the storage machine over');
  say("ssh (the targets' baseline); ratio = Turku / local copy; vs ssh = Turku / over ssh.");
  say('(link-dest) = for reference, no target: a local `rsync -a --link-dest=COPY SRC/ NEW/`, the same');
  say('kind of snapshot as the storage makes, without Turku. "Turku: rsync" = the storage\'s rsync alone (from its');
  say('log); before/after = the rest of the ping before rsync starts (check-ins, rsync daemon, ssh, storage program)');
  say('and after it ends (snapshot, report, session teardown).\n');
  for (const target of checks) say(`${target.pass ? 'PASS' : 'FAIL'}  ${target.target}: ${target.measured}`);
}

/** The first line a program prints for its version (ssh -V prints on stderr). */
function versionOf(argv: string[]): string {
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return `${result.stdout ?? ''}\n${result.stderr ?? ''}`.trim().split('\n')[0]?.trim() || 'unknown';
}

function fileSystemOf(path: string): string {
  try {
    return execFileSync('df', ['--output=fstype,source', path], { encoding: 'utf8' }).split('\n')[1]?.trim() ?? '?';
  } catch {
    return 'unknown';
  }
}

// ---- main ----------------------------------------------------------------------------------

const started = Date.now();
const results: DatasetResult[] = [];
const failures: { step: string; error: string }[] = [];
let nothingDue: NothingDueResult | undefined;
const rsyncArgv: { pull: string | null; restore: string | null } = { pull: null, restore: null };
let world: World | undefined;
const root = await makeBenchRoot();
const fileSystem = fileSystemOf(root);
try {
  const datasets: Dataset[] = SETTINGS.datasets.map((name) =>
    name === 'A' ? mixedDataset(SETTINGS.seed, SETTINGS.scale) : smallFilesDataset(SETTINGS.seed, SETTINGS.scale),
  );
  const sourceOf = (dataset: Dataset) => join(root, 'data', dataset.name);
  const generated = new Map<string, number>();
  for (const dataset of datasets) {
    const start = performance.now();
    writeDataset(sourceOf(dataset), SETTINGS.seed, dataset);
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
      results.push(await benchDataset(world, dataset, sourceOf(dataset), generated.get(dataset.name) ?? 0));
      rsyncArgv.pull ??= await lastRsyncArgv(world, 'pull');
      rsyncArgv.restore ??= await lastRsyncArgv(world, 'restore');
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      say(`  dataset ${dataset.name} failed: ${message}`);
      failures.push({ step: `dataset ${dataset.name}`, error: message });
    }
  }
  try {
    nothingDue = await benchNothingDue(world);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    say(`  nothing-due ping failed: ${message}`);
    failures.push({ step: 'nothing-due ping', error: message });
  }
} finally {
  await world?.destroy();
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
}

const checks = targets(results, nothingDue);
const cpus = os.cpus();
const output = {
  date: new Date().toISOString(),
  node: process.version,
  machine: {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemoryGb: round(os.totalmem() / 1e9, 1),
    fileSystem,
    rsync: versionOf(['rsync', '--version']),
    ssh: versionOf(['ssh', '-V']),
  },
  settings: SETTINGS,
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
await mkdir(RESULTS, { recursive: true });
await writeFile(join(RESULTS, OUTPUT), `${JSON.stringify(output, null, 2)}\n`);
report(results, nothingDue, checks);
say(`\nTotal ${output.totalSeconds} s. Results: bench/results/${OUTPUT}`);
if (failures.length > 0) process.exitCode = 1;
