import type { SnapshotMode } from '../../turku/protocol/descriptor.js';

/**
 * What a verify of one snapshot found, shared by the on-demand verify (admin program, storage
 * action) and the periodic sample verify that reports to the API.
 */

export type VerifyProblemKind =
  /** Same size, different SHA-256. */
  | 'content'
  /** Size differs from the manifest (a truncated or grown file). */
  | 'size'
  /** Mode, mtime or type differs from the manifest. */
  | 'metadata'
  /** In the manifest, not in the snapshot. */
  | 'missing'
  /** In the snapshot, not in the manifest. */
  | 'extra'
  /** Could not be read (permissions, I/O error). */
  | 'unreadable'
  /** The snapshot has no manifest to check against. */
  | 'no-manifest'
  /** `borg check --verify-data` reported a problem (borg mode). */
  | 'borg';

export interface VerifyProblem {
  /** Path relative to the snapshot's root; empty for problems of the whole snapshot. */
  readonly path: string;
  readonly kind: VerifyProblemKind;
  readonly detail: string;
}

export interface VerifyRequest {
  /** The machine's directory on its volume (`<var_dir>/machines/<uuid>` resolved). */
  readonly machineDir: string;
  readonly source: string;
  /** A snapshot name (link-dest directory or borg archive), or "latest". */
  readonly snapshot: string;
  readonly mode: SnapshotMode;
  /** Verify only a random sample of files of at most this many bytes (the periodic verify). */
  readonly sample?: { readonly maxBytes: number; readonly random?: () => number };
}

export interface VerifyOutcome {
  readonly source: string;
  /** The snapshot actually checked ("latest" resolved). */
  readonly snapshot: string;
  readonly checkedFiles: number;
  readonly checkedBytes: number;
  /** False when only a sample was checked. */
  readonly complete: boolean;
  readonly problems: readonly VerifyProblem[];
}

export type VerifySnapshot = (request: VerifyRequest) => Promise<VerifyOutcome>;
