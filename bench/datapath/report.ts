import { say } from '../harness/lifecycle.js';
import { type Target, sayTargets } from '../harness/results.js';
import { median } from '../harness/stats.js';
import { type DatasetResult, type RestoreChoiceResult } from './dataset-bench.js';
import { type CpuByProgram } from './cpu-accounting.js';
import { type Comparison } from './measure.js';
import { type ManifestResult } from './manifest-bench.js';
import { type NothingDueResult } from './nothing-due.js';

/** The data-path benchmark's printed report: each step's figure with its references beside it, then the targets. */

export const BASELINE =
  'bare `rsync -a SRC/ root@STORAGE:DST/` from the agent machine (its network namespace) to the storage machine ' +
  "over ssh, to the storage host's ordinary sshd (root key, OpenSSH defaults): the bare way to copy the data to " +
  'the storage. Timed in the same rounds, for reference: a local `rsync -a SRC/ DST/` between two directories ' +
  '(no network, no encryption, whole-file copies), the same copy over ssh with `-c aes128-gcm@openssh.com`, and ' +
  'the anchors, `borg create` and `restic backup` into local repositories (anchors.ts)';

const COLUMNS: readonly [string, number][] = [
  ['step', 18],
  ['runs', 4],
  ['local', 7],
  ['(link-dest)', 11],
  ['over ssh', 8],
  ['(AES-GCM)', 9],
  ['borg', 7],
  ['restic', 7],
  ['Turku', 7],
  ['÷local', 6],
  ['÷ssh', 6],
  ['÷borg', 6],
  ['rsync', 7],
  ['before', 7],
  ['after', 7],
];

function line(cells: readonly string[]): string {
  return `  ${cells.map((cell, i) => (i === 0 ? cell.padEnd(COLUMNS[0]![1]) : cell.padStart(COLUMNS[i]![1]))).join(' ')}`;
}

const seconds = (value: number | null | undefined) => (value === null || value === undefined ? '-' : value.toFixed(2));
const ratio = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(2)}×`);
const signed = (value: number) => `${value >= 0 ? '+' : ''}${value}`;

/** "storage rsync 1.20, agent ssh 0.90, …" (programs under 0.01 s left out), with the total. */
function cpuLine(byProgram: CpuByProgram | undefined): string | undefined {
  if (byProgram === undefined) return undefined;
  const entries = Object.entries(byProgram);
  const total = entries.reduce((sum, [, value]) => sum + value, 0);
  const parts = entries.filter(([, value]) => value >= 0.01).map(([name, value]) => `${name} ${value.toFixed(2)}`);
  return `${total.toFixed(2)} (${parts.join(', ')})`;
}

function row(name: string, comparison: Comparison): string {
  const phases = comparison.turku.flatMap((timing) => (timing.phases === undefined ? [] : [timing.phases]));
  const phase = (pick: (p: (typeof phases)[number]) => number) =>
    phases.length === 0 ? null : median(phases.map(pick));
  return line([
    name,
    String(comparison.turku.length),
    seconds(comparison.bareMedianSeconds),
    seconds(comparison.bareLinkDestMedianSeconds),
    seconds(comparison.bareSshMedianSeconds),
    seconds(comparison.bareSshAesGcmMedianSeconds),
    seconds(comparison.borgMedianSeconds),
    seconds(comparison.resticMedianSeconds),
    seconds(comparison.turkuMedianSeconds),
    ratio(comparison.ratio),
    ratio(comparison.ratioSsh),
    ratio(comparison.ratioBorg),
    seconds(comparison.turkuRsyncMedianSeconds),
    seconds(phase((p) => p.beforeRsync)),
    seconds(phase((p) => p.afterRsync)),
  ]);
}

/** Issue 20: choosing the snapshot by time costs what naming it does (same snapshot, same run). */
function restoreChoiceLine(choice: RestoreChoiceResult): string {
  const byName = median([...choice.byNameSeconds]);
  const asOf = median([...choice.asOfSeconds]);
  return (
    `  restore as-of vs by name (same snapshot, in turns, ${choice.asOfSeconds.length} each): ` +
    `as-of ${seconds(asOf)} s, by name ${seconds(byName)} s (${ratio(asOf / byName)})`
  );
}

export function report(
  datasets: readonly DatasetResult[],
  nothingDue: NothingDueResult | undefined,
  checks: readonly Target[],
): void {
  say(
    '\nMedians in seconds; Turku = the whole turku-agent-ping (check-in, ssh tunnel, storage pull, snapshot, report).',
  );
  say(`References: ${BASELINE}.`);
  for (const result of datasets) {
    say(`\nDataset ${result.name}: ${result.description}, ${(result.bytes / 1e6).toFixed(1)} MB`);
    say(line(COLUMNS.map(([title]) => title)));
    say(row('full', result.full));
    say(row('incremental (1%)', result.incremental));
    say(row('no change', result.noChange));
    say(row('restore', result.restore));
    say(restoreChoiceLine(result.restoreChoice));
    for (const [step, comparison] of [
      ['full', result.full],
      ['incremental', result.incremental],
      ['no change', result.noChange],
    ] as const) {
      const turku = cpuLine(comparison.turkuCpuMedianSeconds);
      if (turku !== undefined) {
        say(`  CPU s, ${step}: Turku ${turku}; over ssh ${cpuLine(comparison.bareSshCpuMedianSeconds) ?? '-'}`);
      }
    }
    const changed = result.mutations.map((m) => `${m.files} files/${(m.bytes / 1e6).toFixed(2)} MB`).join(', ');
    say(`  changes per incremental round: ${changed}`);
  }
  if (nothingDue !== undefined) {
    const c = nothingDue.context;
    say(
      `\nNothing-due ping: median ${Math.round(nothingDue.medianSeconds * 1000)} ms over ${nothingDue.runs.length} runs, ` +
        `node -e 0 taken in turns with it ${Math.round(nothingDue.nodeEmptyScriptMedianSeconds * 1000)} ms ` +
        `(${ratio(nothingDue.ratioNode)}); for scale, in the namespace: ip netns exec true ` +
        `${Math.round(c.ipNetnsExecTrueSeconds * 1000)} ms, ping-main --help ${Math.round(c.pingHelpSeconds * 1000)} ms`,
    );
  }
  say(
    'Columns: local = `rsync -a` between two directories; over ssh = `rsync -a` from the agent machine to the storage',
  );
  say("machine over ssh with OpenSSH's defaults (the copy targets' reference); (AES-GCM) = the same with");
  say('`-c aes128-gcm@openssh.com` (no target: shows what a faster cipher alone gives); borg, restic = a local');
  say('`borg create` / `restic backup` of the same data (full: into a fresh repository; then the next archive or');
  say('snapshot); ÷x = Turku / x. (link-dest) = for reference, a local `rsync -a --link-dest=COPY SRC/ NEW/`, the');
  say("same kind of snapshot as the storage makes. rsync = the storage's pull, from its log: its first rsync's");
  say("start to the end of the last process before the snapshot (with a base: the dry run beside the base's clone,");
  say('then the pull of what changed); before/after = the rest of the ping before it (check-ins, rsync daemon, ssh,');
  say('storage program) and after it (snapshot, manifest, report, session teardown). Restores have no anchors.');
  say('CPU s = medians of the CPU seconds of the processes that ended during a run, by side ("agent": started by');
  say('the benchmark; "storage": under an sshd) and command, from process accounting: where the time goes.\n');
  sayTargets(checks);
}

/** Manifests: each dataset's cost on a backup (off → on) and verify's throughput against sha256sum. */
export function reportManifest(results: readonly ManifestResult[]): void {
  if (results.length === 0) return;
  say(
    '\nManifests (the storage records one per snapshot; medians of the same run: the backup off → on, the ' +
      'target, beside the spread of the "off" runs, their noise; the recording after rsync against the backup with ' +
      'it (a full backup hashes most files during rsync, which only the difference and the CPU show); the ' +
      "storage's node CPU seconds off → on):",
  );
  for (const { name, full, incremental, verify } of results) {
    for (const [step, cost] of [
      ['full', full],
      ['incremental (1%)', incremental],
    ] as const) {
      const cpu =
        cost.storageNodeCpu === null ? '' : `; node CPU ${cost.storageNodeCpu.off} → ${cost.storageNodeCpu.on} s`;
      say(
        `  ${name} ${step}: off → on ${seconds(cost.offMedianSeconds)} → ${seconds(cost.onMedianSeconds)} s ` +
          `(${signed(cost.addedPercent)}%; run by run ${signed(cost.pairedPercent)}%; off runs spread ${cost.offSpreadPercent}%); ` +
          `recording after rsync ${median(cost.recordMs)} ms = ${cost.recordPercent}%${cpu}`,
      );
    }
    say(
      `  ${name} verify: ${verify.files} files, ${(verify.bytes / 1e6).toFixed(1)} MB: ${verify.verifyMBps} MB/s, ` +
        `sha256sum ${verify.sha256sumMBps} MB/s (${ratio(verify.ratio)})`,
    );
  }
}
