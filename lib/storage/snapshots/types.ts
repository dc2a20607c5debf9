import type { Logger } from '../../common/logger.js';
import { type SnapshotMode, type SourceDescriptor } from '../../turku/protocol/descriptor.js';
import { type WeekStart } from '../../turku/time.js';

/**
 * What every snapshot engine is given and returns (docs/datapath.md, "Pulling with rsync" to
 * "Retention on the storage"); see index.ts.
 */

export type { SnapshotMode };

/** The engines log through the common Logger (the session's workload logger). */
export type SnapshotLog = Logger;

/** The storage settings (docs/datapath.md, "Configuration keys") the engines need, in camelCase. */
export interface SnapshotSettings {
  readonly rsyncCommand: readonly string[];
  /** `--compress` on every pull (the storage's `rsync_compress`); off when absent. */
  readonly rsyncCompress?: boolean;
  readonly borgCommand: readonly string[];
  /** `--hard-links` for every source. */
  readonly preserveHardLinks: boolean;
  /** IANA zone for snapshot names, legacy names and retention calendars. */
  readonly timezone: string;
  readonly weekStart: WeekStart;
  /** Borg keeps its cache and security state in `<varDir>/borg`. */
  readonly varDir: string;
  readonly borgEncryption: string;
  readonly borgPassphrase: string | null;
  readonly borgCompression: string;
  /** Seconds. */
  readonly borgLockWait: number;
  /** Seconds: retention never deletes a younger snapshot (min-age.ts); absent: no such floor. */
  readonly minAgeSeconds?: number;
  /**
   * The `chattr` that sets and lifts the immutable flag (immutable.ts); absent: neither is done.
   * Retention lifts the flag whenever it is given, so that snapshots made immutable before the
   * setting was turned off still expire.
   */
  readonly chattrCommand?: readonly string[];
  /** Whether finished link-dest snapshots get the flag (with `chattrCommand`). */
  readonly immutableSnapshots?: boolean;
  /** link-dest: record each snapshot's manifest (docs/datapath.md, "Manifests and verify"); on unless false. */
  readonly manifest?: boolean;
}

export interface SnapshotJob {
  /** Absolute, exists. */
  readonly machineDir: string;
  /** The volume the machine directory is on, as failure reasons name it (else machineDir). */
  readonly volume?: string;
  /** An already validated source name. */
  readonly source: string;
  readonly descriptor: SourceDescriptor;
  /** `url` is `rsync://<user>@127.0.0.1:<port>/<source>/`. */
  readonly remote: { readonly url: string; readonly password: string };
  readonly settings: SnapshotSettings;
  readonly log: SnapshotLog;
  /**
   * Called right before the pull, once the engine has removed what earlier runs left (the
   * storage checks the volume's space there).
   */
  readonly beforePull?: () => Promise<void>;
  /** The clock; tests move it. */
  readonly now?: () => Date;
}

export interface SnapshotOutcome {
  readonly success: boolean;
  /** The new snapshot's (or archive's) name; null in none mode and when nothing was made. */
  readonly snapshot: string | null;
  readonly summary: string | null;
}
