import { hostname } from 'node:os';

import * as z from 'zod';

import { DEFAULT_STORAGE_VAR_DIR } from '../common/config-files.js';
import { UserError } from '../common/errors.js';
import { defaultLockDir } from '../common/lock.js';
import { defaultLogFile } from '../common/workload-log.js';
import { isConfigObject, type ConfigObject } from '../turku/config.js';
import { Flag, Port } from '../turku/protocol/fields.js';
import { SNAPSHOT_MODES } from '../turku/protocol/descriptor.js';
import { parseDuration } from '../turku/durations.js';
import { WEEK_STARTS } from '../turku/time.js';
import { DEFAULT_REQUEST_TIMEOUT_SECONDS } from './stdin-frame.js';
import { TUNNEL_OWNER_PROGRAM } from './tunnel-owner-sudoers.js';

/**
 * The storage unit's configuration (docs/datapath.md, "Configuration keys"): the merged `config.d`
 * layers, with the original's defaults. Unknown keys are kept out of the way, not refused, so an
 * original storage's configuration is read as-is.
 */

/** 4 GiB a day: about 170 MiB an hour, a few seconds of reading on any disk. */
export const DEFAULT_VERIFY_BYTES_PER_DAY = 4 * 1024 ** 3;

const Command = z.union([
  z
    .string()
    .min(1)
    .transform((text) => [text]),
  z.array(z.string()).min(1),
]);

/** Seconds, written as a number of seconds or a span such as `7d` (lib/turku/durations.ts). */
const Duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const seconds = parseDuration(value);
  if (seconds !== null) return seconds;
  ctx.issues.push({ code: 'custom', message: `not a duration such as "7d" or "36h": ${String(value)}`, input: value });
  return z.NEVER;
});

const Volume = z.object({
  path: z.string().min(1),
  accept_new: Flag.default(true),
  accept_new_high_water_pct: z.number().min(0).max(100).optional(),
});

export const StorageSettings = z.object({
  name: z.string().min(1),
  secret: z.string().min(1),
  api_url: z.string().min(1),
  api_auth_name: z.string().optional(),
  api_auth_secret: z.string().optional(),
  api_auth: z.string().optional(),
  api_timeout: z.number().positive().default(30),
  volumes: z.record(z.string(), z.unknown()).transform((entries, ctx) => {
    // Entries without a path are dropped, as in the original; a malformed one is an error.
    const volumes: Record<string, z.output<typeof Volume>> = {};
    for (const [name, value] of Object.entries(entries)) {
      if (!isConfigObject(value) || value.path === undefined || value.path === null || value.path === '') continue;
      const parsed = Volume.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        ctx.issues.push({
          code: 'custom',
          message: `volume "${name}": ${issue?.path.join('.')}: ${issue?.message}`,
          input: value,
        });
        return z.NEVER;
      }
      volumes[name] = parsed.data;
    }
    if (Object.keys(volumes).length === 0) {
      ctx.issues.push({ code: 'custom', message: 'no volume with a "path"', input: entries });
      return z.NEVER;
    }
    return volumes;
  }),
  accept_new_high_water_pct: z.number().min(0).max(100).default(80),
  published: Flag.optional(),
  comment: z.string().max(200).optional(),
  snapshot_mode: z.enum(SNAPSHOT_MODES).default('link-dest'),
  preserve_hard_links: Flag.default(false),
  ssh_ping_host: z.string().min(1).default(hostname()),
  ssh_ping_port: Port.default(22),
  ssh_ping_user: z.string().min(1).default('root'),
  ssh_ping_host_keys: z.array(z.string()).optional(),
  ssh_ping_host_keys_glob: z.string().default('/etc/ssh/ssh_host_*_key.pub'),
  authorized_keys_file: z.string().optional(),
  authorized_keys_user: z.string().optional(),
  authorized_keys_command: z.string().min(1).default('turku-storage-ping'),
  authorized_keys_options: z.string().default('restrict,port-forwarding,permitlisten="localhost:*"'),
  /**
   * [NEW] Whether machines without a tunnel port allowance (original agents) get a line with
   * `authorized_keys_options`; false for a fleet of our agents only (docs/datapath.md).
   */
  original_agent_tunnels: Flag.default(true),
  var_dir: z.string().min(1).default(DEFAULT_STORAGE_VAR_DIR),
  lock_dir: z.string().min(1).default(defaultLockDir()),
  log_file: z.string().default(defaultLogFile()),
  timezone: z.string().default('UTC'),
  week_start: z.enum(WEEK_STARTS).default('sunday'),
  rsync_command: Command.default(['rsync']),
  /**
   * [NEW] `--compress` on the storage's rsync runs (pulls and restores): off, since on a LAN it
   * only spends CPU on data that is mostly incompressible; worth it on a slow link
   * (docs/datapath.md, "Pulling with rsync").
   */
  rsync_compress: Flag.default(false),
  borg_command: Command.default(['borg']),
  borg_encryption: z.string().default('none'),
  borg_passphrase: z.string().nullable().default(null),
  borg_compression: z.string().default('lz4'),
  borg_lock_wait: z.number().int().nonnegative().default(60),
  /**
   * [NEW] Record a manifest (path, size, mode, mtime, SHA-256) of each link-dest snapshot, for
   * verify (docs/datapath.md, "Manifests and verify").
   */
  manifest: Flag.default(true),
  verify_tunnel_owner: Flag.default(process.platform === 'linux'),
  /**
   * [NEW] What a ping account that is not root runs to learn which loopback ports its own sshd
   * session listens on (docs/datapath.md, "The storage's sshd"); the storage charm's sudoers rule
   * allows exactly this command.
   */
  tunnel_owner_command: Command.default(['sudo', '-n', TUNNEL_OWNER_PROGRAM]),
  /** Seconds an agent has to send its whole request to turku-storage-ping (docs/datapath.md). */
  ping_request_timeout: z.number().positive().max(3600).default(DEFAULT_REQUEST_TIMEOUT_SECONDS),
  /**
   * Check-in sessions that pull at once; others are told to come back (docs/datapath.md, "A busy
   * storage"). Unset: two per CPU.
   */
  max_concurrent_backups: z.number().int().positive().max(10_000).optional(),
  /**
   * [NEW] Check-in sessions that may wait on the storage for a slot instead of being told to come
   * back (docs/datapath.md, "A busy storage"); 0: none. Unset: as many as there are slots.
   */
  max_waiting_backups: z.number().int().nonnegative().max(10_000).optional(),
  /**
   * [NEW] Bytes of stored snapshots the periodic sample verify reads per day, spread over its
   * runs; 0 turns it off (docs/datapath.md, "The periodic sample verify").
   */
  verify_bytes_per_day: z
    .number()
    .int()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER)
    .default(DEFAULT_VERIFY_BYTES_PER_DAY),
  /**
   * [NEW] No snapshot or archive younger than this is ever deleted, whatever a retention policy,
   * the API or turku-storage-admin asks (docs/datapath.md, "Retention on the storage").
   */
  min_age: Duration.default(7 * 86_400),
  /**
   * [NEW] Whether finished link-dest snapshots get the immutable flag on their directories, and
   * the `chattr` that sets it: a copy with CAP_LINUX_IMMUTABLE when the ping account is not root
   * (docs/datapath.md, "Immutable snapshots").
   */
  immutable_snapshots: Flag.default(true),
  chattr_command: Command.default(['chattr']),
});
export type StorageSettings = z.output<typeof StorageSettings>;

/** Parses the merged configuration; anything missing or malformed is `Incomplete config: ...`. */
export function parseStorageSettings(config: ConfigObject): StorageSettings {
  const parsed = StorageSettings.safeParse(config);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = issue?.path.join('.');
  const detail = issue?.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue?.message;
  throw new UserError(`Incomplete config: ${key ? `${key}: ` : ''}${detail ?? 'invalid'}`);
}

/** The volume's own high-water mark, else the storage's. */
export function highWaterOf(settings: StorageSettings, volume: StorageSettings['volumes'][string]): number {
  return volume.accept_new_high_water_pct ?? settings.accept_new_high_water_pct;
}
