import { readdirSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { listBackups } from '../../lib/api/admin/commands.js';
import { type QuietOptions, waitForQuiet } from '../harness/machine.js';
import { machineCpuSeconds } from '../harness/proc.js';
import { median, round } from '../harness/stats.js';
import { type Finished, run } from '../harness/processes.js';
import { type Dataset } from './datasets.js';
import { runInUnit } from './environment.js';
import { type CpuAccounting, type CpuByProgram, cpuMedians } from './cpu-accounting.js';
import { delay } from '../harness/lifecycle.js';
import { type World } from './world.js';

/**
 * Timing one run of the data-path benchmark (a bare copy or a Turku backup or restore), splitting a
 * Turku run into its phases from the storage's log, and checking what a run left behind.
 */

export interface Phases {
  /** From the ping's start to the storage starting rsync: check-ins, daemon, ssh, storage program. */
  readonly beforeRsync: number;
  /** The storage's rsync (pull or restore push), from its log. */
  readonly rsync: number;
  /** From rsync's end to the ping's exit: snapshot, sidecar, report, session teardown. */
  readonly afterRsync: number;
}

export interface Timing {
  readonly seconds: number;
  /** CPU seconds the whole machine spent (all cores, all processes) during the run. */
  readonly machineCpuSeconds: number;
  /** CPU seconds of the run's processes, per side and program ("storage rsync"), from process accounting. */
  readonly cpuSecondsByProgram?: CpuByProgram;
  readonly phases?: Phases;
}

/** The references a Turku step is timed against, in the same run. */
export interface References {
  /** A local copy: no network, no encryption. */
  readonly bare: readonly Timing[];
  /** The same copy between the two machines, over ssh (OpenSSH's defaults): the copy targets' baseline. */
  readonly bareSsh: readonly Timing[];
  /** The same over ssh with `-c aes128-gcm@openssh.com` (reference, no target). */
  readonly bareSshAesGcm?: readonly Timing[];
  /**
   * Reference, no target: `rsync -a --link-dest=COPY SRC/ NEW/`, a local snapshot like the
   * storage's (a new tree of hard links to the unchanged files), without Turku's transport.
   */
  readonly bareLinkDest?: readonly Timing[];
  /** `borg create` into a local repository (anchors.ts). */
  readonly borg?: readonly Timing[];
  /** `restic backup` into a local repository (anchors.ts). */
  readonly restic?: readonly Timing[];
}

export interface Comparison extends References {
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
  /** Where the CPU goes: per program, the median of the Turku runs' CPU seconds, and of the copies over ssh. */
  readonly turkuCpuMedianSeconds?: CpuByProgram;
  readonly bareSshCpuMedianSeconds?: CpuByProgram;
  readonly bareSshAesGcmMedianSeconds?: number;
  readonly bareLinkDestMedianSeconds?: number;
  readonly borgMedianSeconds?: number;
  readonly resticMedianSeconds?: number;
  /** turku / borg, of the medians */
  readonly ratioBorg?: number;
  /** turku / restic, of the medians */
  readonly ratioRestic?: number;
}

let accounting: CpuAccounting | undefined;

/** From now on, every timed run also records its CPU seconds per program (cpu-accounting.ts). */
export function useCpuAccounting(cpuAccounting: CpuAccounting | undefined): void {
  accounting = cpuAccounting;
}

/** How long after a run its last processes (an sshd session's) have surely ended. */
const PROCESSES_END_MS = 200;

export async function timed(
  action: () => Promise<Finished>,
): Promise<{ finished: Finished; timing: Timing; startMs: number }> {
  const mark = accounting?.mark();
  const ownBefore = process.cpuUsage();
  const before = machineCpuSeconds().busy;
  const startMs = Date.now();
  const finished = await action();
  const cpu = machineCpuSeconds().busy - before;
  const own = process.cpuUsage(ownBefore);
  const timing: Timing = { seconds: round(finished.seconds, 3), machineCpuSeconds: round(cpu, 2) };
  if (accounting === undefined || mark === undefined) return { finished, startMs, timing };
  await delay(PROCESSES_END_MS);
  // turku-api runs in this process: its CPU (the check-ins and reports) is this process's.
  const api = { 'api (benchmark process)': round((own.user + own.system) / 1e6, 2) };
  return { finished, startMs, timing: { ...timing, cpuSecondsByProgram: { ...accounting.since(mark), ...api } } };
}

const QUIET: Omit<QuietOptions, 'waitSeconds'> = { percent: 25, firstSampleSeconds: 0.5, indent: '    ' };

/**
 * Before each timed run: `sync` (no dirty pages left to write back during it), then a wait (up to
 * `quietWaitSeconds`) for a nearly idle machine. `readings` keeps how busy the machine was each time, for the results file.
 */
export function settler(quietWaitSeconds: number): {
  readonly readings: number[];
  readonly settle: () => Promise<void>;
} {
  const readings: number[] = [];
  const settle = async (): Promise<void> => {
    await run(['sync']);
    readings.push(await waitForQuiet({ ...QUIET, waitSeconds: quietWaitSeconds }));
  };
  return { readings, settle };
}

export function bareRsync(from: string, to: string): Promise<Finished> {
  return runInUnit(['rsync', '-a', `${from}/`, `${to}/`]);
}

export function check(finished: Finished, what: string): void {
  if (finished.code !== 0) {
    throw new Error(`${what} failed (exit ${finished.code}):\n${finished.stderr.slice(-4000)}${finished.stdout}`);
  }
}

/**
 * Lines that end the storage's pull (or a restore's push): what follows is the snapshot, its
 * manifest and the report.
 */
const AFTER_PULL = ['Recorded the manifest', 'Created snapshot', 'Scripted restore finished', 'End: '];

/**
 * Times of the storage's pull in the log lines the storage wrote since `offset`: from the first
 * rsync's start to the last process that ended before the snapshot is made. With a base, `cp`
 * clones it while the dry run runs, and their `Return code` lines come in the order they end;
 * an incremental's second pull follows.
 */
export async function storagePhases(
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
    if (began === undefined) {
      if (line.includes(': Running: rsync ')) began = time(line);
    } else if (line.includes(': Return code: ')) ended = time(line);
    else if (AFTER_PULL.some((marker) => line.includes(`: ${marker}`))) break;
  }
  if (began === undefined || ended === undefined) return undefined;
  const endMs = startMs + seconds * 1000;
  return {
    beforeRsync: round((began - startMs) / 1000, 3),
    rsync: round((ended - began) / 1000, 3),
    afterRsync: round((endMs - ended) / 1000, 3),
  };
}

export async function logSize(world: World): Promise<number> {
  return stat(world.storageLog).then(
    (stats) => stats.size,
    () => 0,
  );
}

/** The last storage rsync command line of a kind, with the one-time user name and port replaced. */
export async function lastRsyncArgv(world: World, kind: 'pull' | 'restore'): Promise<string | null> {
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
export async function turkuBackup(
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

const medianSeconds = (timings: readonly Timing[]): number => median(timings.map((timing) => timing.seconds));

/** The medians of `timings` (when there are some) as `<name>MedianSeconds`, and turku's ratio to it as `ratioName`. */
function optionalReference(
  name: string,
  timings: readonly Timing[] | undefined,
  turkuMedian: number,
  ratioName?: string,
): Record<string, unknown> {
  if (timings === undefined || timings.length === 0) return {};
  const value = medianSeconds(timings);
  return {
    [name]: timings,
    [`${name}MedianSeconds`]: round(value, 3),
    ...(ratioName === undefined ? {} : { [ratioName]: round(turkuMedian / value, 2) }),
  };
}

function cpuReference(name: string, timings: readonly Timing[]): Record<string, CpuByProgram> {
  const medians = cpuMedians(timings.map((timing) => timing.cpuSecondsByProgram));
  return medians === undefined ? {} : { [name]: medians };
}

export function compare(turku: readonly Timing[], references: References): Comparison {
  const bareMedian = medianSeconds(references.bare);
  const bareSshMedian = medianSeconds(references.bareSsh);
  const turkuMedian = medianSeconds(turku);
  const rsyncParts = turku.flatMap((timing) => (timing.phases === undefined ? [] : [timing.phases.rsync]));
  return {
    bare: references.bare,
    bareSsh: references.bareSsh,
    turku,
    bareMedianSeconds: round(bareMedian, 3),
    bareSshMedianSeconds: round(bareSshMedian, 3),
    turkuMedianSeconds: round(turkuMedian, 3),
    ratio: round(turkuMedian / bareMedian, 2),
    ratioSsh: round(turkuMedian / bareSshMedian, 2),
    turkuRsyncMedianSeconds: rsyncParts.length === 0 ? null : round(median(rsyncParts), 3),
    ...cpuReference('turkuCpuMedianSeconds', turku),
    ...cpuReference('bareSshCpuMedianSeconds', references.bareSsh),
    ...optionalReference('bareSshAesGcm', references.bareSshAesGcm, turkuMedian),
    ...optionalReference('bareLinkDest', references.bareLinkDest, turkuMedian),
    ...optionalReference('borg', references.borg, turkuMedian, 'ratioBorg'),
    ...optionalReference('restic', references.restic, turkuMedian, 'ratioRestic'),
  };
}

/** Files and bytes of a tree (regular files only). */
export function treeSummary(root: string): { files: number; bytes: number } {
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

export function expectTree(root: string, dataset: Dataset, what: string): void {
  const found = treeSummary(root);
  if (found.files !== dataset.files.length || found.bytes !== dataset.bytes) {
    throw new Error(
      `${what}: ${found.files} files, ${found.bytes} bytes; expected ${dataset.files.length} and ${dataset.bytes}`,
    );
  }
}
