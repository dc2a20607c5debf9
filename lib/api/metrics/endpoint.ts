import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ScheduleOptions } from '../../turku/schedule.js';
import type { Database } from '../db/database.js';
import { fleetText, PerSourceText } from './exposition.js';
import { OverdueThresholds, readFleet, readSources } from './fleet-readings.js';
import { ApiInstruments } from './instruments.js';

/**
 * `GET /metrics` (docs/api.md, "Metrics"): the counters of this process and the fleet's state,
 * read when Prometheus asks. Behind a bearer token when `metrics_token` is set.
 */

/** How long a finished reading answers further scrapes (docs/api.md, "Metrics"). */
export const SHARED_SCRAPE_MS = 2_000;

/** The answer's text, as Buffers of about a megabyte (a large fleet's is over 100 MB). */
export type MetricsBody = readonly Buffer[];

/**
 * One reading at a time, and reused for a moment: scrapes that arrive while one is being read, or
 * within SHARED_SCRAPE_MS after it, get that reading's answer. A scrape of a large fleet with
 * per-source series takes a second or more and over 100 MB, and /metrics may be open to anyone:
 * a burst of requests must not multiply either. Two Prometheus replicas scraping together get
 * the same answer.
 */
export class SharedScrape<T = MetricsBody> {
  private pending: Promise<T> | undefined;
  private last: { readonly body: T; readonly at: number } | undefined;

  constructor(private readonly maxAgeMs = SHARED_SCRAPE_MS) {}

  /** `now`: the API's clock (ms), which a reading is dated by. */
  body(now: number, read: () => Promise<T>): Promise<T> {
    const last = this.last;
    if (last !== undefined && now >= last.at && now - last.at < this.maxAgeMs) return Promise.resolve(last.body);
    this.pending ??= read().then(
      (body) => {
        const entry = { body, at: now };
        this.last = entry;
        this.pending = undefined;
        // A large fleet's answer is over 100 MB: not kept between Prometheus' scrapes.
        setTimeout(() => {
          if (this.last === entry) this.last = undefined;
        }, this.maxAgeMs).unref();
        return body;
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

export async function metricsBody(db: Database, setup: MetricsSetup, now: Date): Promise<MetricsBody> {
  const fleet = await readFleet(db, setup.thresholds, now);
  const parts = [await setup.instruments.registry.metrics(), await fleetText(fleet, setup.perSource)];
  const head = parts.map((part) => (part.endsWith('\n') || part === '' ? part : `${part}\n`)).join('');
  if (!setup.perSource) return [Buffer.from(head)];
  const series = new PerSourceText();
  await readSources(db, setup.thresholds, now, series);
  return [Buffer.from(head), ...series.take()];
}

/** Waits until `response` can take more, or is gone. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
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
  const body = await setup.shared.body(now.getTime(), () => metricsBody(db, setup, now));
  const length = body.reduce((sum, chunk) => sum + chunk.length, 0);
  response.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': length });
  if (request.method !== 'HEAD') {
    // Chunk by chunk as the client takes them: no copy of the whole answer in the socket's buffer.
    for (const chunk of body) {
      if (response.destroyed) return;
      if (!response.write(chunk)) await drained(response);
    }
  }
  response.end();
}
