import { snapshotSettings } from '../snapshot-settings.js';
import type { StorageSettings } from '../settings.js';
import type { SnapshotLog } from '../snapshots/types.js';
import type { VerifySnapshot } from '../verify/outcome.js';
import { snapshotVerifier } from '../verify/verify-snapshot.js';

/**
 * The one place the periodic sample verify names the real verify (lib/storage/verify/), so that a
 * test can swap this module for a double and still run the real program around it.
 */
export function verifierFor(settings: StorageSettings, log: SnapshotLog): VerifySnapshot {
  return snapshotVerifier(snapshotSettings(settings), log);
}
