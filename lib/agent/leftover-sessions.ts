import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { errorMessage } from '../common/errors.js';
import type { Lock } from '../common/lock.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { isOwnPrivateDir, OWNER_FILE, SESSION_DIR_PREFIX, SESSIONS_DIR } from './exit-cleanup.js';

/**
 * What an agent killed mid-session (SIGKILL, a crash, a power cut) left in
 * `<var_dir>/sessions/session-*`: the rsync daemon's configuration and one-time credentials, the
 * pinned known_hosts, and perhaps a daemon or ssh still running from them. Swept at the next
 * start, under the agent's lock: a session directory that is not ours while we hold the lock
 * belongs to no live session.
 *
 * A process counts as the leftover's only if its command line names that directory's
 * `rsyncd.conf` (the daemon and the connection handlers it forked, which share its command
 * line) or `known_hosts` (ssh): a pid written down earlier may name another program by now.
 */

export interface SweepReport {
  readonly dirs: number;
  readonly processes: number;
}

/** Removes leftover session directories and stops their processes. `lock`: the agent's lock. */
export async function sweepLeftoverSessions(varDir: string, lock: Lock, log: WorkloadLogger): Promise<SweepReport> {
  void lock; // Held by the caller: that is what makes every other session directory a leftover.
  const parent = join(varDir, SESSIONS_DIR);
  const names = await readdir(parent).catch(() => [] as string[]);
  const leftovers = names
    .filter((name) => name.startsWith(SESSION_DIR_PREFIX))
    .map((name) => join(parent, name))
    .filter((dir) => !isOwnPrivateDir(dir));
  if (leftovers.length === 0) return { dirs: 0, processes: 0 };

  const markers = new Set(
    leftovers.flatMap((dir) => [
      `--config=${join(dir, 'rsyncd.conf')}`,
      `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
    ]),
  );
  // Again until none is found: a daemon may fork a connection handler between a scan and its kill.
  let processes = 0;
  for (let pass = 0; pass < 5; pass++) {
    const matching = (await processCommandLines()).filter(
      ({ pid, argv }) => pid !== process.pid && argv.some((arg) => markers.has(arg)),
    );
    if (matching.length === 0) break;
    for (const { pid } of matching) {
      try {
        process.kill(pid, 'SIGKILL');
        processes++;
      } catch {
        // Gone meanwhile.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let removed = 0;
  for (const dir of leftovers) {
    const owner = (await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim();
    try {
      await rm(dir, { recursive: true, force: true });
      removed++;
      log.info(`Removed what an earlier session left behind${owner === '' ? '' : ` (agent pid ${owner})`}: ${dir}`);
    } catch (error) {
      log.warning(`Cannot remove the leftover session directory ${dir}: ${errorMessage(error)}`);
    }
  }
  if (processes > 0) log.info(`Stopped ${processes} leftover session process${processes === 1 ? '' : 'es'}`);
  return { dirs: removed, processes };
}

/** Every process's argv (Linux /proc); processes that vanish or cannot be read are skipped. */
async function processCommandLines(): Promise<{ pid: number; argv: string[] }[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(join('/proc', entry, 'cmdline'), 'utf8').catch(() => '');
    if (text !== '') found.push({ pid: Number(entry), argv: text.split('\0').filter((arg) => arg !== '') });
  }
  return found;
}
