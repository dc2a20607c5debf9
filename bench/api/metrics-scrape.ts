import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { SHARED_SCRAPE_MS } from '../../lib/api/metrics/endpoint.js';
import { say } from '../harness/lifecycle.js';
import { median, round } from '../harness/stats.js';
import { type ServerProcess, startApiProcess } from './api-process.js';

/**
 * `GET /metrics` at the benchmark's fleet (bench/api/README.md, "/metrics"): the API that ran the
 * rows (per-source series on, the default) and a second API process on the same database with
 * `metrics_per_source: false`, each scraped in turn after a warm-up. Each time is the whole
 * answer received by the client: the aggregate queries, the text, and the transfer on loopback.
 */

export interface ScrapeResult {
  readonly perSource: boolean;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly bytes: number;
  readonly lines: number;
}

export interface MetricsResult {
  readonly perSourceOff: ScrapeResult;
  readonly perSourceOn: ScrapeResult;
}

async function scrape(api: ServerProcess, perSource: boolean, runs: number): Promise<ScrapeResult> {
  const url = api.url.replace(/\/v1$/, '/metrics');
  const once = async () => {
    const start = performance.now();
    const response = await fetch(url);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`GET /metrics: ${response.status} ${text.slice(0, 200)}`);
    return { ms: performance.now() - start, text };
  };
  // One reading answers every scrape for SHARED_SCRAPE_MS (lib/api/metrics/endpoint.ts): each
  // timed scrape waits that out, so it is a reading of the database, not the last one's text.
  const fresh = async () => {
    await new Promise((resolve) => setTimeout(resolve, SHARED_SCRAPE_MS + 200));
    return once();
  };
  await fresh(); // warm-up: the first scrape learns the frequencies' periods
  const times: number[] = [];
  let text = '';
  for (let run = 0; run < runs; run++) ({ ms: times[run], text } = await fresh());
  return {
    perSource,
    runs,
    medianMs: round(median(times)),
    minMs: round(Math.min(...times)),
    maxMs: round(Math.max(...times)),
    bytes: Buffer.byteLength(text),
    lines: text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length,
  };
}

const line = (label: string, result: ScrapeResult) =>
  `  /metrics, per-source ${label}: median ${result.medianMs} ms (${result.minMs}-${result.maxMs}), ` +
  `${result.lines} series, ${round(result.bytes / 1e6, 1)} MB`;

/** Both scrapes; `api` is the running API (per-source on), `config` its settings file. */
export async function measureMetrics(
  api: ServerProcess,
  config: Record<string, unknown>,
  dir: string,
  runs: number,
): Promise<MetricsResult> {
  const perSourceOn = await scrape(api, true, runs);
  say(line('on', perSourceOn));
  const offConfig = join(dir, 'turku-api-metrics-off.json');
  await writeFile(offConfig, JSON.stringify({ ...config, metrics_per_source: false }));
  const off = await startApiProcess(offConfig);
  try {
    const perSourceOff = await scrape(off, false, runs);
    say(line('off', perSourceOff));
    return { perSourceOff, perSourceOn };
  } finally {
    await off.stop();
  }
}
