import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';

import { loadAgentConfig } from '../common/config-files.js';
import { errorMessage, UsageError, UserError } from '../common/errors.js';
import { parseSeconds } from '../common/wait.js';
import { randomAlphanumeric, randomUuid } from '../common/random.js';
import { tryLock } from '../common/lock.js';
import { AgentPingCheckinResponse } from '../turku/protocol/agent-ping.js';
import { normaliseRestorePath, restorePathProblem } from '../turku/restore-path.js';
import type { OutgoingStdinRequest } from '../turku/protocol/stdin.js';
import { stdinFrame } from '../turku/protocol/stdin-encode.js';
import { consoleLogger, DEFAULT_CONFIG_DIR, parseFlags, randomWait, reportFailure, type AgentIo } from './cli.js';
import { goNoGo } from './gonogo.js';
import { groupByStorage, type StorageGroup } from './groups.js';
import { recordSession } from './last-backups.js';
import { sweepAndConnect, type PingContext } from './ping-context.js';
import type { RestoreOptions } from './restore.js';
import { QUERY_OPTIONS, QUERY_USAGE, queryFromFlags } from './queries-cli.js';
import { moduleProblem, type DaemonModule } from './rsyncd.js';
import { runStorageSession } from './session.js';
import { busyRetryState, retryDecision, rotatingPortChooser, waitToRetry } from './busy-retry.js';
import { catchResultLines, sourceOutcomes, type SourceOutcome } from './source-outcomes.js';
import { parseAgentSettings, sshKeyPath } from './settings.js';
import { SSH_FAILURE, sshFailureMessage } from './ssh.js';

/**
 * turku-agent-ping (docs/datapath.md, "A backup, step by step", "Programs" and "Restores"): asks
 * the API what is due and lets each storage pull it through a reverse tunnel; with --restore, opens
 * a restore session instead.
 */

export const PROGRAM = 'turku-agent-ping';
export const LOCK_NAME = 'turku-agent-ping';

export const USAGE = `Usage: ${PROGRAM} [options]

Checks in with the Turku API and lets the storage back up the sources that are due.

  -c, --config-dir DIR         configuration directory (default ${DEFAULT_CONFIG_DIR})
  -w, --wait SECONDS           first sleep a random time between 0 and SECONDS
      --gonogo-program "CMD"   run CMD first and skip this check-in unless it exits 0
      --debug                  log API requests (secrets redacted), responses and commands

Restore (the storage pushes files into the restore directory of this machine):
      --restore                open an interactive restore session (until Ctrl-C)
      --restore-storage NAME   the storage to use when sources are on several
      --restore-source NAME    scripted: restore this source by itself, then exit
      --restore-snapshot NAME  scripted: the snapshot to restore (default latest)
      --restore-as-of TIME     scripted: the newest snapshot taken at or before TIME (ISO
                               8601, without a zone in this machine's local time; or
                               relative: 'yesterday 14:00', '2 hours ago')
      --restore-path PATH      scripted: only this file or directory of the snapshot (relative
                               to the source), restored under the same relative path
      --restore-target DIR     where files land (default: restore_path); must be missing
                               or empty
      --restore-merge          restore into a target that is not empty (files the snapshot
                               has replace the target's; other entries stay)
      --restore-timeout SEC    end the session after SEC seconds (default: no limit)
      --verify                 scripted: check the restored files against the snapshot's
                               manifest (link-dest snapshots); exit 1 on any difference

${QUERY_USAGE}

Exit status: 0 on success, nothing due or not configured yet; 1 when a source failed (one
line each on stderr) and on API, SSH or restore errors (one line on stderr); 2 on bad flags or
an unusable --restore-target (not empty without --restore-merge, a symlink, not a directory).`;

const OPTIONS = {
  'config-dir': { type: 'string', short: 'c', default: DEFAULT_CONFIG_DIR },
  wait: { type: 'string', short: 'w' },
  debug: { type: 'boolean', default: false },
  'gonogo-program': { type: 'string' },
  restore: { type: 'boolean', default: false },
  'restore-storage': { type: 'string' },
  'restore-source': { type: 'string' },
  'restore-snapshot': { type: 'string' },
  'restore-as-of': { type: 'string' },
  'restore-path': { type: 'string' },
  'restore-target': { type: 'string' },
  'restore-merge': { type: 'boolean', default: false },
  'restore-timeout': { type: 'string' },
  verify: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  ...QUERY_OPTIONS,
} as const;

export async function runAgentPing(argv: readonly string[], io: AgentIo): Promise<number> {
  let debug = argv.includes('--debug');
  try {
    const { values } = parseFlags(argv, OPTIONS);
    debug = values.debug;
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    const restoreOptions: RestoreOptions = {
      storage: values['restore-storage'],
      source: values['restore-source'],
      snapshot: values['restore-snapshot'] ?? 'latest',
      ...(await scriptedRestoreChoice(values)),
      target: values['restore-target'],
      merge: values['restore-merge'],
      verify: values.verify,
      timeoutSeconds: parseSeconds('--restore-timeout', values['restore-timeout']),
    };
    const restoring = values.restore || restoreOptions.source !== undefined;
    if (values.verify && restoreOptions.source === undefined) throw new UsageError('--verify needs --restore-source');
    const query = queryFromFlags(values);
    const log = consoleLogger(PROGRAM, debug, io);
    await randomWait(parseSeconds('--wait', values.wait), io, log);

    const loaded = await loadAgentConfig(values['config-dir']);
    for (const warning of loaded.warnings) log.warning(warning);
    const settings = parseAgentSettings(loaded.config, { hostname: io.hostname() });
    const context: PingContext = { settings, sources: loaded.sources, io, log };

    // Loaded only here: a check-in pays neither for the answers' schemas nor for the time zone
    // rules (Temporal) that restores use.
    if (query !== undefined) return await (await import('./queries.js')).runQuery(context, query);
    if (restoring) return await (await import('./restore.js')).restore(context, restoreOptions);
    return await checkIn(context, values['gonogo-program'] ?? settings.gonogo_program);
  } catch (error) {
    return reportFailure(PROGRAM, error, io, debug);
  }
}

/** `--restore-as-of` and `--restore-path`, checked; both need `--restore-source`. */
async function scriptedRestoreChoice(values: {
  'restore-source'?: string | undefined;
  'restore-snapshot'?: string | undefined;
  'restore-as-of'?: string | undefined;
  'restore-path'?: string | undefined;
}): Promise<Pick<RestoreOptions, 'asOf' | 'path' | 'timeZone'>> {
  const asOfText = values['restore-as-of'];
  const pathText = values['restore-path'];
  if (values['restore-source'] === undefined && asOfText === undefined && pathText === undefined) return {};
  if ((asOfText !== undefined || pathText !== undefined) && values['restore-source'] === undefined) {
    throw new UsageError('--restore-as-of and --restore-path need --restore-source');
  }
  if (asOfText !== undefined && values['restore-snapshot'] !== undefined) {
    throw new UsageError('Give --restore-snapshot or --restore-as-of, not both');
  }
  const { localTimeZone, parseAsOf } = await import('../turku/as-of.js');
  const choice: { asOf?: Date; path?: string; timeZone: string } = { timeZone: localTimeZone() };
  if (asOfText !== undefined) {
    try {
      choice.asOf = parseAsOf(asOfText, choice.timeZone);
    } catch (error) {
      throw new UsageError(`--restore-as-of: ${errorMessage(error)}`);
    }
  }
  if (pathText !== undefined) {
    const path = normaliseRestorePath(pathText);
    const problem = restorePathProblem(path);
    if (problem !== undefined) throw new UsageError(`--restore-path "${pathText}": ${problem}`);
    choice.path = path;
  }
  return choice;
}

/** The check-in (docs/datapath.md, "A backup, step by step"). */
async function checkIn(context: PingContext, gonogo: string | readonly string[] | null): Promise<number> {
  const { settings, sources, io, log } = context;

  // 1. Silent pre-checks: not registered yet, or switched off.
  const { machine_uuid: uuid, machine_secret: secret, api_url: apiUrl } = settings;
  if (uuid === undefined || secret === undefined || apiUrl === undefined) {
    log.debug('Not registered yet (machine_uuid, machine_secret or api_url is missing); nothing to do');
    return 0;
  }
  if (!existsSync(`${sshKeyPath(settings)}.pub`)) {
    log.debug(`No SSH key at ${sshKeyPath(settings)} yet; nothing to do`);
    return 0;
  }
  if (settings.published === false) {
    log.debug('This machine is unpublished (published: false); nothing to do');
    return 0;
  }

  // 2. Go/no-go.
  if (!(await goNoGo(gonogo, log))) return 0;

  // 3. Lock; a running check-in or restore means there is nothing to do now.
  await mkdir(settings.lock_dir, { recursive: true });
  const lock = await tryLock(settings.lock_dir, LOCK_NAME);
  if (lock === undefined) {
    log.info(`Another ${PROGRAM} (check-in or restore) is running; skipping this check-in`);
    return 0;
  }
  try {
    // What a killed earlier run left goes first, even when nothing is due.
    const api = await sweepAndConnect(context, lock, apiUrl);

    // 4. Ask what is due; keep what this machine has, grouped by storage.
    const response = await api.post('agent_ping_checkin', { machine: { uuid, secret } }, AgentPingCheckinResponse);
    const groups = groupByStorage(response.machine.scheduled_sources, (name) => Object.hasOwn(sources, name));
    if (groups.length === 0) {
      log.debug('Nothing is due');
      return 0;
    }

    // 5. One session per storage, one after the other.
    let failures = 0;
    for (const group of groups) {
      if (io.signal.aborted) break;
      if (!(await backUpGroup(context, group))) failures++;
    }
    if (io.signal.aborted) throw new UserError('Interrupted; the backup session was stopped');
    return failures === 0 ? 0 : 1;
  } finally {
    await lock.release();
  }
}

/** One storage's session; false when some offered source failed or the session could not take place. */
async function backUpGroup(context: PingContext, group: StorageGroup): Promise<boolean> {
  const { settings, sources, io, log } = context;
  const { storage } = group;
  const offered: { name: string; path: string }[] = [];
  for (const name of group.sources) {
    const path = String(sources[name]?.path);
    const problem = moduleProblem({ name, path });
    if (problem === undefined) offered.push({ name, path });
    else log.error(`Not offering source "${name}": ${problem}`);
  }
  if (offered.length === 0) return false;
  log.info(`Offering ${offered.map((source) => source.name).join(', ')} to storage ${storage.name}`);

  const time = new Date().toISOString();
  const session = await offerToStorage(context, group, offered);
  const outcomes =
    session.outcomes ??
    Object.fromEntries(offered.map(({ name }) => [name, { outcome: 'failed', reason: session.problem } as const]));
  for (const [name, { outcome, reason, unreported }] of Object.entries(outcomes)) {
    // A session that could not take place was already said in one line.
    if (outcome === 'failed' && session.outcomes !== undefined) {
      io.stderr(`${PROGRAM}: Storage ${storage.name}: source ${name} failed: ${reason}\n`);
    } else if (unreported === true) {
      io.stderr(`${PROGRAM}: Storage ${storage.name}: source ${name} was backed up, but the API was not told\n`);
    } else if (outcome === 'unknown') {
      log.debug(`Storage ${storage.name}: outcome of ${name} unknown: ${reason}`);
    }
  }
  try {
    await recordSession(settings.var_dir, { time, storage: storage.name }, outcomes);
  } catch (error) {
    // A record is for the operator's status; the backup itself does not depend on it.
    log.warning(`Cannot record the session in ${settings.var_dir}: ${errorMessage(error)}`);
  }
  return Object.values(outcomes).every(({ outcome, unreported }) => outcome !== 'failed' && unreported !== true);
}

/** Each offered source's outcome; or, when the session could not take place, why (already said). */
type OfferResult =
  | { readonly outcomes: Record<string, SourceOutcome>; readonly problem?: undefined }
  | { readonly outcomes?: undefined; readonly problem: string };

/**
 * Runs the session and learns each source's outcome from the storage's result line, or from how
 * the session ended when there is none (source-outcomes.ts); a busy storage's session is opened
 * again when it suggests, while the run's `storage_busy_wait` lasts (busy-retry.ts).
 */
async function offerToStorage(
  context: PingContext,
  group: StorageGroup,
  offered: readonly { name: string; path: string }[],
): Promise<OfferResult> {
  const { settings, io, log } = context;
  const { storage } = group;
  const retries = busyRetryState(settings.storage_busy_wait);
  const choosePort = rotatingPortChooser(storage, settings.tunnel_ports, log);
  const started = Date.now();
  for (;;) {
    const results = catchResultLines(io.stdout);
    let result;
    try {
      result = await runStorageSession({
        settings,
        storage,
        modules: () =>
          offered.map(({ name, path }): DaemonModule => ({
            name,
            path,
            username: randomUuid(),
            password: randomAlphanumeric(30),
            readOnly: true,
          })),
        request: (port, modules) =>
          // stdin.ts's type only: its schemas are the storage's, not built by a check-in.
          stdinFrame({
            verbose: true,
            action: 'checkin',
            port,
            sources: Object.fromEntries(
              modules.map((module) => [module.name, { username: module.username, password: module.password }]),
            ),
          } satisfies OutgoingStdinRequest),
        stdin: 'hold',
        stop: io.signal,
        onStderr: io.stderr,
        onStdout: (text) => results.push(text),
        log,
        choosePort,
      });
    } catch (error) {
      // The daemon could not start, ssh could not run...: tell, and go on with the next storage.
      if (!(error instanceof UserError)) throw error;
      if (io.signal.aborted) return { problem: 'interrupted before the session started' };
      io.stderr(`${PROGRAM}: Storage ${storage.name}: ${error.message}\n`);
      return { problem: error.message };
    }
    results.end();
    if (results.result === undefined) {
      const retry = retryDecision(retries, result, results.busy);
      if (retry !== undefined) {
        log.info(`Storage ${storage.name} ${retry.reason}; trying again in ${retry.waitSeconds.toFixed(1)} s`);
        if (await waitToRetry(retry.waitSeconds, io.signal)) continue;
        return { problem: 'interrupted before the session started' };
      }
      if (results.busy !== undefined) {
        const waited = Math.round((Date.now() - started) / 1000);
        const problem =
          `Storage ${storage.name} is still busy after ${waited} s (storage_busy_wait ${settings.storage_busy_wait} s); ` +
          'the sources stay due for the next check-in';
        io.stderr(`${PROGRAM}: ${problem}\n`);
        return { problem };
      }
    }
    if (results.result === undefined && result.exitCode === SSH_FAILURE && !result.stopped) {
      const problem = sshFailureMessage(storage, result.stderr);
      io.stderr(`${PROGRAM}: ${problem}\n`);
      return { problem };
    }
    return {
      outcomes: sourceOutcomes(
        offered.map(({ name }) => name),
        result,
        results.result,
      ),
    };
  }
}
