import { encodeBusyLine, STORAGE_BUSY_EXIT } from '../turku/protocol/storage-busy.js';
import { backupSlotCount, isBusy, takeBackupSlot, type HeldSlot } from './backup-slots.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import type { StorageSettings } from './settings.js';

/**
 * A check-in session's entry into one of the storage's backup slots (backup-slots.ts), or the
 * busy answer (docs/datapath.md, "A busy storage"): a line for the operator on stderr, the
 * `turku-busy` line for the agent on stdout, and the exit status to end the session with.
 */
export async function enterBackupSlot(
  settings: Pick<StorageSettings, 'lock_dir' | 'max_concurrent_backups' | 'max_waiting_backups'>,
  uuid: string,
  options: {
    readonly log: Pick<WorkloadLogger, 'debug' | 'info' | 'warning'>;
    readonly output?: (text: string) => void;
  },
): Promise<HeldSlot | number> {
  const limit = backupSlotCount(settings.max_concurrent_backups);
  const answer = await takeBackupSlot(uuid, {
    lockDir: settings.lock_dir,
    limit,
    waiting: settings.max_waiting_backups ?? limit,
    onWait: (seconds) =>
      options.log.info(
        `All ${limit} backup slots are taken (max_concurrent_backups); waiting up to ${seconds} s for one`,
      ),
  });
  if (!isBusy(answer)) {
    options.log.debug(`Backup slot ${answer.index} of ${limit} taken`);
    return answer;
  }
  options.log.warning(
    `Storage busy: ${answer.running} backups running, the most it runs at once (max_concurrent_backups); ` +
      `try again in ${answer.retryAfterSeconds} s`,
  );
  options.output?.(
    encodeBusyLine({ retry_after: answer.retryAfterSeconds, running: answer.running, limit: answer.limit }),
  );
  return STORAGE_BUSY_EXIT;
}
