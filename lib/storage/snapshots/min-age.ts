import { type Snapshot } from '../../turku/retention.js';
import { formatDuration } from '../../turku/durations.js';
import { type SnapshotLog } from './types.js';

/**
 * The storage's floor under retention (docs/datapath.md, "Retention on the storage"): a snapshot
 * younger than `min_age` is never deleted, whoever asks (a backup's policy from the API,
 * `turku-storage-admin expire`, the charm's `expire-now`). The API only ever sends a policy, so a
 * compromised API can shorten the policy but cannot wipe the recent history this keeps.
 */

export interface MinAgeSplit<S> {
  readonly expirable: S[];
  /** Victims the policy chose that are too young; oldest first, as given. */
  readonly kept: S[];
}

export function splitByMinAge<S extends Snapshot>(
  victims: readonly S[],
  minAgeSeconds: number,
  now: Date,
): MinAgeSplit<S> {
  const newestExpirable = now.getTime() - minAgeSeconds * 1000;
  const expirable: S[] = [];
  const kept: S[] = [];
  // A finish time in the future (a clock set back) is young too.
  for (const victim of victims) (victim.finishedAt.getTime() <= newestExpirable ? expirable : kept).push(victim);
  return { expirable, kept };
}

/** The victims old enough to delete; one warning naming the others, if any. */
export function keepYoung<S extends Snapshot>(
  victims: readonly S[],
  minAgeSeconds: number | undefined,
  now: Date,
  log: SnapshotLog,
): S[] {
  if (minAgeSeconds === undefined || minAgeSeconds <= 0) return [...victims];
  const { expirable, kept } = splitByMinAge(victims, minAgeSeconds, now);
  if (kept.length > 0) {
    const names = kept.map((victim) => victim.name).join(', ');
    log.warning(
      `Retention asked to delete ${kept.length} snapshot${kept.length === 1 ? '' : 's'} younger than ` +
        `min_age (${formatDuration(minAgeSeconds)}), kept: ${names}`,
    );
  }
  return expirable;
}
