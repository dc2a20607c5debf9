import { errorText, say } from '../harness/lifecycle.js';
import { machineInfo } from '../harness/machine.js';
import { type Target, writeResults } from '../harness/results.js';
import { benchBackend, type BackendResult } from './backend-bench.js';
import { DUE_QUERY, sqliteVersion } from './database.js';
import { report, targets } from './report.js';
import { type ApiSettings, BACKEND_LABEL, type Backend, apiOutput, apiSettings } from './settings.js';
import { ENVIRONMENT_NOTE, SYSTEM_ENV } from './system-env.js';
import { installedWrk } from './wrk.js';

/**
 * The turku-api benchmark (`npm run bench:api`; bench/api/README.md). For each backend (SQLite in a
 * temp directory, then a throwaway PostgreSQL cluster) it runs the real `turku-api serve` and a bare
 * Node `http` server as child processes in a systemd-like environment, and drives them with wrk:
 *
 * 1. registers one storage and BENCH_MACHINES machines × 3 sources through `update_config` (the
 *    Node load generator, load.ts) and spreads every source's next backup over the next 24 h;
 * 2. the bare server (the reference), then `/v1/health`, `agent_ping_checkin` of random machines and
 *    `update_config` of random machines whose config is unchanged, at BENCH_CONNECTIONS (16), then a
 *    check-in sweep over BENCH_CONCURRENCY, then the bare server again; every figure with its ratio
 *    to the bare server's;
 * 3. times the fleet-wide due-source query, reads the API's memory, and profiles the check-in and
 *    unchanged update_config rows.
 *
 * Results: bench/results/api.json (BENCH_OUTPUT: another name there).
 */

interface Measured {
  readonly results: BackendResult[];
  readonly failures: { backend: Backend; error: string }[];
}

/** Each backend in turn; one that fails is recorded and the next still runs. */
async function measure(settings: ApiSettings): Promise<Measured> {
  const measured: Measured = { results: [], failures: [] };
  for (const backend of settings.backends) {
    try {
      measured.results.push(await benchBackend(settings, backend));
    } catch (error) {
      const message = errorText(error);
      say(`  ${BACKEND_LABEL[backend]} failed: ${message}`);
      measured.failures.push({ backend, error: message });
    }
  }
  return measured;
}

/** The results file's content (bench/results/api.json: keep its shape, the README cites it). */
function resultsFile(settings: ApiSettings, wrk: string, { results, failures }: Measured, checks: readonly Target[]) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: {
      ...machineInfo(),
      sqlite: sqliteVersion(),
      postgresql: results.find((result) => result.backend === 'postgres')?.databaseVersion ?? null,
      wrk,
    },
    settings: { ...settings, dueQuery: DUE_QUERY },
    environment: { variables: SYSTEM_ENV, nodeFlags: [], note: ENVIRONMENT_NOTE },
    results,
    failures,
    targets: checks,
  };
}

async function main(): Promise<void> {
  const settings = apiSettings();
  const output = apiOutput();
  const wrk = installedWrk();
  const measured = await measure(settings);
  const checks = targets(measured.results);
  await writeResults(output, resultsFile(settings, wrk, measured, checks));
  report(settings, measured.results, checks);
  say(`\nResults: bench/results/${output}`);
  if (measured.failures.length > 0 || !checks[checks.length - 1]!.pass) process.exitCode = 1;
}

await main();
