// The turku-storage charm's config and action parameters (zod/mini: loaded by every hook).
// charmcraft.yaml declares the same keys; a test checks that the two agree.
import * as z from 'zod/mini';

import { parseDuration } from '../../../lib/turku/durations.js';

export const SNAPSHOT_MODES = ['link-dest', 'none', 'borg'] as const;

/** No control characters: every value ends up in a one-line config value or relation key. */
function oneLine(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f\u007f]/.test(value);
}

/** Intl knows the IANA zones the workload's calendars (Temporal) accept. */
export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return value !== '';
  } catch {
    return false;
  }
}

/** What useradd accepts for a system account (and what sshd logs in as). */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export const StorageConfig = z.object({
  'storage-name': z._default(
    z.string().check(
      z.maxLength(200, 'must be at most 200 characters'),
      z.refine(oneLine, 'must be one line without control characters'),
      z.refine((value) => value === value.trim(), 'must not start or end with spaces'),
    ),
    '',
  ),
  'snapshot-mode': z._default(
    z.enum(SNAPSHOT_MODES, { error: `expected one of ${SNAPSHOT_MODES.join(', ')}` }),
    'link-dest',
  ),
  'high-water-pct': z._default(z.int().check(z.minimum(0, 'expected 0-100'), z.maximum(100, 'expected 0-100')), 80),
  timezone: z._default(
    z.string().check(z.refine(isTimeZone, 'unknown time zone (expected an IANA name such as Europe/Paris)')),
    'UTC',
  ),
  'ssh-host': z._default(
    z.string().check(
      z.refine(oneLine, 'must be one line without control characters'),
      z.refine((value) => !/\s/.test(value), 'must not contain spaces'),
    ),
    '',
  ),
  'ssh-port': z._default(
    z.int().check(z.minimum(1, 'expected a port 1-65535'), z.maximum(65535, 'expected a port 1-65535')),
    22,
  ),
  'ping-user': z._default(
    z.string().check(z.regex(USER_NAME, 'expected a user name (lowercase letters, digits, _ and -, at most 32)')),
    'turku-ping',
  ),
  'rsync-compress': z._default(z.boolean({ error: 'expected true or false' }), false),
  'original-agent-tunnels': z._default(z.boolean({ error: 'expected true or false' }), true),
  'max-concurrent-backups': z._default(z.int().check(z.minimum(0, 'expected 0 (two per CPU) or more')), 0),
  'max-waiting-backups': z._default(
    z.int().check(z.minimum(-1, 'expected -1 (as many as the backup slots), 0 (none) or more')),
    -1,
  ),
  'verify-bytes-per-day': z._default(
    z.int().check(z.minimum(0, 'expected 0 (off) or a number of bytes')),
    // The workload's own default (lib/storage/settings.ts), not imported: hooks load only zod/mini.
    4 * 1024 ** 3,
  ),
  'min-age': z._default(
    z.string().check(z.refine((text) => parseDuration(text) !== null, 'expected a duration such as 7d or 36h')),
    '7d',
  ),
  'immutable-snapshots': z._default(z.boolean({ error: 'expected true or false' }), true),
});
export type StorageConfig = z.output<typeof StorageConfig>;

/** Optional filters (Juju passes no key for an unset optional param). */
const Filter = z.optional(z.string().check(z.minLength(1, 'must not be empty')));

export const ListSnapshotsParams = z.object({ machine: Filter, source: Filter, sizes: z._default(z.boolean(), false) });

export const VerifySnapshotParams = z.object({
  machine: z.string().check(z.minLength(1, 'must not be empty')),
  source: z.string().check(z.minLength(1, 'must not be empty')),
  snapshot: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'latest'),
});

export const ExpireNowParams = z.object({
  retention: z.string().check(z.minLength(1, 'must not be empty')),
  machine: Filter,
  source: Filter,
  'dry-run': z._default(z.boolean(), false),
});
