import { SOURCES, SOURCES_PER_MACHINE } from './fleet.js';
import { env, listEnv, numberEnv, outputName } from '../harness/options.js';

/**
 * The turku-api benchmark's settings, from the environment (bench/api/README.md lists them):
 * BENCH_MACHINES, BENCH_LEVEL_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS, BENCH_WRK_THREADS,
 * BENCH_CONCURRENCY, BENCH_REGISTER_CONCURRENCY, BENCH_BACKENDS, BENCH_PG_POOL_SIZE, BENCH_PROFILE,
 * BENCH_QUIET_SECONDS, BENCH_METRICS_RUNS, BENCH_SEED; BENCH_PROFILE_DIR and BENCH_OUTPUT say where the profiles and
 * results go.
 */

export type Backend = 'sqlite' | 'postgres';
export const BACKEND_LABEL: Record<Backend, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export type ApiSettings = ReturnType<typeof apiSettings>;

export function apiSettings() {
  return {
    machines: numberEnv('BENCH_MACHINES', 100_000),
    sourcesPerMachine: SOURCES_PER_MACHINE,
    sources: SOURCES,
    registerConcurrency: numberEnv('BENCH_REGISTER_CONCURRENCY', 32),
    /** the rows run at this many connections (wrk -c) */
    connections: numberEnv('BENCH_CONNECTIONS', 16),
    /** wrk -t: one thread keeps wrk to one core of a 2-core machine, leaving the other to the API */
    wrkThreads: numberEnv('BENCH_WRK_THREADS', 1),
    /** the check-in sweep's connection counts ("none": no sweep) */
    checkinConcurrency: listEnv<string>('BENCH_CONCURRENCY', ['1', '8', '32', '64', '128'])
      .filter((level) => level !== 'none')
      .map((level) => {
        const value = Number(level);
        if (!Number.isInteger(value) || value < 1) throw new Error(`BENCH_CONCURRENCY: bad level "${level}"`);
        return value;
      }),
    /** measured seconds per row (wrk -d: whole seconds) */
    levelSeconds: numberEnv('BENCH_LEVEL_SECONDS', 10),
    warmupSeconds: numberEnv('BENCH_WARMUP_SECONDS', 2, { min: 0 }),
    /** how long to wait for a quiet machine before each row */
    quietSeconds: numberEnv('BENCH_QUIET_SECONDS', 60, { min: 0 }),
    backends: listEnv<Backend>('BENCH_BACKENDS', ['sqlite', 'postgres'], ['sqlite', 'postgres']),
    databasePoolSize: numberEnv('BENCH_PG_POOL_SIZE', 10),
    /** 1: profile the API (node --cpu-prof) under the check-in row's load; 0: no profile */
    profile: numberEnv('BENCH_PROFILE', 1, { min: 0 }) !== 0,
    dueQueryRuns: 20,
    /** scrapes of /metrics timed per setting (after one warm-up) */
    metricsRuns: numberEnv('BENCH_METRICS_RUNS', 5),
    dueQueryHorizon: '+1 h',
    scheduleSpreadHours: 24,
    logLevel: 'info',
    seed: env('BENCH_SEED') ?? 'turku-bench-api',
  };
}

/** The results file's name in bench/results/. */
export function apiOutput(): string {
  return outputName('api');
}

/** Where to keep the raw .cpuprofile files (for Chrome DevTools); by default they go with the temp dir. */
export function profileDir(): string | undefined {
  return env('BENCH_PROFILE_DIR');
}
