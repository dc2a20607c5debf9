import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type QuietOptions, waitForQuiet } from '../harness/machine.js';
import { round } from '../harness/stats.js';
import type { BenchDatabase } from './database.js';
import { checkinBody, registrationBody, type RegistrationAuth } from './fleet.js';
import { type DatabaseTrips, ROUND_TRIP_NOTE, serverSegmentsOut } from './round-trips.js';
import type { ApiSettings } from './settings.js';
import { runWrk, type Watched, type WrkJob, type WrkRow } from './wrk.js';

/**
 * The measured rows of the turku-api benchmark: each a wrk run (after a warm-up run of the same
 * kind, and a wait for a quiet machine), its figures set against the bare server's in the same run.
 */

/** A row during which the rest of the machine used more than this (percent of one core) is flagged. */
export const DISTURBED_PERCENT = 25;

export interface MeasuredRow extends WrkRow {
  /** the rest of the machine used more than DISTURBED_PERCENT of a core during the row */
  readonly disturbed: boolean;
  /** PostgreSQL round trips and transactions per request (the rows on PostgreSQL) */
  readonly database?: DatabaseTrips;
}

export interface Row extends MeasuredRow {
  /** requests/s ÷ the bare server's requests/s (the reference of this backend's rows) */
  readonly ratio: number;
}

/** The bodies wrk POSTs, one a line: a check-in, or the unchanged registration, of each machine of the fleet. */
export interface BodyFiles {
  readonly checkins: string;
  readonly updateConfig: string;
}

export async function writeBodyFiles(
  dir: string,
  settings: ApiSettings,
  machineAuth: RegistrationAuth,
): Promise<BodyFiles> {
  const files = { checkins: join(dir, 'checkin-bodies.txt'), updateConfig: join(dir, 'update-config-bodies.txt') };
  const lines = (body: (index: number) => string) =>
    Array.from({ length: settings.machines }, (_, index) => `${body(index)}\n`).join('');
  await writeFile(
    files.checkins,
    lines((index) => checkinBody(settings.seed, index)),
  );
  await writeFile(
    files.updateConfig,
    lines((index) => registrationBody(settings.seed, index, machineAuth)),
  );
  return files;
}

/** What a row asks: where, how (GET, or POSTs of a body file), with how many connections. */
export interface RowRequest {
  readonly url: string;
  readonly bodiesFile?: string;
  readonly connections: number;
  readonly seed: number;
}

/** Counts PostgreSQL's answers (round trips) and transactions around a measured run. */
export interface TripCounter {
  readonly db: BenchDatabase;
  readonly port: number;
}

async function countTrips<T extends WrkRow>(
  counter: TripCounter | undefined,
  measure: () => Promise<T>,
): Promise<{ row: T; database?: DatabaseTrips }> {
  if (counter === undefined) return { row: await measure() };
  // Our own statistics query answers outside the segment window on both sides.
  const transactionsBefore = await counter.db.transactions();
  const segmentsBefore = serverSegmentsOut(counter.port);
  const row = await measure();
  const segmentsAfter = serverSegmentsOut(counter.port);
  const transactionsAfter = await counter.db.transactions();
  const serverSegments = segmentsAfter - segmentsBefore;
  const transactions = (transactionsAfter ?? 0) - (transactionsBefore ?? 0);
  const per = (count: number) => (row.requests === 0 ? Number.NaN : round(count / row.requests, 3));
  return {
    row,
    database: {
      roundTripsPerRequest: per(serverSegments),
      transactionsPerRequest: per(transactions),
      serverSegments,
      transactions,
      note: ROUND_TRIP_NOTE,
    },
  };
}

export async function measureRow(
  settings: ApiSettings,
  request: RowRequest,
  watched: Watched,
  counter?: TripCounter,
): Promise<MeasuredRow> {
  const quiet: QuietOptions = { percent: 25, waitSeconds: settings.quietSeconds, firstSampleSeconds: 1, indent: '  ' };
  const job: WrkJob = {
    url: request.url,
    ...(request.bodiesFile === undefined ? {} : { bodiesFile: request.bodiesFile }),
    connections: request.connections,
    threads: settings.wrkThreads,
    seconds: settings.levelSeconds,
    seed: request.seed,
  };
  await waitForQuiet(quiet);
  if (settings.warmupSeconds > 0)
    await runWrk({ ...job, seconds: settings.warmupSeconds, seed: job.seed + 1 }, watched);
  const { row, database } = await countTrips(counter, () => runWrk(job, watched));
  return {
    ...row,
    disturbed: row.cpu.otherPercent > DISTURBED_PERCENT,
    ...(database === undefined ? {} : { database }),
  };
}

export function withRatio(row: MeasuredRow, referencePerSecond: number): Row {
  return { ...row, ratio: round(row.requestsPerSecond / referencePerSecond, 3) };
}

/** One line of a row, as the run prints it while it goes. */
export function rowLine(name: string, row: MeasuredRow): string {
  const db = row.database === undefined ? '' : `, ${row.database.roundTripsPerRequest} PostgreSQL round trips each`;
  return (
    `  ${name.padEnd(28)} c=${String(row.connections).padStart(3)}: ${String(row.requestsPerSecond).padStart(6)}/s ` +
    `p50 ${row.latencyMs.p50} ms, p99 ${row.latencyMs.p99} ms, failed ${row.failed}, CPU server ${row.cpu.serverPercent}% ` +
    `wrk ${row.cpu.loadGeneratorPercent}% db ${row.cpu.databasePercent}% other ${row.cpu.otherPercent}%${db}` +
    (row.disturbed ? ' (disturbed)' : '')
  );
}
