import { type Target } from '../harness/results.js';
import { median, round } from '../harness/stats.js';
import { type DatasetResult } from './dataset-bench.js';
import { type ManifestResult } from './manifest-bench.js';
import { type Comparison } from './measure.js';
import { type NothingDueResult } from './nothing-due.js';

/**
 * The data-path benchmark's targets, those of issue 19 (bench/datapath/README.md, "Targets"), each
 * a ratio to (or a margin over) a reference measured in the same run.
 */

export const LIMITS = {
  /** A (mixed files): full backup at most this × the bare rsync over ssh… */
  fullVsSsh: 1.0,
  /** …and at most this × the local rsync… */
  fullVsLocal: 1.6,
  /** …and at most this × borg create (at least twice as fast). */
  fullVsBorg: 0.5,
  /** A: incremental at most the bare ssh incremental + this many seconds, and faster than borg's. */
  incrementalSlackSeconds: 0.3,
  /** A: a backup with nothing changed, at most this many seconds. */
  noChangeSeconds: 0.5,
  /** B (small files): full, incremental and no change each at most this × the bare rsync over ssh. */
  smallFilesVsSsh: 2.0,
  /** Nothing-due ping at most this × `node -e 0`. */
  nothingDueVsNode: 2.5,
  /** Manifests: at most this % added to a full backup… */
  manifestFullPercent: 10,
  /** …and to a 1 % incremental; */
  manifestIncrementalPercent: 5,
  /** verify reads at least this × sha256sum's throughput. */
  verifyVsSha256sum: 0.8,
} as const;

const s = (value: number) => `${value} s`;
const times = (value: number) => `${round(value, 2)}×`;

/** Turku's median against a reference's median: a ratio target. */
function ratioTarget(
  what: string,
  comparison: Comparison,
  reference: string,
  referenceSeconds: number | undefined,
  limit: number,
): Target {
  if (referenceSeconds === undefined) return { target: what, measured: `no ${reference} figure`, pass: false };
  const ratio = comparison.turkuMedianSeconds / referenceSeconds;
  return {
    target: `${what} ≤ ${limit}× ${reference}`,
    measured: `Turku ${s(comparison.turkuMedianSeconds)}, ${reference} ${s(referenceSeconds)}: ${times(ratio)}`,
    pass: ratio <= limit,
  };
}

function mixedDatasetTargets(result: DatasetResult): Target[] {
  const { full, incremental, noChange } = result;
  const name = result.name;
  const slackLimit = incremental.bareSshMedianSeconds + LIMITS.incrementalSlackSeconds;
  const borgIncremental = incremental.borgMedianSeconds;
  return [
    ratioTarget(`${name}: full`, full, 'rsync -a over ssh', full.bareSshMedianSeconds, LIMITS.fullVsSsh),
    ratioTarget(`${name}: full`, full, 'local rsync -a', full.bareMedianSeconds, LIMITS.fullVsLocal),
    ratioTarget(`${name}: full`, full, 'borg create', full.borgMedianSeconds, LIMITS.fullVsBorg),
    {
      target: `${name}: 1% incremental ≤ rsync -a over ssh + ${LIMITS.incrementalSlackSeconds} s`,
      measured:
        `Turku ${s(incremental.turkuMedianSeconds)}, over ssh ${s(incremental.bareSshMedianSeconds)}: ` +
        `${s(round(incremental.turkuMedianSeconds - incremental.bareSshMedianSeconds, 3))} more (limit ${s(round(slackLimit, 3))})`,
      pass: incremental.turkuMedianSeconds <= slackLimit,
    },
    {
      target: `${name}: 1% incremental < borg create's`,
      measured:
        borgIncremental === undefined
          ? 'no borg figure'
          : `Turku ${s(incremental.turkuMedianSeconds)}, borg ${s(borgIncremental)}: ${times(incremental.turkuMedianSeconds / borgIncremental)}`,
      pass: borgIncremental !== undefined && incremental.turkuMedianSeconds < borgIncremental,
    },
    {
      target: `${name}: no change ≤ ${LIMITS.noChangeSeconds} s`,
      measured: `Turku ${s(noChange.turkuMedianSeconds)} (over ssh ${s(noChange.bareSshMedianSeconds)})`,
      pass: noChange.turkuMedianSeconds <= LIMITS.noChangeSeconds,
    },
  ];
}

function smallFilesTargets(result: DatasetResult): Target[] {
  const steps: [string, Comparison][] = [
    ['full', result.full],
    ['1% incremental', result.incremental],
    ['no change', result.noChange],
  ];
  return steps.map(([step, comparison]) =>
    ratioTarget(
      `${result.name}: ${step}`,
      comparison,
      'rsync -a over ssh',
      comparison.bareSshMedianSeconds,
      LIMITS.smallFilesVsSsh,
    ),
  );
}

function manifestTargets(result: ManifestResult): Target[] {
  const added = (step: string, cost: ManifestResult['full'], limit: number): Target => ({
    target: `${result.name}: manifest adds ≤ ${limit}% to a ${step}`,
    measured:
      `off ${s(cost.offMedianSeconds)}, on ${s(cost.onMedianSeconds)}: ${cost.addedPercent}% ` +
      `(run by run ${cost.pairedPercent}%; off runs spread ${cost.offSpreadPercent}%; recording after rsync ${median(cost.recordMs)} ms = ` +
      `${cost.recordPercent}%)`,
    pass: cost.addedPercent <= limit,
  });
  const { verify } = result;
  return [
    added('full backup', result.full, LIMITS.manifestFullPercent),
    added('1% incremental', result.incremental, LIMITS.manifestIncrementalPercent),
    {
      target: `${result.name}: verify ≥ ${LIMITS.verifyVsSha256sum}× sha256sum's throughput`,
      measured: `verify ${verify.verifyMBps} MB/s, sha256sum ${verify.sha256sumMBps} MB/s: ${times(verify.ratio)}`,
      pass: verify.ratio >= LIMITS.verifyVsSha256sum,
    },
  ];
}

export function targets(
  datasets: readonly DatasetResult[],
  nothingDue: NothingDueResult | undefined,
  manifests: readonly ManifestResult[] = [],
): Target[] {
  const found = datasets.flatMap((result) =>
    result.name === 'A' ? mixedDatasetTargets(result) : smallFilesTargets(result),
  );
  found.push(...manifests.flatMap(manifestTargets));
  if (nothingDue !== undefined) {
    found.push({
      target: `nothing-due ping ≤ ${LIMITS.nothingDueVsNode}× node -e 0`,
      measured:
        `${Math.round(nothingDue.medianSeconds * 1000)} ms, node -e 0 ` +
        `${Math.round(nothingDue.nodeEmptyScriptMedianSeconds * 1000)} ms: ${times(nothingDue.ratioNode)}`,
      pass: nothingDue.ratioNode <= LIMITS.nothingDueVsNode,
    });
  }
  return found;
}
