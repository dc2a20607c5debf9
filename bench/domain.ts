import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { evaluateRetention } from '../lib/turku/retention.js';
import { nextBackup } from '../lib/turku/schedule.js';

/**
 * Throughput of the domain core on the API's hot paths: nextBackup runs for every source
 * created, changed or backed up (the API benchmark registers 300,000 sources), and retention
 * runs after every successful backup. Results: bench/results/domain.json.
 */

const SOURCES = 20_000;
const ids = Array.from({ length: SOURCES }, () => randomUUID());
const after = new Date('2024-12-15T07:00:00Z');

function measure(
  label: string,
  run: () => void,
  operations: number,
): { label: string; perSecond: number; microseconds: number } {
  run(); // warm-up
  const start = process.hrtime.bigint();
  run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    label,
    perSecond: Math.round(operations / seconds),
    microseconds: Number(((seconds / operations) * 1e6).toFixed(2)),
  };
}

const schedules = ['daily', 'daily, 0200-1400', 'sunday, 2300-0100', 'monthly', 'hourly', 'cron H H(0-5) * * *'].map(
  (frequency) =>
    measure(`nextBackup("${frequency}")`, () => ids.forEach((id) => nextBackup(frequency, id, after)), SOURCES),
);
const helsinki = measure(
  'nextBackup("daily, 0200-1400", Europe/Helsinki)',
  () => ids.forEach((id) => nextBackup('daily, 0200-1400', id, after, { timeZone: 'Europe/Helsinki' })),
  SOURCES,
);

// A long-lived source: three years of daily snapshots.
const snapshots = Array.from({ length: 1095 }, (_, day) => ({
  name: `s${day}`,
  finishedAt: new Date(Date.UTC(2022, 0, 1 + day, 3, 12)),
}));
const now = new Date(Date.UTC(2024, 11, 31, 3, 20));
const retention = measure(
  'evaluateRetention(1095 snapshots, 4 clauses)',
  () => {
    for (let i = 0; i < 200; i += 1) {
      evaluateRetention(snapshots, 'last 7 days, earliest of week, earliest of month, earliest of 12 months', now);
    }
  },
  200,
);

const results = { date: new Date().toISOString(), node: process.version, results: [...schedules, helsinki, retention] };
const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
await mkdir(dir, { recursive: true });
await writeFile(`${dir}domain.json`, `${JSON.stringify(results, null, 2)}\n`);
for (const { label, perSecond, microseconds } of results.results) {
  process.stdout.write(
    `${label.padEnd(52)} ${String(perSecond).padStart(9)}/s ${String(microseconds).padStart(8)} µs\n`,
  );
}
