import { env, numberEnv, outputName } from '../harness/options.js';
import { MAX_AGENTS } from './netns.js';

/**
 * The fleet benchmark's settings, from the environment (bench/fleet/README.md lists them):
 * BENCH_AGENTS, BENCH_MB, BENCH_FILES, BENCH_SLOTS, BENCH_SPREAD_SECONDS, BENCH_PARALLEL,
 * BENCH_SAMPLE_MS, BENCH_STORAGE_LOG, and BENCH_OUTPUT for the results file's name.
 */

export interface FleetSettings {
  readonly agents: number;
  /** Each agent's source: this many MB of random (incompressible) bytes... */
  readonly megabytes: number;
  /** ...in this many files. */
  readonly files: number;
  /** The storage's `max_concurrent_backups`; undefined: its default (two per CPU). */
  readonly slots: number | undefined;
  /** The agents' pings start evenly over this many seconds. */
  readonly spreadSeconds: number;
  /** The bare reference's parallel copies (xargs -P). */
  readonly parallel: number;
  readonly sampleMs: number;
  /** Where to keep a copy of the storage's log (its sessions' timeline); unset: not kept. */
  readonly storageLogCopy: string | undefined;
}

export function fleetSettings(): FleetSettings {
  const slots = env('BENCH_SLOTS');
  return {
    agents: numberEnv('BENCH_AGENTS', 100),
    megabytes: numberEnv('BENCH_MB', 20, { integer: false, min: 0.01 }),
    files: numberEnv('BENCH_FILES', 20),
    slots: slots === undefined ? undefined : numberEnv('BENCH_SLOTS', 1),
    spreadSeconds: numberEnv('BENCH_SPREAD_SECONDS', 10, { integer: false, min: 0 }),
    parallel: numberEnv('BENCH_PARALLEL', 8),
    sampleMs: numberEnv('BENCH_SAMPLE_MS', 150, { min: 20 }),
    storageLogCopy: env('BENCH_STORAGE_LOG'),
  };
}

export function checkSettings(settings: FleetSettings): void {
  if (settings.agents > MAX_AGENTS) throw new Error(`BENCH_AGENTS: at most ${MAX_AGENTS}`);
}

export function fleetOutput(): string {
  return outputName('fleet');
}
