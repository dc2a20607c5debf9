import { toMillis, type Database, type Queryable } from '../db/database.js';
import type { ScheduleOptions } from '../../turku/schedule.js';
import { frequencyPeriodSeconds } from './frequency-period.js';

/**
 * The fleet's state read at scrape time (docs/api.md, "Metrics"), in a few aggregate statements
 * that each scan a table once, so a scrape of 300,000 sources stays in tens of milliseconds.
 * Counted: active and published sources of active and published machines.
 */

export interface SourceStates {
  readonly ok: number;
  /** No success within two of its periods (counted here, whether failing or not). */
  readonly overdue: number;
  /** Last attempt failed, not yet overdue. */
  readonly failing: number;
  /** Failed three or more times in a row. */
  readonly failingRepeatedly: number;
}

export interface StorageReading {
  readonly name: string;
  readonly totalBytes: number;
  readonly freeBytes: number;
  /** Active and published machines assigned to it. */
  readonly machines: number;
  /** Epoch seconds, or null if it never checked in. */
  readonly lastCheckin: number | null;
}

export interface FleetReading {
  readonly sources: SourceStates;
  readonly storages: readonly StorageReading[];
  readonly machines: number;
  /** Epoch seconds of the least recent check-in (registration if none) of a counted machine. */
  readonly oldestMachineCheckin: number | null;
  /** Sources whose latest verify, by their current storage, found problems. */
  readonly verifyFailed: number;
}

export interface SourceReading {
  readonly machine: MachineReading;
  readonly source: string;
  readonly lastSuccess: number | null;
  readonly lastAttempt: number | null;
  readonly consecutiveFailures: number;
  readonly overdue: boolean;
}

export interface MachineReading {
  readonly machineUuid: string;
  readonly machine: string;
  readonly lastCheckin: number | null;
}

/** Where readSources hands each reading: every machine first, then every source. */
export interface ReadingSink {
  machine(machine: MachineReading): void;
  source(source: SourceReading): void;
}

/** Overdue thresholds per frequency: a frequency's period depends only on its text and the schedule settings. */
export class OverdueThresholds {
  private readonly periods = new Map<string, number>();

  constructor(
    private readonly schedule: ScheduleOptions,
    /** Seconds: the period of a frequency that does not parse (the scheduler retries it after backoff_max). */
    private readonly fallbackSeconds: number,
  ) {}

  private periodOf(frequency: string): number {
    let period = this.periods.get(frequency);
    if (period === undefined) {
      period = frequencyPeriodSeconds(frequency, this.schedule) ?? this.fallbackSeconds;
      this.periods.set(frequency, period);
    }
    return period;
  }

  /** Epoch ms before which a source of this frequency with no later success is overdue. */
  thresholdMs(frequency: string, nowMs: number): number {
    return nowMs - 2 * 1000 * this.periodOf(frequency);
  }

  isOverdue(source: { frequency: string; lastSuccessMs: number | null; addedMs: number }, nowMs: number): boolean {
    return (source.lastSuccessMs ?? source.addedMs) < this.thresholdMs(source.frequency, nowMs);
  }
}

/** The few machines not counted, from their partial index (migration 5), instead of a scan of all. */
const NOT_SERVED = 'SELECT id FROM machines WHERE NOT (active AND published)';
const COUNTED = `s.active AND s.published AND s.machine_id NOT IN (${NOT_SERVED})`;

/**
 * Counted sources: all (SQLite counts a table from its pages, not its rows), less the sources not
 * active or published and those of machines not served, both read from partial indexes.
 */
const COUNTED_TOTAL = `SELECT (SELECT COUNT(*) FROM sources)
    - (SELECT COUNT(*) FROM sources WHERE NOT (active AND published))
    - (SELECT COUNT(*) FROM sources s WHERE s.active AND s.published AND s.machine_id IN (${NOT_SERVED})) AS n`;

/** The distinct frequencies, one index seek each (a skip scan of sources_last_success). */
const FREQUENCIES = `WITH RECURSIVE f(v) AS (
    SELECT MIN(frequency) FROM sources
    UNION ALL SELECT (SELECT MIN(frequency) FROM sources WHERE frequency > f.v) FROM f WHERE f.v IS NOT NULL)
  SELECT v FROM f WHERE v IS NOT NULL`;

/** Overdue sources of one frequency: two ranges of sources_last_success (never succeeded: since added). */
const OVERDUE = `SELECT
    (SELECT COUNT(*) FROM sources s WHERE s.frequency = $1 AND s.date_last_backed_up < $2 AND ${COUNTED})
    + (SELECT COUNT(*) FROM sources s
        WHERE s.frequency = $1 AND s.date_last_backed_up IS NULL AND s.date_added < $2 AND ${COUNTED}) AS n`;

/** Sources whose last attempt failed, from the partial index sources_failing. */
const FAILING = `SELECT s.frequency AS frequency, s.failure_count AS failures,
    s.date_last_backed_up AS last_success, s.date_added AS added
  FROM sources s WHERE s.failure_count > 0 AND ${COUNTED}`;

/**
 * The sources' states in statements that read the overdue, failing and uncounted sources only,
 * so a scrape of a healthy fleet of 300,000 sources does not read 300,000 rows (but for the
 * total, which `total` reads beside it).
 */
async function sourceStates(
  tx: Queryable,
  thresholds: OverdueThresholds,
  nowMs: number,
): Promise<Omit<SourceStates, 'ok'> & { notOk: number }> {
  let overdue = 0;
  for (const row of await tx.all(FREQUENCIES)) {
    const frequency = String(row.v);
    overdue += Number((await tx.get(OVERDUE, [frequency, thresholds.thresholdMs(frequency, nowMs)]))?.n ?? 0);
  }
  let failing = 0;
  let failingRepeatedly = 0;
  for (const row of await tx.all(FAILING)) {
    const failures = Number(row.failures);
    if (failures >= 3) failingRepeatedly++;
    const source = {
      frequency: String(row.frequency),
      lastSuccessMs: toMillis(row.last_success),
      addedMs: Number(row.added),
    };
    if (!thresholds.isOverdue(source, nowMs)) failing++;
  }
  return { notOk: overdue + failing, overdue, failing, failingRepeatedly };
}

const STORAGES = `SELECT st.name AS name, st.space_total AS total, st.space_available AS free,
    st.date_checked_in AS checked_in,
    (SELECT COUNT(*) FROM machines m WHERE m.storage_id = st.id)
      - (SELECT COUNT(*) FROM machines m WHERE m.storage_id = st.id AND NOT (m.active AND m.published)) AS machines
  FROM storages st WHERE st.active ORDER BY st.name`;

const MACHINES = `SELECT COUNT(*) AS machines, MIN(COALESCE(date_checked_in, date_registered)) AS oldest
  FROM machines WHERE active AND published`;

/** As the health view counts them (lib/api/verify-reports.ts): only the verdicts of the machine's current storage. */
const VERIFY_FAILED = `SELECT COUNT(*) AS n
  FROM source_verifies v JOIN sources s ON s.id = v.source_id JOIN machines m ON m.id = s.machine_id
  WHERE v.problem_count > 0 AND s.active AND m.active AND v.storage_id = m.storage_id`;

/** Storages report their space in MiB (docs/api.md, "storage_update_config"); the series are in bytes. */
const mebibytes = (value: unknown): number => Math.round(Number(value) * 2 ** 20);

const seconds = (millis: unknown): number | null =>
  millis === null || millis === undefined ? null : Math.floor(Number(millis) / 1000);

export async function readFleet(db: Database, thresholds: OverdueThresholds, now: Date): Promise<FleetReading> {
  // Five independent reads. On PostgreSQL each takes a pooled connection and they run at once:
  // the sources' total and the machines' scan are most of a reading there, which counts rows by
  // reading them. SQLite runs them one after another, as ever. Each is consistent in itself; the
  // set is as consistent as a scrape needs (a source added meanwhile moves a count by one).
  const [total, states, storages, machines, verify] = await Promise.all([
    db.transaction((tx) => tx.get(COUNTED_TOTAL)),
    db.transaction((tx) => sourceStates(tx, thresholds, now.getTime())),
    db.transaction((tx) => tx.all(STORAGES)),
    db.transaction((tx) => tx.get(MACHINES)),
    db.transaction((tx) => tx.get(VERIFY_FAILED)),
  ]);
  const { notOk, ...counted } = states;
  return {
    sources: { ok: Math.max(0, Number(total?.n ?? 0) - notOk), ...counted },
    storages: storages.map((row) => ({
      name: String(row.name),
      totalBytes: mebibytes(row.total),
      freeBytes: mebibytes(row.free),
      machines: Number(row.machines),
      lastCheckin: seconds(row.checked_in),
    })),
    machines: Number(machines?.machines ?? 0),
    oldestMachineCheckin: seconds(machines?.oldest),
    verifyFailed: Number(verify?.n ?? 0),
  };
}

/** Every active, published source, from the covering index sources_last_success (no table reads). */
const SOURCES = `SELECT s.machine_id AS machine_id, s.name AS name, s.frequency AS frequency,
    s.date_last_backed_up AS last_success, s.date_added AS added, s.failure_count AS failures,
    s.date_last_attempt AS last_attempt
  FROM sources s WHERE s.active AND s.published`;

const MACHINE_CHECKINS = `SELECT id, uuid, unit_name AS unit, COALESCE(date_checked_in, date_registered) AS checked_in
  FROM machines WHERE active AND published`;

/**
 * Every counted machine and source, for the per-source series: one row each, so only when they are
 * wanted. Read from one snapshot in batches (Database.readSnapshot): at 300,000 sources the rows
 * never all sit in memory, and the API serves other requests between batches.
 */
export async function readSources(
  db: Database,
  thresholds: OverdueThresholds,
  now: Date,
  sink: ReadingSink,
): Promise<void> {
  const nowMs = now.getTime();
  await db.readSnapshot(async (reader) => {
    // The machines first, looked up by id below: 300,000 joins cost more than one scan and a map.
    const served = new Map<string, MachineReading>();
    for await (const rows of reader.batches(MACHINE_CHECKINS)) {
      for (const row of rows) {
        const machine = {
          machineUuid: String(row.uuid),
          machine: String(row.unit),
          lastCheckin: seconds(row.checked_in),
        };
        served.set(String(row.id), machine);
        sink.machine(machine);
      }
    }
    for await (const rows of reader.batches(SOURCES)) {
      for (const row of rows) {
        const machine = served.get(String(row.machine_id));
        if (machine === undefined) continue; // a machine not served
        const lastSuccess = toMillis(row.last_success);
        const source = { frequency: String(row.frequency), lastSuccessMs: lastSuccess, addedMs: Number(row.added) };
        sink.source({
          machine,
          source: String(row.name),
          lastSuccess: seconds(lastSuccess),
          lastAttempt: seconds(row.last_attempt),
          consecutiveFailures: Number(row.failures),
          overdue: thresholds.isOverdue(source, nowMs),
        });
      }
    }
  });
}
