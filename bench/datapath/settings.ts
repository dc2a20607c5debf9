import { env, numberEnv, outputName } from '../harness/options.js';

/**
 * The data-path benchmark's settings, from the environment (bench/datapath/README.md lists them):
 * BENCH_SCALE, BENCH_RUNS, BENCH_LARGE_RUNS, BENCH_DATASETS, BENCH_SEED, and BENCH_OUTPUT for the
 * results file's name.
 */

const DATASET_NAMES = ['A', 'B'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface DatapathSettings {
  /** Dataset size factor (file counts and bytes). */
  readonly scale: number;
  /** Runs per cheap measurement. */
  readonly runs: number;
  /** Runs of a large dataset's full backup and restore. */
  readonly largeRuns: number;
  readonly datasets: readonly DatasetName[];
  readonly nothingDueRuns: number;
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
    nothingDueRuns: 11,
    seed: env('BENCH_SEED') ?? 'turku-bench-datapath',
  };
}

/** The results file's name in bench/results/. */
export function datapathOutput(): string {
  return outputName('datapath');
}
