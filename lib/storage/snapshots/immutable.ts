import { runLogged, SAFE_PATH } from './process.js';
import { type SnapshotLog, type SnapshotSettings } from './types.js';

/**
 * Immutable link-dest snapshots (docs/datapath.md, "Immutable snapshots"). Once a snapshot is
 * complete (its sidecar and manifest written beside it), every DIRECTORY of it gets the
 * immutable flag (`chattr +i`, the FS_IOC_SETFLAGS ioctl):
 *   - none of its entries can be added, removed or renamed, by root too, so `rm -rf`, `mv` and a
 *     stray `rsync --delete` fail with EPERM, and the snapshot itself cannot be renamed or removed
 *     from `<source>.snapshots/`, which stays writable for the next snapshots and sidecars;
 *   - its FILES are left alone: Linux refuses link(2) to an immutable (or append-only) inode, and
 *     the next backup hard-links the unchanged files from this one (`cp --link`, `--link-dest`).
 *     So a file's content, mode or times can still be changed in place by root; the manifest is
 *     what shows such a change.
 * Retention lifts the flag from a snapshot it expires right before removing it. Root can always
 * run `chattr -i` itself: this guards against mistakes and against a compromised API or agent, not
 * against root on the storage.
 *
 * Where the flag cannot be set (tmpfs and overlayfs have no such flag, and an account without
 * CAP_LINUX_IMMUTABLE may not set it), the snapshot stays as it is and a warning says so once per
 * volume and process. Modes are not used instead: a snapshot's modes are the source's, which a
 * restore reproduces and the next snapshot's clone copies, so a read-only mode would falsify them.
 */

/** Volumes already reported as without the flag in this process. */
const reportedVolumes = new Set<string>();

type ChattrSettings = Pick<SnapshotSettings, 'chattrCommand' | 'immutableSnapshots'>;

/**
 * Sets the flag on `dir` first (so a volume without it costs one small process), then on every
 * directory below (one `find`, which runs `chattr` on batches of directories). Never throws:
 * returns whether the snapshot is now immutable.
 */
export async function protectSnapshot(
  dir: string,
  settings: ChattrSettings,
  volume: string,
  log: SnapshotLog,
): Promise<boolean> {
  const chattr = settings.chattrCommand;
  if (chattr === undefined || settings.immutableSnapshots !== true || reportedVolumes.has(volume)) return false;
  try {
    const env = { PATH: SAFE_PATH };
    const top = await runLogged([...chattr, '+i', dir], { env, log });
    if (top.code !== 0) {
      reportedVolumes.add(volume);
      log.warning(
        `Snapshots on ${volume} are not made immutable: ${top.diagnostics[0] ?? `chattr exited with ${top.code}`}`,
      );
      return false;
    }
    const below = await runLogged(
      ['find', '-P', dir, '-mindepth', '1', '-type', 'd', '-exec', ...chattr, '+i', '{}', '+'],
      {
        env,
        log,
      },
    );
    if (below.code !== 0) {
      log.error(`Cannot make every directory of ${dir} immutable: ${below.diagnostics[0] ?? `code ${below.code}`}`);
      return false;
    }
    log.info(`Made ${dir} immutable`);
    return true;
  } catch (error) {
    log.error(`Cannot make ${dir} immutable: ${String(error)}`);
    return false;
  }
}

/**
 * Lifts the flag from every directory of `dir`, for retention right before it removes the
 * snapshot. Failures are not reported here: the removal that follows says what is left.
 */
export async function releaseSnapshot(dir: string, settings: ChattrSettings, log: SnapshotLog): Promise<void> {
  const chattr = settings.chattrCommand;
  if (chattr === undefined) return;
  await runLogged(['find', '-P', dir, '-type', 'd', '-exec', ...chattr, '-f', '-i', '{}', '+'], {
    env: { PATH: SAFE_PATH },
    log,
  }).catch((error: unknown) => log.error(`Cannot lift the immutable flag of ${dir}: ${String(error)}`));
}

/** Tests start each case with no volume reported. */
export function forgetReportedVolumes(): void {
  reportedVolumes.clear();
}
