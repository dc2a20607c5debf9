import { execFileSync } from 'node:child_process';

import { systemEnv } from './system-env.js';

/**
 * PostgreSQL round trips per check-in, counted from the outside (the API is another process, so the
 * benchmark cannot wrap its pool): the data segments the PostgreSQL server's TCP sockets sent, from
 * the kernel (`ss -ti`, data_segs_out), over a measured row. A backend flushes its output once per
 * round trip (at ReadyForQuery, after a Sync or a simple query, however many statements the request
 * held), and on loopback one flush of less than 64 KiB is one segment; so the count is the number
 * of answers the server sent, one per round trip, whether the API sends one statement, a pipelined
 * batch or BEGIN … COMMIT as four. Sockets opened and closed inside the row are missed (the API's
 * pool stays open after the warm-up).
 */

/** Sum of data_segs_out over the sockets in `ss -tinH` output (the filter already chose them). */
export function sumDataSegmentsOut(ssOutput: string): number {
  let sum = 0;
  for (const match of ssOutput.matchAll(/\bdata_segs_out:(\d+)/g)) sum += Number(match[1]);
  return sum;
}

/** Data segments sent so far by the established TCP sockets whose local port is `port`. */
export function serverSegmentsOut(port: number): number {
  const output = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], {
    env: systemEnv(),
    encoding: 'utf8',
  });
  return sumDataSegmentsOut(output);
}

export interface DatabaseTrips {
  /** PostgreSQL answers (round trips) per check-in: server data segments ÷ requests */
  readonly roundTripsPerRequest: number;
  /** committed and rolled-back transactions per check-in (pg_stat_database, flushed by backends about once a second) */
  readonly transactionsPerRequest: number;
  readonly serverSegments: number;
  readonly transactions: number;
  readonly note: string;
}

export const ROUND_TRIP_NOTE =
  'roundTripsPerRequest: data segments the PostgreSQL server sent on its TCP sockets during the row (ss -ti, ' +
  'data_segs_out), one per answer it flushed, that is one per round trip, divided by the requests wrk counted. ' +
  'transactionsPerRequest: xact_commit + xact_rollback of pg_stat_database over the row, same divisor; backends ' +
  'report these about once a second, so it is approximate.';
