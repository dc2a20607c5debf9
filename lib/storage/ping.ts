import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { createApiClient, type ApiClient } from '../common/api-client.js';
import { errorMessage } from '../common/errors.js';
import { tryLock } from '../common/lock.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { sourceNameProblem } from '../turku/names.js';
import { StoragePingCheckinResponse, type SourceResult } from '../turku/protocol/api.js';
import { SNAPSHOT_MODES, type SnapshotMode, type SourceDescriptor } from '../turku/protocol/descriptor.js';
import { parseStdinRequest, StdinProtocolError, type StdinRequest } from '../turku/protocol/stdin.js';
import type { HeldSlot } from './backup-slots.js';
import { enterBackupSlot } from './busy-answer.js';
import { friendlyName, machineDirectory, NoVolumeError, updateFriendlyLink } from './machine-dir.js';
import { enterScratch, lastActivity, scratchDirectory, type Scratch } from './scratch.js';
import { serveScriptedRestore } from './scripted-restore.js';
import { sessionOutcomes } from './session-outcome.js';
import { postSourceResult } from './source-report.js';
import { answerQuery } from './queries/answer.js';
import { reportLeftovers, SessionJournal, sessionLockName } from './session-journal.js';
import type { StorageSettings } from './settings.js';
import { snapshotSettings } from './snapshot-settings.js';
import { rsyncUrl, runSnapshotMode } from './snapshots/index.js';
import { readFrame, waitForEnd } from './stdin-frame.js';
import { checkTunnelOwner } from './tunnel-owner-check.js';
import type { TunnelHost } from './tunnel-owner.js';
import { machineVolume, spaceWarning, usedPercent } from './volume-check.js';
import { chooseVolume, measureVolumes } from './volumes.js';

/**
 * `turku-storage-ping <uuid>`, the forced command of an agent's SSH login
 *   (docs/datapath.md, "The storage's side of a session"): read the agent's request, then either
 *   hold a restore session or pull every due source through the agent's tunnel, snapshot it and
 *   report the result. The machine is the one named by the forced command, never anything in the
 *   request.
 */

export interface StoragePingOptions {
  /** Canonical UUID from the forced command. */
  readonly uuid: string;
  readonly input: Readable;
  readonly log: WorkloadLogger;
  /** Pause between attempts to report a result (5 s, as the original; tests shorten it). */
  readonly reportRetryDelayMs?: number;
  readonly random?: () => number;
  /** Where the check-in's `turku-result` line goes (the forced command's stdout; none if absent). */
  readonly output?: (text: string) => void;
}

const REPORT_ATTEMPTS = 4;

/** The exit status: 0 when the session went as asked, 1 on any error (including a lost report). */
export async function storagePing(settings: StorageSettings, options: StoragePingOptions): Promise<number> {
  const { uuid, log } = options;
  let request: StdinRequest;
  try {
    request = parseStdinRequest(await readFrame(options.input, { timeoutMs: settings.ping_request_timeout * 1000 }));
  } catch (error) {
    if (!(error instanceof StdinProtocolError)) throw error;
    log.error(error.message);
    return 1;
  }

  const lock = await tryLock(settings.lock_dir, sessionLockName(uuid));
  if (lock === undefined) {
    log.error(`Another session for machine ${uuid} is in progress`);
    return 1;
  }
  let scratch: Scratch | undefined;
  let slot: HeldSlot | undefined;
  try {
    if (request.verbose === true) log.setConsoleLevel('info');
    // A check-in pulls only in one of the storage's backup slots; restores are not bounded.
    if (request.action !== 'restore') {
      const entered = await enterBackupSlot(settings, uuid, options);
      if (typeof entered === 'number') return entered;
      slot = entered;
    }
    // The last sign of life of an earlier session that was killed, read before its scratch files go.
    const previousActivity = await lastActivity(scratchDirectory(settings.var_dir, uuid));
    scratch = await enterScratch(settings.var_dir, uuid);
    if (request.action === 'restore') {
      if (request.query !== undefined) {
        return await answerQuery(settings, { uuid, query: request.query, log, output: options.output });
      }
      if (request.restore !== undefined) {
        const { port, restore } = request;
        return await serveScriptedRestore(settings, { uuid, port, restore, log, output: options.output });
      }
      log.info(`Restore mode active on port ${request.port}.  Good luck.`);
      await waitForEnd(options.input);
      log.info('Restore mode finished');
      return 0;
    }
    return await backUpDueSources(settings, request, options, previousActivity);
  } finally {
    await scratch?.leave();
    await slot?.release();
    await lock.release();
  }
}

async function backUpDueSources(
  settings: StorageSettings,
  request: StdinRequest,
  options: StoragePingOptions,
  previousActivity: Date | undefined,
): Promise<number> {
  const { uuid, log } = options;
  const api = createApiClient({
    url: settings.api_url,
    timeoutSeconds: settings.api_timeout,
    debug: (line) => log.debug(line),
  });
  const storage = { name: settings.name, secret: settings.secret };
  // Started while the API answers: as any account but root it is a program run through sudo, a
  // tenth of a second the pulls would otherwise wait for. Awaited only when something is pulled.
  const tunnelCheck = settings.verify_tunnel_owner
    ? checkTunnelOwner(request.port, settings.tunnel_owner_command)
    : undefined;
  tunnelCheck?.catch(() => undefined); // a failure is the session's when awaited below
  const checkin = await api.post('storage_ping_checkin', { storage, machine: { uuid } }, StoragePingCheckinResponse);
  const machine = checkin.machine;
  const reportToApi = (name: string, result: SourceResult) =>
    reportResult(api, storage, uuid, name, result, log, options.reportRetryDelayMs ?? 5000);
  // After the check-in, so that a failure reported now does not delay this session's pulls.
  const journal = await SessionJournal.open(settings.var_dir, uuid, (problem) => log.warning(problem));
  await reportLeftovers(journal, previousActivity, reportToApi, log);
  const due = Object.entries(machine.scheduled_sources);
  const outcomes = sessionOutcomes(options.output);
  log.info(
    due.length > 0 ? `Sources to back up: ${due.map(([name]) => name).join(', ')}` : 'No sources to back up now',
  );
  for (const name of Object.keys(request.sources ?? {})) {
    if (!Object.hasOwn(machine.scheduled_sources, name)) log.debug(`Ignoring ${name}: offered but not due`);
  }
  if (due.length === 0) {
    log.info('Done');
    return outcomes.finish(0);
  }

  // This session's results also go into the result line for the agent.
  const report = async (name: string, result: SourceResult) =>
    outcomes.add(name, result, await reportToApi(name, result));

  // Needed before the first rsync, so only when some due source was offered.
  const pulls = due.some(([name, descriptor]) => moduleCredentials(request, name, descriptor) !== undefined);
  const tunnel = pulls && tunnelCheck !== undefined ? await tunnelCheck : { host: '127.0.0.1' as const };
  if ('problem' in tunnel) {
    log.error(tunnel.problem);
    for (const [name] of due) await report(name, failure(tunnel.problem));
    return outcomes.finish(1);
  }
  if (tunnel.host === '::1') log.info(`Tunnel on port ${request.port} is on [::1] only; pulling through it there`);

  let allReported = true;
  const friendly = friendlyName([machine.environment_name, machine.service_name, machine.unit_name]);
  for (const [name, descriptor] of due) {
    const timeBegin = Date.now() / 1000;
    const unit = machine.unit_name ?? uuid;
    await journal.pulling(name, timeBegin);
    const tunnelHost = tunnel.host;
    const context = { uuid, unit, name, descriptor, request, tunnelHost, friendly, log, options };
    const result = await backUpSource(settings, context);
    const final = { ...result, time_begin: timeBegin, time_end: Date.now() / 1000 };
    const reported = await report(name, final);
    await (reported ? journal.reported(name) : journal.unreported(name, final));
    allReported = reported && allReported;
  }
  log.info('Done');
  return outcomes.finish(allReported ? 0 : 1);
}

interface SourceContext {
  readonly uuid: string;
  readonly unit: string;
  readonly name: string;
  readonly descriptor: SourceDescriptor;
  readonly request: StdinRequest;
  /** The loopback the agent's tunnel is on (tunnel-owner.ts, TunnelHost). */
  readonly tunnelHost: TunnelHost;
  readonly friendly: string | undefined;
  readonly log: WorkloadLogger;
  readonly options: StoragePingOptions;
}

async function backUpSource(settings: StorageSettings, context: SourceContext): Promise<SourceResult> {
  const { name, descriptor, log } = context;
  const nameProblem = sourceNameProblem(name);
  if (nameProblem !== undefined) return failure(`Invalid source name: ${nameProblem}`);
  const credentials = moduleCredentials(context.request, name, descriptor);
  if (credentials === undefined) {
    const summary = `Skipped ${name}: not offered by the agent in this session`;
    log.warning(summary);
    return { ...failure(summary), skipped: true };
  }
  const mode = effectiveMode(settings.snapshot_mode, descriptor, log);

  let machineDir: string;
  try {
    machineDir = await machineDirectory(settings.var_dir, context.uuid, async () =>
      chooseVolume(await measureVolumes(settings, (problem) => log.error(problem)), context.options.random),
    );
    if (context.friendly !== undefined) await updateFriendlyLink(settings.var_dir, context.friendly, context.uuid);
  } catch (error) {
    if (error instanceof NoVolumeError) return failure(error.message);
    log.error(`Cannot prepare the machine directory: ${errorMessage(error)}`);
    return failure(`Cannot prepare the machine directory: ${errorMessage(error)}`);
  }

  log.info(`Begin: ${context.unit} ${name}`);
  const volume = await machineVolume(settings, machineDir);
  let warning = '';
  const outcome = await runSnapshotMode(mode, {
    machineDir,
    volume: volume.path,
    // After the engine removed what failed runs left: that space counts as free.
    beforePull: async () => {
      warning = spaceWarning(volume, await usedPercent(machineDir).catch(() => 0));
      if (warning !== '') log.warning(warning.trimEnd());
    },
    source: name,
    descriptor,
    remote: {
      url: rsyncUrl(credentials.username, context.tunnelHost, context.request.port, name),
      password: credentials.password,
    },
    settings: snapshotSettings(settings),
    log,
  });
  log.info(`End: ${context.unit} ${name}`);
  return { success: outcome.success, snapshot: outcome.snapshot, summary: withLine(outcome.summary, warning) };
}

/** The summary with one more line (a failure's summary is one line without a line break). */
function withLine(summary: string | null, line: string): string | null {
  if (line === '') return summary;
  if (summary === null || summary === '') return line;
  return `${summary.endsWith('\n') ? summary : `${summary}\n`}${line}`;
}

/** From this session's request; else, for legacy APIs, from the descriptor itself. */
function moduleCredentials(
  request: StdinRequest,
  name: string,
  descriptor: SourceDescriptor,
): { username: string; password: string } | undefined {
  const offered = Object.hasOwn(request.sources ?? {}, name) ? request.sources![name] : undefined;
  if (offered !== undefined && offered.username !== '' && offered.password !== '') return offered;
  const legacy = descriptor as { username?: unknown; password?: unknown };
  if (typeof legacy.username === 'string' && legacy.username !== '' && typeof legacy.password === 'string') {
    if (legacy.password !== '') return { username: legacy.username, password: legacy.password };
  }
  return undefined;
}

/**
 * docs/datapath.md, "The storage's side of a session" step 4: storage default, large files force
 * `none`, the source's own mode wins.
 */
export function effectiveMode(
  storageMode: SnapshotMode,
  descriptor: SourceDescriptor,
  log: Pick<WorkloadLogger, 'warning'>,
): SnapshotMode {
  let mode = storageMode;
  if (mode === 'link-dest' && (descriptor.large_rotating_files || descriptor.large_modifying_files)) mode = 'none';
  const requested = descriptor.snapshot_mode;
  if (requested !== null && requested !== '') {
    if ((SNAPSHOT_MODES as readonly string[]).includes(requested)) return requested as SnapshotMode;
    log.warning(`Unsupported snapshot mode "${requested}"; using the storage default "${storageMode}"`);
    return storageMode;
  }
  return mode;
}

function failure(summary: string): SourceResult {
  const now = Date.now() / 1000;
  return { success: false, snapshot: null, summary, time_begin: now, time_end: now };
}

/** True when the API took the result; retried, since losing it would re-run the backup. */
async function reportResult(
  api: ApiClient,
  storage: { name: string; secret: string },
  uuid: string,
  name: string,
  result: SourceResult,
  log: WorkloadLogger,
  retryDelayMs: number,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await postSourceResult(api, storage, uuid, name, result);
      return true;
    } catch (error) {
      if (attempt >= REPORT_ATTEMPTS) {
        log.error(`Could not report the result of ${name}: ${errorMessage(error)}`);
        return false;
      }
      log.warning(`Reporting ${name} failed (${errorMessage(error)}); retrying`);
      await sleep(retryDelayMs);
    }
  }
}
