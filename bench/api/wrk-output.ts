import { round } from '../harness/stats.js';

/**
 * What a wrk run measured, read from the line bench/api/wrk.lua's done() prints
 * (`TURKU_WRK_SUMMARY {json}`): wrk's own counters and the latency percentiles of its histogram, the
 * same figures as its `--latency` table, in microseconds rather than that table's rounded text.
 */

export const SUMMARY_MARK = 'TURKU_WRK_SUMMARY ';

export interface WrkErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  /** answers with a status ≥ 400: wrk's "Non-2xx or 3xx responses" */
  readonly status: number;
  readonly timeout: number;
}

export interface WrkLatencyMs {
  readonly p50: number;
  readonly p75: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface WrkSummary {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly bytes: number;
  readonly errors: WrkErrors;
  /** failed answers (status ≥ 400) plus socket errors and timeouts: must be 0 */
  readonly failed: number;
  readonly latencyMs: WrkLatencyMs;
}

interface RawSummary {
  readonly requests: number;
  readonly durationUs: number;
  readonly bytes: number;
  readonly errors: WrkErrors;
  readonly latencyUs: Record<keyof WrkLatencyMs | 'min' | 'stdev', number>;
}

const LATENCY_KEYS = ['p50', 'p75', 'p90', 'p99', 'p999', 'max', 'mean'] as const;
const ERROR_KEYS = ['connect', 'read', 'write', 'status', 'timeout'] as const;

function numberAt(record: Record<string, unknown>, key: string, where: string): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error(`wrk summary: ${where}${key} is not a number`);
  return value;
}

/** The summary out of wrk's whole stdout; throws when the line is missing or malformed (wrk failed). */
export function parseWrkOutput(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((text) => text.startsWith(SUMMARY_MARK));
  if (line === undefined) throw new Error(`wrk printed no summary line:\n${stdout.slice(-2000)}`);
  const raw = JSON.parse(line.slice(SUMMARY_MARK.length)) as RawSummary;
  const top = raw as unknown as Record<string, unknown>;
  const requests = numberAt(top, 'requests', '');
  const durationUs = numberAt(top, 'durationUs', '');
  if (durationUs <= 0) throw new Error('wrk summary: durationUs is not positive');
  const errorsIn = (raw.errors ?? {}) as unknown as Record<string, unknown>;
  const latencyIn = (raw.latencyUs ?? {}) as unknown as Record<string, unknown>;
  const errors = Object.fromEntries(ERROR_KEYS.map((key) => [key, numberAt(errorsIn, key, 'errors.')])) as Record<
    keyof WrkErrors,
    number
  >;
  const latencyMs = Object.fromEntries(
    LATENCY_KEYS.map((key) => [key, round(numberAt(latencyIn, key, 'latencyUs.') / 1000, 3)]),
  ) as Record<keyof WrkLatencyMs, number>;
  const seconds = durationUs / 1e6;
  return {
    requests,
    seconds: round(seconds, 3),
    requestsPerSecond: Math.round(requests / seconds),
    bytes: numberAt(top, 'bytes', ''),
    errors,
    failed: errors.status + errors.connect + errors.read + errors.write + errors.timeout,
    latencyMs,
  };
}

/** The first line of `wrk --version` ("wrk debian/4.1.0-3+b2 [epoll] Copyright …" → "wrk debian/4.1.0-3+b2 [epoll]"). */
export function wrkVersion(text: string): string {
  const first = text.split('\n', 1)[0]?.trim() ?? '';
  return first.replace(/\s+Copyright.*$/, '') || 'unknown';
}
