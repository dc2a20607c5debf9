import {
  parseRetention,
  RetentionError,
  snapshotsToDelete,
  type RetentionPolicy,
  type Snapshot,
} from '../../turku/retention.js';
import { keepYoung } from './min-age.js';
import { type SnapshotLog, type SnapshotSettings } from './types.js';

/**
 * Which snapshots a successful run expires (docs/datapath.md, "Retention on the storage"), for
 * link-dest directories and borg archives alike. A policy with any clause this storage cannot read
 * is not applied at all, so a typo in the clause meant to keep the yearlies does not lose them.
 */

export type PolicyReading =
  | { readonly policy: RetentionPolicy }
  /** Nothing to apply; `notice` is the summary line saying why, or '' when there is no policy. */
  | { readonly policy: null; readonly notice: string };

/** Lenient, as an original API does not validate: case-insensitive, trailing words tolerated. */
export function readPolicy(retention: string | null, log: SnapshotLog): PolicyReading {
  if (retention === null) return { policy: null, notice: '' };
  try {
    const policy = parseRetention(retention, { lenient: true });
    return policy.length === 0 ? { policy: null, notice: '' } : { policy };
  } catch (error) {
    if (!(error instanceof RetentionError)) throw error;
    log.warning(`Retention "${retention}" not applied: ${error.detail}`);
    return { policy: null, notice: `Retention not applied: unrecognised clause "${error.clause}"\n` };
  }
}

/**
 * All candidates count, the new snapshot included; the newest is always kept, and so is any
 * snapshot younger than the storage's `min_age` (min-age.ts, logged once per call).
 */
export function victimsOf<S extends Snapshot>(
  candidates: readonly S[],
  policy: RetentionPolicy,
  now: Date,
  settings: Pick<SnapshotSettings, 'timezone' | 'weekStart' | 'minAgeSeconds'>,
  log: SnapshotLog,
): S[] {
  const victims = snapshotsToDelete(candidates, policy, now, {
    timeZone: settings.timezone,
    weekStart: settings.weekStart,
  });
  return keepYoung(victims, settings.minAgeSeconds, now, log);
}

export function removedLine(name: string): string {
  return `Removed old snapshot: ${name}\n`;
}
