import { say } from '../harness/lifecycle.js';
import { type Target, sayTargets } from '../harness/results.js';
import { median, round } from '../harness/stats.js';
import { type DatasetResult } from './dataset-bench.js';
import { type Comparison } from './measure.js';
import { type NothingDueResult } from './nothing-due.js';

/** The data-path benchmark's targets (bench/datapath/README.md), checked and printed. */

const TARGET_FULL_RATIO = 1.3;
const TARGET_INCREMENTAL_RATIO = 1.5;
const TARGET_INCREMENTAL_SLACK_SECONDS = 1;
const TARGET_NOTHING_DUE_SECONDS = 0.3;

export const BASELINE =
  'bare `rsync -a SRC/ root@STORAGE:DST/` from the agent machine (its network namespace) to the storage machine ' +
  "over ssh, to the storage host's ordinary sshd (root key, OpenSSH defaults): the bare way to copy the data to " +
  'the storage; the targets are measured against it. For reference, a local `rsync -a SRC/ DST/` between two ' +
  'directories (no network, no encryption, whole-file copies) is timed in the same pairs';

export function targets(datasets: readonly DatasetResult[], nothingDue: NothingDueResult | undefined): Target[] {
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

export function report(
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
  sayTargets(checks);
}
