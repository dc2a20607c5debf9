import os from 'node:os';

import { say } from '../harness/lifecycle.js';
import { type Target, sayTargets } from '../harness/results.js';
import { type BackendResult, SCHEDULE_NOTE } from './backend-bench.js';
import { DISTURBED_PERCENT, type MeasuredRow, type Row } from './rows.js';
import { type ApiSettings, BACKEND_LABEL } from './settings.js';

/** The turku-api benchmark's targets (issue 19's target 1; bench/api/README.md, "Targets"), checked and printed. */

const HEALTH_RATIO = 0.7;
const SQLITE_CHECKIN_RATIO = 0.5;
const SQLITE_CHECKIN_P99_MS = 10;
const POSTGRES_CHECKIN_RATIO = 0.3;
/** a million machines checking in every 5 minutes */
const POSTGRES_CHECKINS_PER_SECOND = 3333;
/** one round trip per check-in; the margin covers the pool's own traffic */
const POSTGRES_ROUND_TRIPS = 1.05;
const UPDATE_CONFIG_RATIO = 0.3;
const TARGET_PEAK_RSS_MB = 300;
/** Issue 21: the web console's overview at the fleet's size. */
const CONSOLE_OVERVIEW_MS = 200;
/** GET /metrics at the fleet's size (100,000 machines × 3 sources), per-source series off and on */
const METRICS_OFF_MS = 100;
const METRICS_ON_MS = 2000;

function ratioTarget(label: string, name: string, row: Row, minimum: number, reference: number): Target {
  return {
    target: `${label}: ${name} ≥ ${minimum}× the bare server`,
    measured: `${row.requestsPerSecond}/s = ${row.ratio}× ${reference}/s, p99 ${row.latencyMs.p99} ms`,
    pass: row.ratio >= minimum,
  };
}

function backendTargets(result: BackendResult): Target[] {
  const label = BACKEND_LABEL[result.backend];
  const reference = result.reference.requestsPerSecond;
  const { health, checkin, updateConfigUnchanged } = result.rows;
  const found = [ratioTarget(label, '/v1/health', health, HEALTH_RATIO, reference)];
  if (result.backend === 'sqlite') {
    found.push(ratioTarget(label, 'agent_ping_checkin', checkin, SQLITE_CHECKIN_RATIO, reference), {
      target: `${label}: agent_ping_checkin p99 ≤ ${SQLITE_CHECKIN_P99_MS} ms at ${checkin.connections} connections`,
      measured: `${checkin.latencyMs.p99} ms`,
      pass: checkin.latencyMs.p99 <= SQLITE_CHECKIN_P99_MS,
    });
  } else {
    const trips = checkin.database?.roundTripsPerRequest ?? Number.NaN;
    found.push(
      ratioTarget(label, 'agent_ping_checkin', checkin, POSTGRES_CHECKIN_RATIO, reference),
      {
        target: `${label}: agent_ping_checkin ≥ ${POSTGRES_CHECKINS_PER_SECOND}/s (a million machines every 5 minutes)`,
        measured: `${checkin.requestsPerSecond}/s`,
        pass: checkin.requestsPerSecond >= POSTGRES_CHECKINS_PER_SECOND,
      },
      {
        target: `${label}: one round trip per check-in (≤ ${POSTGRES_ROUND_TRIPS} measured)`,
        measured: `${trips} round trips, ${checkin.database?.transactionsPerRequest ?? Number.NaN} transactions`,
        pass: trips <= POSTGRES_ROUND_TRIPS,
      },
    );
  }
  found.push({
    target: `${label}: GET /console (overview) median < ${CONSOLE_OVERVIEW_MS} ms`,
    measured: `${result.consoleOverview.medianMs} ms (p90 ${result.consoleOverview.p90Ms} ms)`,
    pass: result.consoleOverview.medianMs < CONSOLE_OVERVIEW_MS,
  });
  found.push(
    ratioTarget(label, 'update_config, config unchanged', updateConfigUnchanged, UPDATE_CONFIG_RATIO, reference),
    {
      target: `${label}: GET /metrics, per-source series off, < ${METRICS_OFF_MS} ms (median)`,
      measured: `${result.metrics.perSourceOff.medianMs} ms, ${result.metrics.perSourceOff.lines} series`,
      pass: result.metrics.perSourceOff.medianMs < METRICS_OFF_MS,
    },
    {
      target: `${label}: GET /metrics, per-source series on, < ${METRICS_ON_MS} ms (median)`,
      measured: `${result.metrics.perSourceOn.medianMs} ms, ${result.metrics.perSourceOn.lines} series`,
      pass: result.metrics.perSourceOn.medianMs < METRICS_ON_MS,
    },
    {
      target: `${label}: API peak RSS < ${TARGET_PEAK_RSS_MB} MB`,
      measured: `${result.memory.peakRssMb} MB`,
      pass: result.memory.peakRssMb < TARGET_PEAK_RSS_MB,
    },
  );
  return found;
}

function allRows(result: BackendResult): MeasuredRow[] {
  const { reference, rows } = result;
  return [reference.before, reference.after, reference.checkinBodies, ...Object.values(rows), ...result.concurrency];
}

/** The targets; the last one, no failed request anywhere, decides the exit status. */
export function targets(results: readonly BackendResult[]): Target[] {
  const found = results.flatMap(backendTargets);
  let failed = 0;
  for (const result of results) {
    failed += result.registration.errors + result.apiErrorLogLines;
    for (const row of allRows(result)) failed += row.failed;
  }
  found.push({
    target: 'no failed requests (status ≥ 400, socket errors, timeouts) in any row or registration, no API error logs',
    measured: `${failed}`,
    pass: failed === 0,
  });
  return found;
}

const HEADER =
  `  ${'row'.padEnd(30)} ${'conn'.padStart(4)} ${'req/s'.padStart(7)} ${'ratio'.padStart(6)} ${'p50 ms'.padStart(7)} ` +
  `${'p99 ms'.padStart(7)} ${'failed'.padStart(6)} ${'srv%'.padStart(5)} ${'wrk%'.padStart(5)} ${'db%'.padStart(5)} ` +
  `${'other%'.padStart(6)} ${'trips'.padStart(5)}`;

function tableLine(name: string, row: MeasuredRow, ratio: number | undefined): string {
  const pad = (value: string | number | undefined, width: number) => String(value ?? '-').padStart(width);
  return (
    `  ${name.padEnd(30)} ${pad(row.connections, 4)} ${pad(row.requestsPerSecond, 7)} ${pad(ratio, 6)} ` +
    `${pad(row.latencyMs.p50, 7)} ${pad(row.latencyMs.p99, 7)} ${pad(row.failed, 6)} ${pad(row.cpu.serverPercent, 5)} ` +
    `${pad(row.cpu.loadGeneratorPercent, 5)} ${pad(row.cpu.databasePercent, 5)} ${pad(row.cpu.otherPercent, 6)} ` +
    `${pad(row.database?.roundTripsPerRequest, 5)}${row.disturbed ? '  (disturbed)' : ''}`
  );
}

function reportBackend(settings: ApiSettings, result: BackendResult): void {
  const r = result.registration;
  const { reference, rows } = result;
  say(
    `\n${BACKEND_LABEL[result.backend]} ${result.databaseVersion}: ${r.machines} machines, ${r.sources} sources ` +
      `(machine ${result.backgroundCpuPercent}% busy before start)`,
  );
  say(
    `  registration (update_config, Node load generator, c=${r.concurrency}): ${r.requestsPerSecond}/s over ${r.seconds} s; ` +
      `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}`,
  );
  say(`  schedule spread: ${result.schedule.sourcesUpdated} sources in ${result.schedule.seconds} s`);
  say(
    `  reference: the bare server ${reference.requestsPerSecond}/s (GET, mean of ${reference.before.requestsPerSecond} ` +
      `before and ${reference.after.requestsPerSecond} after the API's rows)`,
  );
  say(HEADER);
  say(tableLine('bare server GET (before)', reference.before, undefined));
  say(tableLine('bare server, check-in POSTs', reference.checkinBodies, reference.checkinBodies.ratio));
  say(tableLine('/v1/health', rows.health, rows.health.ratio));
  say(tableLine('agent_ping_checkin', rows.checkin, rows.checkin.ratio));
  say(tableLine('update_config, unchanged', rows.updateConfigUnchanged, rows.updateConfigUnchanged.ratio));
  for (const row of result.concurrency) say(tableLine('agent_ping_checkin (sweep)', row, row.ratio));
  say(tableLine('bare server GET (after)', reference.after, undefined));
  for (const scrape of [result.metrics.perSourceOff, result.metrics.perSourceOn]) {
    say(
      `  GET /metrics, per-source ${scrape.perSource ? 'on' : 'off'}: median ${scrape.medianMs} ms ` +
        `(min ${scrape.minMs}, max ${scrape.maxMs}) over ${scrape.runs} runs; ${scrape.lines} series, ${scrape.bytes} bytes`,
    );
  }
  const due = result.dueQuery;
  say(
    `  due-source query (now ${settings.dueQueryHorizon}, LIMIT 1000): median ${due.medianMs} ms ` +
      `(min ${due.minMs}, max ${due.maxMs}) over ${due.runs} runs; ${due.rows} rows, ${due.dueSources} due in all`,
  );
  say(
    `  API RSS: peak ${result.memory.peakRssMb} MB, after registration ${result.memory.rssAfterRegistrationMb} MB, ` +
      `at end ${result.memory.rssAtEndMb} MB; database ${result.databaseSizeMb} MB`,
  );
  reportProfile('agent_ping_checkin', result.profile);
  reportProfile('update_config, unchanged', result.updateConfigProfile);
}

function reportProfile(row: string, profile: BackendResult['profile']): void {
  if (profile === undefined) return;
  say(
    `  profile (${row}, c=${profile.connections}, ${profile.requestsPerSecond}/s under --cpu-prof; ` +
      `share of ${profile.busyMs} ms busy): ` +
      profile.areas
        .slice(0, 8)
        .map((area) => `${area.name} ${area.percent}%`)
        .join(', '),
  );
  for (const fn of profile.topFunctions.slice(0, 12)) say(`    ${String(fn.percent).padStart(5)}%  ${fn.name}`);
}

export function report(settings: ApiSettings, results: readonly BackendResult[], checks: readonly Target[]): void {
  for (const result of results) reportBackend(settings, result);
  say(`\n${SCHEDULE_NOTE}`);
  say("Columns: ratio = req/s ÷ the bare server's (mean of before and after); failed = status ≥ 400, socket errors");
  say('and timeouts (must be 0); srv% wrk% db% = CPU of the server under load, wrk and PostgreSQL, other% = the rest');
  say(
    `of the machine, in percent of one core (${os.cpus().length} cores here), over the row; trips = PostgreSQL round`,
  );
  say(`trips per request; (disturbed): other% > ${DISTURBED_PERCENT}.\n`);
  sayTargets(checks);
}
