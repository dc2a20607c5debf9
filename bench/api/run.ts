import { errorText, say } from '../harness/lifecycle.js';
import { machineInfo } from '../harness/machine.js';
import { type Target, writeResults } from '../harness/results.js';
import { benchBackend, type BackendResult } from './backend-bench.js';
import { DUE_QUERY, sqliteVersion } from './database.js';
import { report, targets } from './report.js';
import { type ApiSettings, BACKEND_LABEL, type Backend, apiOutput, apiSettings } from './settings.js';

/**
 * The turku-api benchmark (`npm run bench:api`). For each backend (SQLite in a temp directory,
 * then a throwaway PostgreSQL cluster) it runs the real `turku-api serve` as a child process and
 * drives it from a separate load-generator process (load.ts):
 *
 * 1. registers one storage and BENCH_MACHINES machines × 3 sources through `update_config`;
 * 2. spreads every source's next backup uniformly over the next 24 h with one SQL UPDATE (new
 *    sources are all due within 15 minutes; a fleet in its steady state is not);
 * 3. drives `agent_ping_checkin` over random machines at rising concurrency;
 * 4. times the fleet-wide due-source query directly against the database;
 * 5. reads the API's peak and final RSS; then, unmeasured, profiles one more check-in level with
 *    `node --cpu-prof` and summarises the self time.
 *
 * Environment (for smoke runs): BENCH_MACHINES, BENCH_LEVEL_SECONDS, BENCH_WARMUP_SECONDS,
 * BENCH_CONCURRENCY (e.g. "1,8,32"), BENCH_REGISTER_CONCURRENCY, BENCH_BACKENDS ("sqlite,postgres"),
 * BENCH_PG_POOL_SIZE, BENCH_PROFILE_CONCURRENCY (0: no profile), BENCH_PROFILE_DIR (keep the raw
 * .cpuprofile files there), BENCH_OUTPUT (file name in bench/results/, default api.json).
 * Results: bench/results/api.json.
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
function resultsFile(settings: ApiSettings, { results, failures }: Measured, checks: readonly Target[]) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: {
      ...machineInfo(),
      sqlite: sqliteVersion(),
      postgresql: results.find((result) => result.backend === 'postgres')?.databaseVersion ?? null,
    },
    settings: { ...settings, dueQuery: DUE_QUERY },
    results,
    failures,
    targets: checks,
  };
}

async function main(): Promise<void> {
  const settings = apiSettings();
  const output = apiOutput();
  const measured = await measure(settings);
  const checks = targets(measured.results);
  await writeResults(output, resultsFile(settings, measured, checks));
  report(settings, measured.results, checks);
  say(`\nResults: bench/results/${output}`);
  if (measured.failures.length > 0 || !checks[checks.length - 1]!.pass) process.exitCode = 1;
}

await main();
