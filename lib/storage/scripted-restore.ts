import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { errorMessage } from '../common/errors.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { sourceNameProblem } from '../turku/names.js';
import type { SnapshotMode } from '../turku/protocol/descriptor.js';
import { encodeManifestChunks } from '../turku/protocol/restore-manifest.js';
import { encodeRestoreDone, encodeRestoreProgress, type SentManifest } from '../turku/protocol/restore-report.js';
import { AS_OF_SNAPSHOT, type ScriptedRestore } from '../turku/protocol/stdin.js';
import { restorePathProblem } from '../turku/restore-path.js';
import { machinesDir } from './machine-dir.js';
import { snapshotSettings } from './snapshot-settings.js';
import type { StorageSettings } from './settings.js';
import { manifestToSend, pushRestore, resolveRestoreTree, rsyncUrl, type RestoreTree } from './snapshots/index.js';
import { checkTunnelOwner } from './tunnel-owner-check.js';

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
    /** The forced command's stdout: progress and done lines when the agent asked for them. */
    readonly output?: ((text: string) => void) | undefined;
  },
): Promise<number> {
  const { restore, log } = session;
  const problem = sourceNameProblem(restore.source);
  if (problem !== undefined) return refuse(log, `Invalid source name: ${problem}`);
  const asOf = restore.as_of === undefined ? undefined : new Date(restore.as_of);
  if (asOf !== undefined && restore.snapshot !== AS_OF_SNAPSHOT && restore.snapshot !== 'latest') {
    return refuse(log, 'A restore names a snapshot or a time (as-of), not both');
  }
  const pathProblem = restore.path === undefined ? undefined : restorePathProblem(restore.path);
  if (pathProblem !== undefined) return refuse(log, `Invalid restore path "${restore.path}": ${pathProblem}`);
  const output = restore.progress === true ? session.output : undefined;
  // The agent offers its restore module only under a name that passes the source-name rule
  // (lib/agent/rsyncd.ts, moduleProblem), so the same rule decides here.
  const moduleProblem = sourceNameProblem(restore.module);
  if (moduleProblem !== undefined) return refuse(log, `Invalid restore module "${restore.module}"`);

  const machineDir = join(machinesDir(settings.var_dir), session.uuid);
  const mode = await modeOnDisk(machineDir, restore.source, settings.snapshot_mode);
  if (mode === undefined) return refuse(log, `No backups of source "${restore.source}" on this storage`);
  const tunnel = settings.verify_tunnel_owner
    ? await checkTunnelOwner(session.port, settings.tunnel_owner_command)
    : { host: '127.0.0.1' as const };
  if ('problem' in tunnel) return refuse(log, tunnel.problem);

  const asked = asOf === undefined ? restore.snapshot : `as of ${asOf.toISOString()}`;
  const part = restore.path === undefined ? '' : `, path ${restore.path}`;
  log.info(`Scripted restore of ${restore.source} (${asked}${part}) on port ${session.port}`);
  let tree;
  try {
    tree = await resolveRestoreTree({
      machineDir,
      source: restore.source,
      mode,
      snapshot: restore.snapshot,
      ...(asOf === undefined ? {} : { asOf }),
      ...(restore.path === undefined ? {} : { path: restore.path }),
      settings: snapshotSettings(settings),
      log,
    });
  } catch (error) {
    return refuse(log, errorMessage(error));
  }
  const taken = tree.finishedAt === null ? '' : `, taken ${tree.finishedAt.toISOString()}`;
  log.info(`Restoring snapshot ${tree.snapshot ?? '(mirror)'}${taken}`);
  let sent;
  let manifest: SentManifest | undefined;
  try {
    const pushed = await pushRestore({
      rsyncCommand: settings.rsync_command,
      dir: tree.dir,
      ...(tree.path === undefined ? {} : { path: tree.path }),
      ...(output === undefined
        ? {}
        : {
            onProgress: (sample) =>
              output(
                encodeRestoreProgress({
                  bytes: sample.bytes,
                  files: sample.files,
                  total_bytes: sample.totalBytes,
                  total_files: sample.totalFiles,
                  seconds: sample.seconds,
                }),
              ),
          }),
      url: rsyncUrl(restore.username, tunnel.host, session.port, restore.module),
      password: restore.password,
      // A restore should give back exactly what was saved, hard links included.
      hardLinks: true,
      compress: settings.rsync_compress,
      log,
    });
    if (!pushed.success) return refuse(log, `rsync exited with return code ${pushed.code}`);
    sent = pushed.sent;
    if (restore.verify === true && output !== undefined) manifest = await sendManifest(tree, mode, output, log);
  } finally {
    await tree.cleanup();
  }
  output?.(
    encodeRestoreDone({
      source: restore.source,
      snapshot: tree.snapshot,
      time: tree.finishedAt?.toISOString() ?? null,
      path: tree.path ?? null,
      bytes: sent?.bytes ?? 0,
      files: sent?.files ?? 0,
      seconds: sent?.seconds ?? 0,
      ...(manifest === undefined ? {} : { manifest }),
    }),
  );
  log.info(`Scripted restore finished: ${restore.source} snapshot ${tree.snapshot ?? '(mirror)'}`);
  return 0;
}

/** The manifest lines for a verified restore (docs/datapath.md, "Verified restores"), and what they were. */
async function sendManifest(
  tree: RestoreTree,
  mode: SnapshotMode,
  output: (text: string) => void,
  log: WorkloadLogger,
): Promise<SentManifest> {
  const found = await manifestToSend(tree, mode);
  if ('reason' in found) {
    log.info(`No manifest sent for verify: ${found.reason}`);
    return { reason: found.reason };
  }
  for (const line of encodeManifestChunks(found.gz)) output(line);
  log.info(`Sent the manifest for verify (${found.gz.length} bytes gzip'd)`);
  return { bytes: found.gz.length, sha256: createHash('sha256').update(found.gz).digest('hex') };
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
