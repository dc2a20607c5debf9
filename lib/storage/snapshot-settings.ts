// The part of the storage's settings the snapshot engines read. Its own module because both the
// backup session (ping.ts) and the scripted restore (scripted-restore.ts, called from ping.ts)
// need it: kept in ping.ts, it made the two import each other.
import type { StorageSettings } from './settings.js';
import type { SnapshotSettings } from './snapshots/index.js';

export function snapshotSettings(settings: StorageSettings): SnapshotSettings {
  return {
    rsyncCommand: settings.rsync_command,
    rsyncCompress: settings.rsync_compress,
    borgCommand: settings.borg_command,
    preserveHardLinks: settings.preserve_hard_links,
    timezone: settings.timezone,
    weekStart: settings.week_start,
    varDir: settings.var_dir,
    borgEncryption: settings.borg_encryption,
    borgPassphrase: settings.borg_passphrase,
    borgCompression: settings.borg_compression,
    borgLockWait: settings.borg_lock_wait,
    minAgeSeconds: settings.min_age,
    chattrCommand: settings.chattr_command,
    immutableSnapshots: settings.immutable_snapshots,
    manifest: settings.manifest,
  };
}
