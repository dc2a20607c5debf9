import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ScheduleOptions } from '../../turku/schedule.js';
import type { Database } from '../db/database.js';
import { fleetText, perSourceText } from './exposition.js';
import { OverdueThresholds, readFleet, readSources } from './fleet-readings.js';
import { ApiInstruments } from './instruments.js';

/**
 * `GET /metrics` (docs/api.md, "Metrics"): the counters of this process and the fleet's state,
 * read when Prometheus asks. Behind a bearer token when `metrics_token` is set.
 */

/** How long a finished reading answers further scrapes (docs/api.md, "Metrics"). */
export const SHARED_SCRAPE_MS = 2_000;

/**
 * One reading at a time, and reused for a moment: scrapes that arrive while one is being read, or
 * within SHARED_SCRAPE_MS after it, get that reading's text. A scrape of a large fleet with
 * per-source series takes seconds and a lot of memory (on SQLite on the event loop), and /metrics
 * may be open to anyone: a burst of requests must not multiply either. Two Prometheus replicas
 * scraping together get the same answer.
 */
export class SharedScrape {
  private pending: Promise<string> | undefined;
  private last: { readonly text: string; readonly at: number } | undefined;

  constructor(private readonly maxAgeMs = SHARED_SCRAPE_MS) {}

  /** `now`: the API's clock (ms), which a reading is dated by. */
  text(now: number, read: () => Promise<string>): Promise<string> {
    const last = this.last;
    if (last !== undefined && now >= last.at && now - last.at < this.maxAgeMs) return Promise.resolve(last.text);
    this.pending ??= read().then(
      (text) => {
        const entry = { text, at: now };
        this.last = entry;
        this.pending = undefined;
        // A large fleet's text is tens of MB: not kept between Prometheus' scrapes.
        setTimeout(() => {
          if (this.last === entry) this.last = undefined;
        }, this.maxAgeMs).unref();
        return text;
      },
      (error: unknown) => {
        this.pending = undefined;
        throw error;
      },
    );
    return this.pending;
  }
}

export interface MetricsSetup {
  readonly instruments: ApiInstruments;
  readonly shared: SharedScrape;
  /** `metrics_per_source`: the per-source and per-machine series, off for very large fleets. */
  readonly perSource: boolean;
  /** `metrics_token`; never logged. */
  readonly token?: string | undefined;
  readonly thresholds: OverdueThresholds;
}

export function metricsSetup(options: {
  readonly perSource: boolean;
  readonly token?: string | undefined;
  readonly schedule: ScheduleOptions;
  readonly backoffMaxSeconds: number;
}): MetricsSetup {
  return {
    instruments: new ApiInstruments(),
    shared: new SharedScrape(),
    perSource: options.perSource,
    token: options.token,
    thresholds: new OverdueThresholds(options.schedule, options.backoffMaxSeconds),
  };
}

export function isMetricsPath(url: string | undefined): boolean {
  return url === '/metrics' || url?.split('?', 1)[0] === '/metrics';
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares digests, so neither the token's length nor its bytes show in the time taken. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const offered = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(offered), digest(token)) && offered !== '';
}

export async function metricsText(db: Database, setup: MetricsSetup, now: Date): Promise<string> {
  const fleet = await readFleet(db, setup.thresholds, now);
  const parts = [await setup.instruments.registry.metrics(), await fleetText(fleet, setup.perSource)];
  if (setup.perSource) {
    const { sources, machines } = await readSources(db, setup.thresholds, now);
    parts.push(perSourceText(sources, machines));
  }
  return parts.map((part) => (part.endsWith('\n') || part === '' ? part : `${part}\n`)).join('');
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export async function serveMetrics(
  db: Database,
  setup: MetricsSetup,
  now: Date,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const plain = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { ...plain, Allow: 'GET, HEAD' });
    response.end('Method not allowed\n');
    return;
  }
  if (setup.token !== undefined && !bearerMatches(request.headers.authorization, setup.token)) {
    response.writeHead(401, { ...plain, 'WWW-Authenticate': 'Bearer realm="turku-api metrics"' });
    response.end('Bad auth\n');
    return;
  }
  const body = await setup.shared.text(now.getTime(), () => metricsText(db, setup, now));
  response.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}
