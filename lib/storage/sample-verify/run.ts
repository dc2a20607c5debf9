import { join } from 'node:path';

import { errorMessage } from '../../common/errors.js';
import { tryLock } from '../../common/lock.js';
import type { WorkloadLogger } from '../../common/workload-log.js';
import { isDirectory, listMachines, sourcesOf } from '../admin/machines.js';
import type { StorageSettings } from '../settings.js';
import { listCandidates } from '../snapshots/names.js';
import { LATEST } from '../snapshots/names.js';
import type { VerifyOutcome, VerifySnapshot } from '../verify/outcome.js';
import {
  chooseTargets,
  nextSampleBytes,
  nextState,
  pickOne,
  runShare,
  targetKey,
  type CheckedEntry,
  type SampleTarget,
} from './plan.js';
import type { VerifyReporter } from './report.js';
import { readSampleState, writeSampleState } from './state.js';

/**
 * One run of the periodic sample verify (docs/datapath.md, "The periodic sample verify"): this
 * run's share of `verify_bytes_per_day` spent on a random snapshot of each of the sources checked
 * longest ago, each result logged and reported to the API. The verify itself is injected (the
 * program wires the real one), so tests drive the run with a double.
 */

export interface SampleVerifyDeps {
  readonly verifySnapshot: VerifySnapshot;
  readonly report: VerifyReporter;
  readonly log: WorkloadLogger;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export interface SampleVerifyResult {
  /** False when off (0 bytes a day) or another run held the lock. */
  readonly ran: boolean;
  readonly share: number;
  readonly verified: readonly VerifyOutcome[];
}

/** How many problems the log lists per snapshot; the count is always whole. */
const LOGGED_PROBLEMS = 20;

export async function runSampleVerify(settings: StorageSettings, deps: SampleVerifyDeps): Promise<SampleVerifyResult> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? Math.random;
  if (settings.verify_bytes_per_day === 0) {
    log.info('The periodic sample verify is off (verify_bytes_per_day is 0)');
    return { ran: false, share: 0, verified: [] };
  }
  const lock = await tryLock(settings.lock_dir, 'turku-storage-sample-verify');
  if (lock === undefined) {
    log.warning('Another turku-storage-sample-verify is running; nothing done');
    return { ran: false, share: 0, verified: [] };
  }
  try {
    const state = await readSampleState(settings.var_dir, (line) => log.warning(line));
    const started = now().getTime();
    const share = runShare(settings.verify_bytes_per_day, state.lastRun, started);
    const targets = await sampleTargets(settings.var_dir);
    const chosen = chooseTargets(targets, state, share, random);
    const checks = new Map<string, CheckedEntry>();
    const verified: VerifyOutcome[] = [];
    let remaining = share;
    for (const [index, target] of chosen.entries()) {
      const maxBytes = nextSampleBytes(remaining, chosen.length - index);
      if (maxBytes === 0) break;
      const outcome = await verifyOne(settings, target, maxBytes, { ...deps, random });
      if (outcome === undefined) continue;
      remaining -= Math.min(maxBytes, outcome.checkedBytes);
      checks.set(targetKey(target), {
        at: now().getTime(),
        snapshot: outcome.snapshot,
        ok: outcome.problems.length === 0,
      });
      verified.push(outcome);
      await deps.report(target.machine, outcome, now());
    }
    await writeSampleState(settings.var_dir, nextState(state, targets, checks, started));
    return { ran: true, share, verified };
  } finally {
    await lock.release();
  }
}

/**
 * Every source with link-dest snapshots of every machine held here. Borg repositories are left to
 * the on-demand verify: `borg check --verify-data` cannot read a sample, it reads the whole
 * archive, which no daily byte budget can bound.
 */
export async function sampleTargets(varDir: string): Promise<SampleTarget[]> {
  const targets: SampleTarget[] = [];
  for (const machine of await listMachines(varDir)) {
    for (const source of await sourcesOf(machine)) {
      for (const [mode, suffix] of [['link-dest', 'snapshots']] as const) {
        if (await isDirectory(join(machine.dir, `${source}.${suffix}`))) {
          targets.push({ machine: machine.uuid, source, mode, machineDir: machine.dir });
        }
      }
    }
  }
  return targets;
}

/** The verify of one random snapshot of the target, logged; undefined when there was none or it could not run. */
async function verifyOne(
  settings: StorageSettings,
  target: SampleTarget,
  maxBytes: number,
  deps: SampleVerifyDeps & { readonly random: () => number },
): Promise<VerifyOutcome | undefined> {
  const { log } = deps;
  const snapshotsDir = join(target.machineDir, `${target.source}.snapshots`);
  let snapshot: string | undefined = LATEST;
  if (target.mode === 'link-dest') {
    const candidates = await listCandidates(snapshotsDir, { timeZone: settings.timezone, log });
    snapshot = pickOne(
      candidates.map((candidate) => candidate.dir),
      deps.random,
    );
    if (snapshot === undefined) return undefined;
  }
  const what = `${target.machine} ${target.source} ${snapshot}`;
  let outcome: VerifyOutcome;
  try {
    outcome = await deps.verifySnapshot({
      machineDir: target.machineDir,
      source: target.source,
      snapshot,
      mode: target.mode,
      sample: { maxBytes, random: deps.random },
    });
  } catch (error) {
    log.error(`Cannot verify ${what}: ${errorMessage(error)}`);
    return undefined;
  }
  // A snapshot taken before manifests existed has nothing to check against: that is no damage.
  if (outcome.problems.length > 0 && outcome.problems.every((problem) => problem.kind === 'no-manifest')) {
    log.info(`Snapshot ${what} has no manifest (turku-storage-admin manifest records one); not verified`);
    return undefined;
  }
  // Retention may expire the snapshot while it is read: what it found then says nothing of the data.
  if (
    outcome.problems.length > 0 &&
    target.mode === 'link-dest' &&
    !(await isDirectory(join(snapshotsDir, outcome.snapshot)))
  ) {
    log.info(`Snapshot ${what} was expired while it was verified; not reported`);
    return undefined;
  }
  logOutcome(log, target.machine, outcome);
  return outcome;
}

function logOutcome(log: WorkloadLogger, machine: string, outcome: VerifyOutcome): void {
  const what = `${machine} ${outcome.source} ${outcome.snapshot}`;
  const checked = `${outcome.checkedFiles} files, ${outcome.checkedBytes} bytes${outcome.complete ? '' : ' (a sample)'}`;
  if (outcome.problems.length === 0) {
    log.info(`Verified ${what}: ${checked}, no problem`);
    return;
  }
  log.error(`Verify of ${what} found ${outcome.problems.length} problems in ${checked}`);
  for (const problem of outcome.problems.slice(0, LOGGED_PROBLEMS)) {
    log.error(`  ${problem.kind} ${JSON.stringify(problem.path)}: ${JSON.stringify(problem.detail)}`);
  }
}
