// Taking the LXD substrate down: its machines, profile, bridge and pool, then the daemons this
// project started by hand. The image stays imported and its build cached, so the next set-up is
// quick; LXD that systemd (or someone else) runs is left running, emptied of Turku's resources.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ensureLxd, lxdAnswers, RUN_DIR, stopStartedLxd } from './daemon.js';
import { removeResources } from './resources.js';

export function lxdInstalled(): boolean {
  return existsSync('/usr/bin/lxd') || existsSync('/usr/sbin/lxd');
}

/** Removes what the substrate made in LXD and stops the daemons started here; lists what went. */
export async function teardownLxdSubstrate(): Promise<string[]> {
  if (!lxdInstalled()) return [];
  const removed: string[] = [];
  // An LXD started here that does not answer was killed (its pid file outlived it): it still holds
  // the machines, with their disks and fixed addresses, and they go only through LXD. Otherwise
  // LXD is never started just to empty it: one stopped by its owner holds nothing of a run.
  const killedHere = existsSync(join(RUN_DIR, 'lxd.pid')) && !(await lxdAnswers());
  if (killedHere) await ensureLxd();
  if (await lxdAnswers()) removed.push(...(await removeResources()));
  if (existsSync(join(RUN_DIR, 'lxd.pid')) || existsSync(join(RUN_DIR, 'lxcfs.pid'))) {
    removed.push(...(await stopStartedLxd()).map((daemon) => `daemon ${daemon}`));
  }
  return removed;
}
