import { chown, readdir, stat } from 'node:fs/promises';

import { createApiClient } from '../common/api-client.js';
import { errorMessage, isErrno } from '../common/errors.js';
import { tryLock } from '../common/lock.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { lastActivity, scratchDirectory, scratchRoot, sweepScratch } from './scratch.js';
import { machinesWithJournal, reportLeftovers, SessionJournal, sessionLockName } from './session-journal.js';
import type { StorageSettings } from './settings.js';
import { postSourceResult } from './source-report.js';

/**
 * turku-storage-update-config's periodic clean-up after killed sessions: for each machine with a
 * session journal or scratch files and no session running (its lock free), report what the
 * journal holds and remove the scratch files. The next session of that machine does the same for
 * itself; this only makes it happen without waiting for the agent to come back.
 */
export async function recoverAbandonedSessions(settings: StorageSettings, log: WorkloadLogger): Promise<number> {
  const machines = new Set([...(await machinesWithJournal(settings.var_dir)), ...(await scratchOwners(settings))]);
  if (machines.size === 0) return 0;
  const api = createApiClient({
    url: settings.api_url,
    timeoutSeconds: settings.api_timeout,
    debug: (line) => log.debug(line),
  });
  const storage = { name: settings.name, secret: settings.secret };
  let reported = 0;
  for (const uuid of machines) {
    const lock = await tryLock(settings.lock_dir, sessionLockName(uuid));
    if (lock === undefined) continue; // a session is running: it cleans up after its predecessor itself
    try {
      await leaveLockToItsDirectoryOwner(lock.path, settings.lock_dir);
      const activity = await lastActivity(scratchDirectory(settings.var_dir, uuid));
      const journal = await SessionJournal.open(settings.var_dir, uuid, (problem) => log.warning(problem));
      reported += await reportLeftovers(
        journal,
        activity,
        async (name, result) => {
          try {
            await postSourceResult(api, storage, uuid, name, result);
            return true;
          } catch (error) {
            log.warning(`Reporting ${name} of ${uuid} failed (${errorMessage(error)}); the next run tries again`);
            return false;
          }
        },
        log,
      );
      await sweepScratch(settings.var_dir, uuid);
    } finally {
      await lock.release();
    }
  }
  return reported;
}

async function scratchOwners(settings: StorageSettings): Promise<string[]> {
  try {
    return (await readdir(scratchRoot(settings.var_dir))).filter((entry) => /^[0-9a-f-]{36}$/.test(entry));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

/**
 * As root (the timer's turku-storage-update-config), the machine's lock file is given to the
 * owner of the lock directory, the ping account: were this run killed before unlinking it, a
 * root-owned file would stop every later session of that machine from opening its lock.
 */
async function leaveLockToItsDirectoryOwner(lockPath: string, lockDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const owner = await stat(lockDir);
  if (owner.uid !== 0) await chown(lockPath, owner.uid, owner.gid);
}
