import os from 'node:os';

import { say } from '../harness/lifecycle.js';
import { type Target, sayTargets } from '../harness/results.js';
import { type BackendResult, DISTURBED_PERCENT, SCHEDULE_NOTE } from './backend-bench.js';
import { type ApiSettings, BACKEND_LABEL } from './settings.js';

/** The turku-api benchmark's targets (bench/api/README.md), checked and printed. */

const TARGET_CHECKINS_PER_SECOND = 3000;
const TARGET_P99_MS = 25;
const TARGET_PEAK_RSS_MB = 300;

export function targets(results: readonly BackendResult[]): Target[] {
  const found: Target[] = [];
  const sqlite = results.find((result) => result.backend === 'sqlite');
  if (sqlite !== undefined) {
    const meeting = sqlite.checkins.filter(
      (level) =>
        level.requestsPerSecond >= TARGET_CHECKINS_PER_SECOND && level.p99Ms <= TARGET_P99_MS && level.errors === 0,
    );
    const best = [...(meeting.length > 0 ? meeting : sqlite.checkins)].sort(
      (a, b) => b.requestsPerSecond - a.requestsPerSecond,
    )[0];
    found.push({
      target: `SQLite ≥ ${TARGET_CHECKINS_PER_SECOND} check-ins/s with p99 ≤ ${TARGET_P99_MS} ms at some concurrency`,
      measured:
        best === undefined
          ? 'no levels run'
          : `${meeting.length > 0 ? 'best meeting it' : 'best level'}: ${best.requestsPerSecond}/s at c=${best.concurrency}, p99 ${best.p99Ms} ms`,
      pass: meeting.length > 0,
    });
  }
  for (const result of results) {
    found.push({
      target: `${BACKEND_LABEL[result.backend]}: API peak RSS < ${TARGET_PEAK_RSS_MB} MB`,
      measured: `${result.memory.peakRssMb} MB`,
      pass: result.memory.peakRssMb < TARGET_PEAK_RSS_MB,
    });
  }
  const errors = results.reduce(
    (sum, result) =>
      sum +
      result.registration.errors +
      result.apiErrorLogLines +
      result.checkins.reduce((levels, level) => levels + level.errors, 0),
    0,
  );
  found.push({ target: 'no failed requests and no API error logs', measured: `${errors}`, pass: errors === 0 });
  return found;
}

export function report(settings: ApiSettings, results: readonly BackendResult[], checks: readonly Target[]): void {
  const pad = (value: string | number, width: number) => String(value).padStart(width);
  for (const result of results) {
    const r = result.registration;
    say(
      `\n${BACKEND_LABEL[result.backend]} ${result.databaseVersion}: ${r.machines} machines, ${r.sources} sources ` +
        `(machine ${result.backgroundCpuPercent}% busy before start)`,
    );
    say(
      `  update_config  c=${r.concurrency}: ${r.requestsPerSecond}/s over ${r.seconds} s; ` +
        `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms; errors ${r.errors}`,
    );
    say(`  schedule spread: ${result.schedule.sourcesUpdated} sources in ${result.schedule.seconds} s`);
    say(
      `  ${'conc'.padStart(5)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ` +
        `${'max ms'.padStart(7)} ${'errors'.padStart(6)} ${'due'.padStart(5)} ${'api%'.padStart(5)} ` +
        `${'load%'.padStart(5)} ${'db%'.padStart(5)} ${'other%'.padStart(6)}`,
    );
    for (const level of result.checkins) {
      say(
        `  ${pad(level.concurrency, 5)} ${pad(level.requestsPerSecond, 7)} ${pad(level.p50Ms, 7)} ${pad(level.p99Ms, 7)} ` +
          `${pad(level.maxMs, 7)} ${pad(level.errors, 6)} ${pad(level.withDueSources, 5)} ${pad(level.cpu.apiPercent, 5)} ` +
          `${pad(level.cpu.loadGeneratorPercent, 5)} ${pad(level.cpu.databasePercent, 5)} ${pad(level.otherCpuPercent, 6)}` +
          (level.disturbed ? '  (disturbed)' : ''),
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
    if (result.profile !== undefined) {
      const profile = result.profile;
      say(
        `  profile (c=${profile.concurrency}, ${profile.requestsPerSecond}/s under --cpu-prof; ` +
          `share of ${profile.busyMs} ms busy): ` +
          profile.areas
            .slice(0, 8)
            .map((area) => `${area.name} ${area.percent}%`)
            .join(', '),
      );
      for (const fn of profile.topFunctions.slice(0, 10)) say(`    ${pad(fn.percent, 5)}%  ${fn.name}`);
    }
  }
  say(`\n${SCHEDULE_NOTE}`);
  say('Columns: due = answers that scheduled a source; api% load% db% = CPU of the API, the load generator and');
  say('PostgreSQL, other% = the rest of the machine (kernel, anything else running), in percent of one core');
  say(`(${os.cpus().length} cores here), over the measured window; (disturbed): other% > ${DISTURBED_PERCENT}.\n`);
  sayTargets(checks);
}
