import type { Database, Queryable, SqlValue } from '../db/database.js';
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
  readonly machineUuid: string;
  readonly machine: string;
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

const COUNTED_SOURCES = `s.active AND s.published
  AND s.machine_id IN (SELECT id FROM machines WHERE active AND published)`;

/** Overdue thresholds per frequency: a frequency's period depends only on its text and the schedule settings. */
export class OverdueThresholds {
  private readonly periods = new Map<string, number>();

  constructor(
    private readonly schedule: ScheduleOptions,
    /** Seconds: the period of a frequency that does not parse (the scheduler retries it after backoff_max). */
    private readonly fallbackSeconds: number,
  ) {}

  knows(frequency: string): boolean {
    return this.periods.has(frequency);
  }

  learn(frequency: string): void {
    if (this.periods.has(frequency)) return;
    this.periods.set(frequency, frequencyPeriodSeconds(frequency, this.schedule) ?? this.fallbackSeconds);
  }

  /** Epoch ms before which a source of this frequency with no later success is overdue. */
  thresholdMs(frequency: string, nowMs: number): number {
    return nowMs - 2 * 1000 * (this.periods.get(frequency) ?? this.fallbackSeconds);
  }

  /**
   * A SQL expression for the threshold of `s.frequency`, and its parameters from `first` on:
   * frequencies not learned yet get -1 (never overdue) and the caller learns them and asks again.
   */
  sqlCase(nowMs: number, first: number): { sql: string; params: SqlValue[] } {
    const params: SqlValue[] = [];
    const arms: string[] = [];
    for (const frequency of this.periods.keys()) {
      arms.push(`WHEN $${first + params.length} THEN CAST($${first + params.length + 1} AS BIGINT)`);
      params.push(frequency, this.thresholdMs(frequency, nowMs));
    }
    return { sql: arms.length === 0 ? 'CAST(-1 AS BIGINT)' : `CASE s.frequency ${arms.join(' ')} ELSE -1 END`, params };
  }
}

interface StateRow {
  readonly frequency: unknown;
  readonly total: unknown;
  readonly overdue: unknown;
  readonly failing: unknown;
  readonly failing_repeatedly: unknown;
  [key: string]: unknown;
}

async function sourceStates(tx: Queryable, thresholds: OverdueThresholds, nowMs: number): Promise<SourceStates> {
  for (;;) {
    const threshold = thresholds.sqlCase(nowMs, 1);
    const overdue = `COALESCE(s.date_last_backed_up, s.date_added) < ${threshold.sql}`;
    const rows = await tx.all<StateRow>(
      `SELECT s.frequency AS frequency, COUNT(*) AS total,
         SUM(CASE WHEN ${overdue} THEN 1 ELSE 0 END) AS overdue,
         SUM(CASE WHEN s.failure_count > 0 AND NOT (${overdue}) THEN 1 ELSE 0 END) AS failing,
         SUM(CASE WHEN s.failure_count >= 3 THEN 1 ELSE 0 END) AS failing_repeatedly
       FROM sources s WHERE ${COUNTED_SOURCES} GROUP BY s.frequency`,
      threshold.params,
    );
    const unknown = rows.map((row) => String(row.frequency)).filter((frequency) => !thresholds.knows(frequency));
    if (unknown.length > 0) {
      for (const frequency of unknown) thresholds.learn(frequency);
      continue;
    }
    let total = 0;
    let overdueCount = 0;
    let failing = 0;
    let failingRepeatedly = 0;
    for (const row of rows) {
      total += Number(row.total);
      overdueCount += Number(row.overdue ?? 0);
      failing += Number(row.failing ?? 0);
      failingRepeatedly += Number(row.failing_repeatedly ?? 0);
    }
    return { ok: total - overdueCount - failing, overdue: overdueCount, failing, failingRepeatedly };
  }
}

const STORAGES = `SELECT st.name AS name, st.space_total AS total, st.space_available AS free,
    st.date_checked_in AS checked_in,
    (SELECT COUNT(*) FROM machines m WHERE m.storage_id = st.id AND m.active) AS machines
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
  return db.transaction(async (tx) => {
    const sources = await sourceStates(tx, thresholds, now.getTime());
    const storages = (await tx.all(STORAGES)).map((row) => ({
      name: String(row.name),
      totalBytes: mebibytes(row.total),
      freeBytes: mebibytes(row.free),
      machines: Number(row.machines),
      lastCheckin: seconds(row.checked_in),
    }));
    const machines = await tx.get(MACHINES);
    const verify = await tx.get(VERIFY_FAILED);
    return {
      sources,
      storages,
      machines: Number(machines?.machines ?? 0),
      oldestMachineCheckin: seconds(machines?.oldest),
      verifyFailed: Number(verify?.n ?? 0),
    };
  });
}

const SOURCES = `SELECT m.uuid AS uuid, m.unit_name AS unit, s.name AS name, s.frequency AS frequency,
    s.date_last_backed_up AS last_success, s.date_added AS added, s.failure_count AS failures,
    (SELECT MAX(b.date) FROM backup_logs b WHERE b.source_id = s.id) AS last_attempt
  FROM sources s JOIN machines m ON m.id = s.machine_id
  WHERE s.active AND s.published AND m.active AND m.published`;

const MACHINE_CHECKINS = `SELECT uuid, unit_name AS unit, COALESCE(date_checked_in, date_registered) AS checked_in
  FROM machines WHERE active AND published`;

/** Every counted source, for the per-source series: one row each, so only when they are wanted. */
export async function readSources(
  db: Database,
  thresholds: OverdueThresholds,
  now: Date,
): Promise<{ sources: SourceReading[]; machines: MachineReading[] }> {
  return db.transaction(async (tx) => {
    const nowMs = now.getTime();
    const rows = await tx.all(SOURCES);
    const sources = rows.map((row): SourceReading => {
      const frequency = String(row.frequency);
      thresholds.learn(frequency);
      const lastSuccess = row.last_success ?? null;
      const since = Number(lastSuccess ?? row.added);
      return {
        machineUuid: String(row.uuid),
        machine: String(row.unit),
        source: String(row.name),
        lastSuccess: seconds(lastSuccess),
        lastAttempt: seconds(row.last_attempt),
        consecutiveFailures: Number(row.failures),
        overdue: since < thresholds.thresholdMs(frequency, nowMs),
      };
    });
    const machines = (await tx.all(MACHINE_CHECKINS)).map((row) => ({
      machineUuid: String(row.uuid),
      machine: String(row.unit),
      lastCheckin: seconds(row.checked_in),
    }));
    return { sources, machines };
  });
}
