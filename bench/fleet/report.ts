import { say } from '../harness/lifecycle.js';
import { sayTargets, type Target } from '../harness/results.js';
import { round } from '../harness/stats.js';
import type { FleetResult } from './measure.js';

/** The fleet benchmark's targets (issue 19, target 5; bench/fleet/README.md), checked and printed. */

const TARGET_TIME_RATIO = 1.5;
/**
 * The storage's peak memory may reach this many times what its slots' sessions take at once,
 * both as proportional sets (PSS: what the processes cost the machine; the sum of resident sets
 * counts the Node binary's shared pages once per process, and is printed beside it).
 */
const TARGET_MEMORY_FACTOR = 2;

export const REFERENCE =
  'the same bytes copied by `rsync -a SRC/ root@STORAGE:DST/` from each agent machine (its namespace) to the ' +
  "storage machine's ordinary sshd over ssh (root key, OpenSSH defaults), 8 at a time (xargs -P8 style)";

export function targets(result: FleetResult): Target[] {
  const { turku, reference, solo, slots } = result;
  const memoryLimit = TARGET_MEMORY_FACTOR * slots * solo.peakPssBytes;
  return [
    {
      target: `all ${result.agents} backups complete, none fails`,
      measured: `${turku.succeeded} succeeded, ${turku.failed} failed (${turku.busyAnswers} busy answers, retried)`,
      pass: turku.failed === 0 && turku.succeeded === result.agents,
    },
    {
      target: `concurrent storage rsyncs ≤ max_concurrent_backups (${slots})`,
      measured: `peak ${turku.peakRsyncs} (reference: ${reference.peakRsyncs})`,
      pass: turku.peakRsyncs <= slots,
    },
    {
      target: `storage peak memory (PSS) ≤ ${TARGET_MEMORY_FACTOR} × ${slots} slots × one session's (${mib(solo.peakPssBytes)})`,
      measured:
        `${mib(turku.peakPssBytes)} vs limit ${mib(memoryLimit)}; summed resident sets ${mib(turku.peakRssBytes)} ` +
        `(reference: ${mib(reference.peakPssBytes)}; unbounded, ${result.agents} sessions would take ~${mib(result.agents * solo.peakPssBytes)})`,
      pass: turku.peakPssBytes <= memoryLimit,
    },
    {
      target: `total time ≤ ${TARGET_TIME_RATIO}× the reference (${result.parallel} parallel bare rsync over ssh)`,
      measured: `${turku.seconds} s vs ${reference.seconds} s (${round(turku.seconds / reference.seconds, 2)}×)`,
      pass: turku.seconds <= TARGET_TIME_RATIO * reference.seconds,
    },
  ];
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

export function report(result: FleetResult, checks: readonly Target[]): void {
  const { turku, reference } = result;
  say(`\n${result.agents} agents × ${result.megabytes} MB; reference: ${REFERENCE}.`);
  say(`                       total     peak PSS    peak RSS sum   peak rsyncs   peak Node`);
  const memory = (figures: { peakPssBytes: number; peakRssBytes: number }) =>
    `${mib(figures.peakPssBytes).padStart(11)}   ${mib(figures.peakRssBytes).padStart(12)}`;
  say(
    `  Turku              ${`${turku.seconds.toFixed(1)} s`.padStart(8)}   ${memory(turku)}   ` +
      `${String(turku.peakRsyncs).padStart(11)}   ${String(turku.peakNodes).padStart(9)}`,
  );
  say(
    `  reference          ${`${reference.seconds.toFixed(1)} s`.padStart(8)}   ${memory(reference)}   ` +
      `${String(reference.peakRsyncs).padStart(11)}   ${'-'.padStart(9)}`,
  );
  say(`  one agent alone    ${`${result.solo.seconds.toFixed(1)} s`.padStart(8)}   ${memory(result.solo)}`);
  say('CPU seconds (summed over cores)  storage   agents   API   bench   machine busy of offered');
  for (const [name, cpu] of [
    ['Turku', turku.cpu],
    ['reference', reference.cpu],
  ] as const) {
    say(
      `  ${name.padEnd(29)} ${cpu.storage.toFixed(1).padStart(7)}  ${cpu.agents.toFixed(1).padStart(7)}  ` +
        `${cpu.api.toFixed(1).padStart(4)}  ${cpu.bench.toFixed(1).padStart(6)}   ${cpu.machineBusy.toFixed(1)} of ${cpu.machineTotal.toFixed(1)}`,
    );
  }
  say(`Concurrent rsyncs on average: Turku ${turku.meanRsyncs}, reference ${reference.meanRsyncs}.`);
  say(
    `Agents' pings: median ${turku.medianPingSeconds} s, longest ${turku.longestPingSeconds} s; ` +
      `busy answers ${turku.busyAnswers} (most for one agent: ${turku.mostBusyAnswers}).`,
  );
  say('');
  sayTargets(checks);
}
