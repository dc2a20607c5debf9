import { resolve, sep } from 'node:path';

import { UserError } from '../common/errors.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { randomAlphanumeric, randomUuid } from '../common/random.js';
import { formatInZone, localTimeZone } from '../turku/as-of.js';
import { AgentPingRestoreResponse } from '../turku/protocol/agent-ping.js';
import type { RestoreDone } from '../turku/protocol/restore-report.js';
import { AS_OF_SNAPSHOT, encodeStdinRequest, type OutgoingStdinRequest } from '../turku/protocol/stdin.js';
import { chooseStorage, groupByStorage, type StorageGroup } from './groups.js';
import { lockForRun, registration, sweepAndConnect, type PingContext } from './ping-context.js';
import type { DaemonModule } from './rsyncd.js';
import { unfinishedRestoreTargets } from './restore-leftovers.js';
import { catchRestoreReports, ProgressPrinter } from './restore-progress.js';
import { ManifestCollector, verifyRestored } from './restore-verify.js';
import { planRestoreTarget, prepareRestoreTarget, type PreparedTarget } from './restore-target.js';
import { runStorageSession, type SessionResult } from './session.js';
import type { AgentSettings } from './settings.js';
import { SSH_FAILURE, sshFailureMessage } from './ssh.js';

/**
 * Restores (docs/datapath.md, "Restores"): the storage pushes files through the tunnel into a
 * writable module that points at the restore directory.
 *   - Interactive (`--restore`): prints how to push, then holds the session open until Ctrl-C,
 *     SIGTERM, `--restore-timeout` or the end of the ssh session.
 *   - [NEW] Scripted (`--restore-source NAME`): asks the storage to push one snapshot by itself
 *     and reports whether it did.
 */

export interface RestoreOptions {
  /** `--restore-storage`: required when the sources are on several storages. */
  readonly storage: string | undefined;
  /** `--restore-source`: makes the restore scripted. */
  readonly source: string | undefined;
  /** `--restore-snapshot`: a snapshot name or `latest`. */
  readonly snapshot: string;
  /** `--restore-as-of`, read (lib/turku/as-of.ts): the newest snapshot at or before it. */
  readonly asOf?: Date;
  /** `--restore-path`: only this relative path of the snapshot (lib/turku/restore-path.ts). */
  readonly path?: string;
  /** The zone times are read and shown in (this machine's, when the flags were read). */
  readonly timeZone?: string;
  /** `--restore-target`: defaults to `restore_path`. */
  readonly target: string | undefined;
  /** `--restore-merge`: write into a target that is not empty. */
  readonly merge?: boolean;
  /** `--verify`: check what was restored against the snapshot's manifest (restore-verify.ts). */
  readonly verify?: boolean;
  readonly timeoutSeconds: number | undefined;
}

/** What our storage prints when it has pushed a scripted restore. */
export const SCRIPTED_RESTORE_FINISHED = 'Scripted restore finished';
/** What any storage prints when it holds an interactive restore session. */
export const RESTORE_MODE_ACTIVE = 'Restore mode active';
export const UNSUPPORTED_SCRIPTED_RESTORE =
  'The storage does not support scripted restores; use the interactive session (--restore without --restore-source)';
export const UNSUPPORTED_AS_OF =
  'The storage does not support --restore-as-of (an older turku-storage); name the snapshot with --restore-snapshot';
export const UNSUPPORTED_PATH =
  'The storage does not support --restore-path (an older turku-storage); nothing was restored';

/** Time the storage gets to end the session by itself once stdin is closed. */
const INTERACTIVE_GRACE_MS = 10_000;

export async function restore(context: PingContext, options: RestoreOptions): Promise<number> {
  const { settings, sources, io, log } = context;
  const scripted = options.source !== undefined;

  // 1. Check the target (bad input: nothing is written), announce, check the identity, lock
  //    (backups of this machine wait meanwhile).
  const plan = await planRestoreTarget(
    options.target ?? settings.restore_path,
    options.merge ?? false,
    await unfinishedRestoreTargets(settings.var_dir),
  );
  warnIfInsideSource(context, plan.path);
  if (!scripted) io.stdout('Entering restore mode.\n\n');
  const { uuid, secret, apiUrl } = registration(settings);
  const lock = await lockForRun(settings);
  try {
    const api = await sweepAndConnect(context, lock, apiUrl);
    // 2. The sources and their storages.
    const response = await api.post('agent_ping_restore', { machine: { uuid, secret } }, AgentPingRestoreResponse);
    const groups = scripted
      ? scriptedCandidates(
          groupByStorage(response.machine.sources, () => true),
          options.source,
          log,
        )
      : groupByStorage(response.machine.sources, (name) => Object.hasOwn(sources, name));
    if (groups.length === 0) throw new UserError('Cannot find any appropriate sources.');

    // 3. Show where everything is, then pick the storage.
    if (!scripted) io.stdout(storageTreeText(groups));
    const group = chooseStorage(groups, options.storage);

    // 4-6. The writable module, on a staging directory only root can enter (restore-target.ts).
    const target = await prepareRestoreTarget(plan, settings.var_dir);
    try {
      const { code, done, manifest } = await runSession(context, options, { uuid, group, target });
      // Checked in the staging directory, which holds what was pushed and nothing else.
      const verified =
        options.verify === true
          ? await verifyRestored(target.staging, manifest.received(done), options.path)
          : undefined;
      await target.commit();
      io.stdout(
        scripted
          ? restoredText(options, done, `from ${group.storage.name} into ${target.path}`)
          : `Session ended; what the storage pushed is in ${target.path}\n`,
      );
      if (verified !== undefined) {
        io.stdout(verified.text);
        if (!verified.ok) throw new UserError(verified.error ?? 'Verify failed');
      }
      return code;
    } finally {
      await target.discard();
    }
  } finally {
    await lock.release();
  }
}

/** Steps 7-9: the session, and whether it did what was asked (a UserError if not). */
async function runSession(
  context: PingContext,
  options: RestoreOptions,
  chosen: { uuid: string; group: StorageGroup; target: PreparedTarget },
): Promise<{ code: number; done?: RestoreDone | undefined; manifest: ManifestCollector }> {
  const { settings, io, log } = context;
  const { uuid, group, target } = chosen;
  const scripted = options.source !== undefined;
  const modules = (): DaemonModule[] => [
    {
      name: settings.restore_module,
      path: target.staging,
      username: randomUuid(),
      password: randomAlphanumeric(30),
      readOnly: false,
    },
  ];
  const timeout = options.timeoutSeconds === undefined ? undefined : AbortSignal.timeout(options.timeoutSeconds * 1000);
  const stop = timeout === undefined ? io.signal : AbortSignal.any([io.signal, timeout]);

  // Our storage's progress and done lines (restore-progress.ts); other output passes through.
  const printer = new ProgressPrinter(io.stdout, io.isTty === true);
  const manifest = new ManifestCollector();
  const reports = catchRestoreReports(
    (progress) => printer.show(progress),
    (text) => io.stdout(text),
    (chunk) => manifest.push(chunk),
  );
  let attempts = 0;
  const result = await runStorageSession({
    settings,
    storage: group.storage,
    modules,
    request: (port, [module]) =>
      scripted ? scriptedRequest(port, module!, { ...options, source: options.source }) : interactiveRequest(port),
    stdin: scripted ? 'end' : 'hold',
    restore: true,
    stop,
    graceMs: scripted ? 0 : INTERACTIVE_GRACE_MS,
    onReady: (port, [module]) => {
      if (scripted) return;
      if (++attempts > 1) io.stdout('The storage could not use that port; trying another one.\n\n');
      io.stdout(
        restoreInfoText({ settings, uuid, storage: group.storage.name, target: target.path, port, module: module! }),
      );
      io.stdout(`${STAGED_NOTE}\n\n`);
    },
    onStderr: io.stderr,
    onStdout: scripted ? (text) => reports.push(text) : io.stdout,
    log,
  });
  reports.end();
  printer.end();

  if (!scripted) return { code: interactiveOutcome(result, group), manifest };
  if (io.signal.aborted) throw new UserError('Interrupted; the restore was stopped');
  if (timeout?.aborted === true) {
    throw new UserError(`The restore did not finish within ${options.timeoutSeconds} s and was stopped`);
  }
  scriptedOutcome(result, group, options);
  // A storage from before `path` sends no done line and pushes the whole snapshot: not committed.
  if (options.path !== undefined && reports.done === undefined) throw new UserError(UNSUPPORTED_PATH);
  return { code: 0, done: reports.done, manifest };
}

/** The lines that say what was restored: the snapshot chosen, its time and totals when told. */
function restoredText(options: RestoreOptions, done: RestoreDone | undefined, where: string): string {
  const source = options.source ?? '';
  if (done === undefined) return `Restored ${source} (${options.snapshot}) ${where}\n`;
  const part = done.path === null ? '' : ` path ${done.path}`;
  const taken =
    done.time === null ? '' : ` (taken ${formatInZone(new Date(done.time), options.timeZone ?? localTimeZone())})`;
  return (
    `Restored ${source}${part} snapshot ${done.snapshot ?? '(mirror)'}${taken} ${where}\n` +
    `Totals: ${done.files} files, ${done.bytes} bytes in ${done.seconds.toFixed(1)} s\n`
  );
}

/** Printed after the information block: the push lands in a staging directory first. */
export const STAGED_NOTE = 'Pushed files are moved into the destination path when this session ends.';

/** Restoring inside a backed-up source is allowed (it is how one restores in place), but said. */
function warnIfInsideSource(context: PingContext, target: string): void {
  for (const [name, source] of Object.entries(context.sources)) {
    const path = typeof source.path === 'string' ? resolve(source.path) : undefined;
    if (path !== undefined && (target === path || target.startsWith(path.endsWith(sep) ? path : path + sep))) {
      context.log.warning(`Restore target ${target} is inside source ${name} (${path}): its next backup includes it`);
    }
  }
}

/**
 * The storages a scripted restore may ask: the one keeping the source, if the API lists it.
 * The storage has the last word on what it holds, so a source the API no longer lists (an
 * inactive one, say) is asked of the machine's storages all the same; no local copy is needed.
 */
function scriptedCandidates(groups: StorageGroup[], source: string, log: WorkloadLogger): StorageGroup[] {
  const keeping = groups.filter((group) => group.sources.includes(source));
  if (keeping.length > 0) return keeping;
  log.debug(`The API lists no source "${source}" for this machine; asking the storage anyway`);
  return groups;
}

function interactiveRequest(port: number): string {
  return encodeStdinRequest({ verbose: true, action: 'restore', port });
}

/**
 * [NEW] The interactive request plus what the storage needs to push the snapshot by itself. With
 * an as-of time the snapshot is AS_OF_SNAPSHOT, which a storage from before `as_of` refuses.
 */
function scriptedRequest(
  port: number,
  module: DaemonModule,
  options: Pick<RestoreOptions, 'snapshot' | 'asOf' | 'path' | 'verify'> & { source: string },
): string {
  const request: OutgoingStdinRequest = {
    verbose: true,
    action: 'restore',
    port,
    restore: {
      source: options.source,
      snapshot: options.asOf === undefined ? options.snapshot : AS_OF_SNAPSHOT,
      module: module.name,
      username: module.username,
      password: module.password,
      ...(options.asOf === undefined ? {} : { as_of: options.asOf.toISOString() }),
      ...(options.path === undefined ? {} : { path: options.path }),
      progress: true,
      ...(options.verify === true ? { verify: true } : {}),
    },
  };
  return encodeStdinRequest(request);
}

/** An interactive session ends well unless ssh never got one going. */
function interactiveOutcome(result: SessionResult, group: StorageGroup): number {
  if (result.stopped || result.exitCode !== SSH_FAILURE || result.stderr.includes(RESTORE_MODE_ACTIVE)) return 0;
  throw new UserError(sshFailureMessage(group.storage, result.stderr));
}

/** Success only when ssh exited 0 and the storage said it finished; else the storage's reason. */
function scriptedOutcome(result: SessionResult, group: StorageGroup, options: RestoreOptions): void {
  const source = options.source ?? '';
  const lines = result.stderr.split('\n');
  if (result.exitCode === 0 && lines.some((line) => line.includes(SCRIPTED_RESTORE_FINISHED))) return;
  if (lines.some((line) => line.includes(RESTORE_MODE_ACTIVE))) throw new UserError(UNSUPPORTED_SCRIPTED_RESTORE);
  if (options.asOf !== undefined && lines.some((line) => line.includes(`"${AS_OF_SNAPSHOT}" not found`))) {
    throw new UserError(UNSUPPORTED_AS_OF);
  }
  const storageError = lines
    .map((line) => /\] ERROR: (?:Scripted restore failed: )?(.*)$/.exec(line.trim())?.[1])
    .filter((message) => message !== undefined)
    .at(-1);
  if (storageError !== undefined) {
    throw new UserError(`Restoring ${source} from ${group.storage.name} failed: ${storageError}`);
  }
  if (result.exitCode === SSH_FAILURE) throw new UserError(sshFailureMessage(group.storage, result.stderr));
  throw new UserError(
    `Restoring ${source} from ${group.storage.name} failed: the session ended with ` +
      (result.signal !== null ? `signal ${result.signal}` : `exit status ${result.exitCode}`) +
      ' without the storage confirming the restore',
  );
}

// ---- printed output (docs/datapath.md, "Restores")
//   ---------------------------------------------------------------

/** Which storage keeps which sources, and a blank line. */
export function storageTreeText(groups: readonly StorageGroup[]): string {
  let text = "This machine's sources are on the following storage units:\n";
  for (const group of groups) {
    text += `    ${group.storage.name}\n`;
    for (const source of group.sources) text += `        ${source}\n`;
  }
  return `${text}\n`;
}

export interface RestoreInfo {
  readonly settings: Pick<AgentSettings, 'environment_name' | 'service_name' | 'unit_name'>;
  readonly uuid: string;
  readonly storage: string;
  readonly target: string;
  readonly port: number;
  readonly module: Pick<DaemonModule, 'name' | 'username' | 'password'>;
}

/** The information block, ending with a blank line before the storage's own messages. */
export function restoreInfoText(info: RestoreInfo): string {
  const { settings, module } = info;
  const lines = [`Machine UUID: ${info.uuid}`];
  if (settings.environment_name !== undefined) lines.push(`Machine environment: ${settings.environment_name}`);
  if (settings.service_name !== undefined) lines.push(`Machine service: ${settings.service_name}`);
  lines.push(
    `Machine unit: ${settings.unit_name}`,
    `Storage unit: ${info.storage}`,
    `Local destination path: ${info.target}`,
    'Sample restore usage from storage unit:',
    `    cd /var/lib/turku-storage/machines/${info.uuid}/`,
    `    RSYNC_PASSWORD=${module.password} rsync -avzP --numeric-ids \${P?}/ ` +
      `rsync://${module.username}@127.0.0.1:${info.port}/${module.name}/`,
    '',
  );
  return `${lines.join('\n')}\n`;
}
