import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { errorMessage } from '../common/errors.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { sourceNameProblem } from '../turku/names.js';
import type { SnapshotMode } from '../turku/protocol/descriptor.js';
import type { ScriptedRestore } from '../turku/protocol/stdin.js';
import { machinesDir } from './machine-dir.js';
import { snapshotSettings } from './snapshot-settings.js';
import type { StorageSettings } from './settings.js';
import { pushRestore, resolveRestoreTree } from './snapshots/index.js';
import { tunnelOwnedByAncestor } from './tunnel-owner.js';

/**
 * [NEW] Scripted restore: the agent names a source and a snapshot, and this storage pushes that
 * snapshot into the agent's writable restore module through the tunnel, then ends the session.
 * Only the forced command's machine is looked at, and no API call is made (as in the
 * interactive mode). The agent treats `Scripted restore finished` as its success signal.
 */

export async function serveScriptedRestore(
  settings: StorageSettings,
  session: {
    readonly uuid: string;
    readonly port: number;
    readonly restore: ScriptedRestore;
    readonly log: WorkloadLogger;
  },
): Promise<number> {
  const { restore, log } = session;
  const problem = sourceNameProblem(restore.source);
  if (problem !== undefined) return refuse(log, `Invalid source name: ${problem}`);
  // The agent offers its restore module only under a name that passes the source-name rule
  // (lib/agent/rsyncd.ts, moduleProblem), so the same rule decides here.
  const moduleProblem = sourceNameProblem(restore.module);
  if (moduleProblem !== undefined) return refuse(log, `Invalid restore module "${restore.module}"`);

  const machineDir = join(machinesDir(settings.var_dir), session.uuid);
  const mode = await modeOnDisk(machineDir, restore.source, settings.snapshot_mode);
  if (mode === undefined) return refuse(log, `No backups of source "${restore.source}" on this storage`);
  if (settings.verify_tunnel_owner && !(await tunnelOwnedByAncestor(session.port))) {
    return refuse(log, `Tunnel on port ${session.port} is not owned by this session`);
  }

  log.info(`Scripted restore of ${restore.source} (${restore.snapshot}) on port ${session.port}`);
  let tree;
  try {
    tree = await resolveRestoreTree({
      machineDir,
      source: restore.source,
      mode,
      snapshot: restore.snapshot,
      settings: snapshotSettings(settings),
      log,
    });
  } catch (error) {
    return refuse(log, errorMessage(error));
  }
  try {
    const pushed = await pushRestore({
      rsyncCommand: settings.rsync_command,
      dir: tree.dir,
      url: `rsync://${restore.username}@127.0.0.1:${session.port}/${restore.module}/`,
      password: restore.password,
      // A restore should give back exactly what was saved, hard links included.
      hardLinks: true,
      log,
    });
    if (!pushed.success) return refuse(log, `rsync exited with return code ${pushed.code}`);
  } finally {
    await tree.cleanup();
  }
  log.info(`Scripted restore finished: ${restore.source} snapshot ${tree.snapshot ?? '(mirror)'}`);
  return 0;
}

function refuse(log: WorkloadLogger, message: string): number {
  log.error(`Scripted restore failed: ${message}`);
  return 1;
}

/**
 * The mode whose data exists for the source: the storage's current mode first, as the source
 * most likely still uses it, then the others (modes may have changed between runs).
 */
async function modeOnDisk(
  machineDir: string,
  source: string,
  preferred: SnapshotMode,
): Promise<SnapshotMode | undefined> {
  const treeOf: Record<SnapshotMode, string> = {
    'link-dest': join(machineDir, `${source}.snapshots`),
    borg: join(machineDir, `${source}.borg`),
    none: join(machineDir, source),
  };
  const order: SnapshotMode[] = [preferred, ...(['link-dest', 'borg', 'none'] as const).filter((m) => m !== preferred)];
  for (const mode of order) {
    if (await isDirectory(treeOf[mode])) return mode;
  }
  return undefined;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}
