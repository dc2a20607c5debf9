import { randomUUID } from 'node:crypto';
import { lstat, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';

import { isErrno } from '../../common/errors.js';
import { releaseSnapshot } from './immutable.js';
import { deltaPath, DELTA_SUFFIX, manifestPath, MANIFEST_SUFFIX } from '../manifest/files.js';
import { wholeDependents } from '../manifest/stored.js';
import { DELETE_PREFIX, isTemporaryName, LATEST, sidecarPath, type Candidate } from './names.js';
import { runLogged, SAFE_PATH } from './process.js';
import { type SnapshotLog, type SnapshotSettings } from './types.js';

/**
 * Changes to a `<source>.snapshots/` directory, each safe to interrupt
 * (docs/datapath.md, "Snapshots on disk", "Retention on the storage").
 */

/**
 * Points `latest` at `name` by renaming a fresh symlink over it, so readers never find it
 * missing. Something else called `latest` (an operator's directory) is left alone.
 */
export async function replaceLatest(snapshotsDir: string, name: string, log: SnapshotLog): Promise<void> {
  const latest = join(snapshotsDir, LATEST);
  try {
    if (!(await lstat(latest)).isSymbolicLink()) {
      log.warning(`${latest} is not a symlink; leaving it alone`);
      return;
    }
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  const temporary = join(snapshotsDir, `${LATEST}.tmp${randomUUID()}~`);
  try {
    await symlink(name, temporary);
    await rename(temporary, latest);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Renames first, so a crash leaves a `_delete-` directory that the next run finishes off rather
 * than a directory without its sidecar that nothing would ever delete. False if it could not
 * even be renamed (then it is still a snapshot). An immutable snapshot (immutable.ts) has its
 * flag lifted first, this one only.
 */
export async function deleteSnapshot(
  snapshotsDir: string,
  victim: Candidate,
  log: SnapshotLog,
  settings: Pick<SnapshotSettings, 'chattrCommand'> = {},
): Promise<boolean> {
  const trash = join(snapshotsDir, `${DELETE_PREFIX}${victim.dir}`);
  // Manifests kept as deltas on this one's are made whole first: it is their base.
  if (!(await wholeDependents(snapshotsDir, victim.dir, log))) {
    log.error(`Cannot delete snapshot ${victim.name}: the manifests kept as deltas on its own could not be made whole`);
    return false;
  }
  try {
    if (await exists(trash)) await removeTree(trash, log); // a leftover would block the rename
    await releaseSnapshot(join(snapshotsDir, victim.dir), settings, log);
    await rename(join(snapshotsDir, victim.dir), trash);
  } catch (error) {
    log.error(`Cannot delete snapshot ${victim.name}: ${String(error)}`);
    return false;
  }
  await rm(sidecarPath(snapshotsDir, victim.dir), { force: true }).catch((error: unknown) =>
    log.error(`Cannot delete sidecar of ${victim.name}: ${String(error)}`),
  );
  for (const manifest of [manifestPath(snapshotsDir, victim.dir), deltaPath(snapshotsDir, victim.dir)]) {
    await rm(manifest, { force: true }).catch((error: unknown) =>
      log.error(`Cannot delete the manifest of ${victim.name}: ${String(error)}`),
    );
  }
  await removeTree(trash, log);
  return true;
}

/** `_delete-*` and temporary files left by an interrupted run. */
export async function removeLeftovers(snapshotsDir: string, log: SnapshotLog): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(snapshotsDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  const present = new Set(entries);
  for (const entry of entries) {
    if (entry.startsWith(DELETE_PREFIX)) {
      log.info(`Removing leftover ${entry}`);
      await removeTree(join(snapshotsDir, entry), log);
    } else if (isTemporaryName(entry)) {
      await rm(join(snapshotsDir, entry), { force: true });
    } else if (entry.endsWith(DELTA_SUFFIX)) {
      // A delta made whole, then interrupted before it was removed: the whole manifest is the one.
      const whole = `${entry.slice(0, -DELTA_SUFFIX.length)}${MANIFEST_SUFFIX}`;
      if (present.has(whole)) await rm(join(snapshotsDir, entry), { force: true });
    }
  }
}

/**
 * `rm -rf` in a subprocess: faster than Node on big trees. A symlink is removed, not followed.
 * Directories copied without write permission are opened up and tried once more (non-root).
 */
export async function removeTree(path: string, log: SnapshotLog): Promise<boolean> {
  const env = { PATH: SAFE_PATH };
  if ((await runLogged(['rm', '-rf', '--', path], { env, log })).code === 0) return true;
  await runLogged(['chmod', '-R', 'u+rwX', '--', path], { env, log });
  const { code } = await runLogged(['rm', '-rf', '--', path], { env, log });
  if (code !== 0) log.error(`Cannot remove ${path}; the next successful run tries again`);
  return code === 0;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
