import { env, numberEnv, outputName } from '../harness/options.js';

/**
 * The data-path benchmark's settings, from the environment (bench/datapath/README.md lists them):
 * BENCH_SCALE, BENCH_RUNS, BENCH_LARGE_RUNS, BENCH_DATASETS, BENCH_STEPS, BENCH_SEED,
 * BENCH_QUIET_SECONDS, and BENCH_OUTPUT for the results file's name.
 */

const DATASET_NAMES = ['A', 'B'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** The benchmark's parts: the backup/restore rows, the manifests' rows, the nothing-due ping. */
const STEP_NAMES = ['backups', 'manifests', 'nothing-due'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface DatapathSettings {
  /** Dataset size factor (file counts and bytes). */
  readonly scale: number;
  /** Runs per cheap measurement. */
  readonly runs: number;
  /** Runs of a large dataset's full backup and restore. */
  readonly largeRuns: number;
  readonly datasets: readonly DatasetName[];
  /** Which parts run (all by default; one alone for an A/B comparison of that part). */
  readonly steps: readonly StepName[];
  readonly nothingDueRuns: number;
  /** Longest wait for a nearly idle machine before each timed run. */
  readonly quietWaitSeconds: number;
  readonly seed: string;
}

export function datapathSettings(): DatapathSettings {
  return {
    scale: numberEnv('BENCH_SCALE', 1, { integer: false, min: 0.001 }),
    runs: numberEnv('BENCH_RUNS', 3),
    largeRuns: numberEnv('BENCH_LARGE_RUNS', 2),
    datasets: (env('BENCH_DATASETS') ?? 'A,B').split(',').map((name) => {
      const trimmed = name.trim();
      if (!(DATASET_NAMES as readonly string[]).includes(trimmed)) throw new Error(`BENCH_DATASETS: unknown "${name}"`);
      return trimmed as DatasetName;
    }),
    steps: (env('BENCH_STEPS') ?? STEP_NAMES.join(',')).split(',').map((name) => {
      const trimmed = name.trim();
      if (!(STEP_NAMES as readonly string[]).includes(trimmed)) throw new Error(`BENCH_STEPS: unknown "${name}"`);
      return trimmed as StepName;
    }),
    nothingDueRuns: 11,
    quietWaitSeconds: numberEnv('BENCH_QUIET_SECONDS', 30, { min: 0 }),
    seed: env('BENCH_SEED') ?? 'turku-bench-datapath',
  };
}

/** The results file's name in bench/results/. */
export function datapathOutput(): string {
  return outputName('datapath');
}
