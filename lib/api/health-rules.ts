/**
 * Fleet health (docs/api.md, "Health rules"): what "healthy" means for a storage, a machine and a
 * source, as the Nagios check and the admin listings report it. Pure: the caller passes `now`.
 * Records use the data model's field names.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** How long after the due time a source may still be running (long backups block pings). */
export const SOURCE_GRACE_MS = 10 * HOUR;

function within(date: Date | null, now: Date, limitMs: number): boolean {
  return date !== null && now.getTime() - date.getTime() < limitMs;
}

export function isStorageHealthy(
  storage: { readonly date_registered: Date; readonly date_checked_in: Date | null },
  now: Date,
): boolean {
  return within(storage.date_registered, now, 30 * MINUTE) || within(storage.date_checked_in, now, 30 * MINUTE);
}

export function isMachineHealthy(
  machine: { readonly date_registered: Date; readonly date_checked_in: Date | null },
  now: Date,
): boolean {
  return within(machine.date_registered, now, HOUR) || within(machine.date_checked_in, now, 10 * HOUR);
}

export function isSourceHealthy(
  source: { readonly date_added: Date; readonly success: boolean; readonly date_next_backup: Date },
  now: Date,
): boolean {
  if (within(source.date_added, now, 4 * HOUR)) return true;
  return source.success && now.getTime() <= source.date_next_backup.getTime() + SOURCE_GRACE_MS;
}

/**
 * [NEW] A source's latest verify (docs/api.md, "Health rules"): failed when it found any problem,
 * and it stays failed until a later verify of the source passes.
 */
export function isVerifyHealthy(verify: { readonly problem_count: number }): boolean {
  return verify.problem_count === 0;
}
