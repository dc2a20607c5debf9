// The charm's actions: each runs the real turku-agent-ping (lib/agent/ping.ts USAGE) or reads
// the agent's own configuration, on the machine of the unit the action runs on.
import { spawn } from 'node:child_process';
import { existsSync, closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { type ActionContext, listingResults } from '../../../lib/charm/index.js';
import type { Host } from '../../../lib/charm-host/index.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';
import { mergedSources, programError } from './agent-workload.js';
import { JUJU_CONFIG_FILE, MACHINE_PATHS } from './config-files.js';
import { readRecords, sourceBackup } from './last-backup.js';

/** A scripted restore may move a lot of data: the action waits this long at most. */
const RESTORE_LIMIT_MS = 24 * 3_600_000;
/** How long restore-session waits for the storage to hold the session open. */
export const SESSION_START_LIMIT_MS = 60_000;
/** Machine paths of a detached restore session; the pid file lets the next session or an operator stop it. */
export const SESSION_LOG = '/var/log/turku-agent/restore-session.log';
export const SESSION_PID = '/run/turku-agent-restore-session.pid';
/** What a storage prints once it holds an interactive session (lib/agent/restore.ts, not imported: bundle size). */
export const RESTORE_MODE_ACTIVE = 'Restore mode active';

const NOT_CONFIGURED =
  'the agent is not configured yet: relate it to turku-api, or set api-url, registration-name and registration-secret';

/** The agent's config dir, or the action fails when the charm has not configured the agent. */
export function configuredDir(ctx: Pick<ActionContext<unknown>, 'fail'>, host: Host): string {
  const configDir = host.path(MACHINE_PATHS.configDir);
  if (!existsSync(join(configDir, 'config.d', JUJU_CONFIG_FILE))) ctx.fail(NOT_CONFIGURED);
  return configDir;
}

/** turku-agent-ping's own one-line error (its last `turku-agent-ping: ...` line), else the first output line. */
export function agentError(output: string): string {
  const lines = output.split('\n').map((line) => line.trim());
  const own = lines.filter((line) => line.startsWith('turku-agent-ping: ')).at(-1);
  return own?.slice('turku-agent-ping: '.length) ?? lines.find((line) => line !== '') ?? 'no output';
}

export interface RestoreParams {
  source: string;
  snapshot?: string | undefined;
  'as-of'?: string | undefined;
  path?: string | undefined;
  target?: string | undefined;
  merge?: boolean;
  verify?: boolean;
}

export async function restore(ctx: ActionContext<unknown>, host: Host, params: RestoreParams): Promise<void> {
  const configDir = configuredDir(ctx, host);
  if (params['as-of'] !== undefined && params.snapshot !== undefined) ctx.fail('give snapshot or as-of, not both');
  const target = params.target ?? MACHINE_PATHS.restorePath;
  const args = ['--config-dir', configDir, '--restore-source', params.source, ...restoreChoiceArgs(params)];
  if (params.target !== undefined) args.push('--restore-target', host.path(params.target));
  if (params.merge === true) args.push('--restore-merge');
  if (params.verify === true) args.push('--verify');
  const asked = params['as-of'] === undefined ? (params.snapshot ?? 'latest') : `as of ${params['as-of']}`;
  await ctx.progress(`Restoring ${params.source} (${asked}) into ${target}`);
  // The agent's plain progress lines (every 5 s at most) go on to action-log as they come.
  const progress = progressRelay((line) => void ctx.progress(line));
  const result = await host.run(host.workload.command('turku-agent-ping', args), {
    timeoutMs: RESTORE_LIMIT_MS,
    onStdout: progress,
  });
  const verify = params.verify === true ? verifyResult(result.stdout) : undefined;
  if (result.exitCode !== 0) {
    // The verdict and the problems it found, beside the one-line reason.
    if (verify !== undefined) await ctx.setResults({ verify });
    ctx.fail(`restore of ${params.source} failed: ${programError('turku-agent-ping', result)}`);
  }
  await ctx.setResults({
    source: params.source,
    snapshot: params.snapshot ?? 'latest',
    target,
    ...restoredResults(result.stdout),
    ...(verify === undefined ? {} : { verify }),
    output: result.stdout.trim().split('\n').at(-1) ?? '',
  });
}

function restoreChoiceArgs(params: RestoreParams): string[] {
  const args: string[] = [];
  if (params['as-of'] !== undefined) args.push('--restore-as-of', params['as-of']);
  else if (params.snapshot !== undefined) args.push('--restore-snapshot', params.snapshot);
  if (params.path !== undefined) args.push('--restore-path', params.path);
  return args;
}

/** The start of the agent's progress lines (lib/agent/restore-progress.ts; not imported: bundle size). */
export const PROGRESS_LINE_START = 'Restoring: ';

/** Passes each whole progress line of the agent's stdout to `log`. */
export function progressRelay(log: (line: string) => void): (chunk: string) => void {
  let held = '';
  return (chunk) => {
    held += chunk;
    const lines = held.split('\n');
    held = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith(PROGRESS_LINE_START)) log(line);
  };
}

/**
 * What the agent says it restored (lib/agent/restore.ts, restoredText): the snapshot chosen, when
 * it was taken, the part, and the totals; nothing from a storage that does not say.
 */
export function restoredResults(stdout: string): Record<string, string> {
  const results: Record<string, string> = {};
  const restored = /^Restored \S+(?: path (.+?))? snapshot (\S+)(?: \(taken ([^)]+)\))? from /m.exec(stdout);
  if (restored !== null) {
    if (restored[1] !== undefined) results.path = restored[1];
    results.snapshot = restored[2]!;
    if (restored[3] !== undefined) results['snapshot-time'] = restored[3];
  }
  const totals = /^Totals: (\d+) files, (\d+) bytes in ([\d.]+) s$/m.exec(stdout);
  if (totals !== null) {
    results.files = totals[1]!;
    results.bytes = totals[2]!;
    results.seconds = totals[3]!;
  }
  return results;
}

/** The agent's verify lines (lib/agent/restore-verify.ts): its verdict and the problems listed after it. */
export function verifyResult(stdout: string): string | undefined {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => /^(Verified against |Verify found |Not verified: )/.test(line));
  return start === -1 ? undefined : lines.slice(start).join('\n').trim();
}

/** The lines of the information block the agent prints once the storage holds the session. */
export function sessionInfo(output: string): Record<string, string> | undefined {
  const command = /^\s*(RSYNC_PASSWORD=\S+ rsync .*)$/m.exec(output)?.[1];
  if (command === undefined) return undefined;
  const field = (label: string) => new RegExp(`^${label}: (.*)$`, 'm').exec(output)?.[1] ?? '';
  return {
    command,
    cd: /^\s*(cd \S+)$/m.exec(output)?.[1] ?? '',
    'machine-uuid': field('Machine UUID'),
    storage: field('Storage unit'),
    target: field('Local destination path'),
  };
}

/** The pid of a restore session still running, from its pid file. */
async function openSession(host: Host): Promise<number | undefined> {
  const pid = Number((await readFile(host.path(SESSION_PID), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export async function restoreSession(
  ctx: ActionContext<unknown>,
  host: Host,
  params: { timeout: number; merge?: boolean },
): Promise<void> {
  const configDir = configuredDir(ctx, host);
  const running = await openSession(host);
  // One at a time (the agent's lock says so too); its pid file must keep naming it.
  if (running !== undefined) ctx.fail(`a restore session is already open (pid ${running}); it ends at its timeout`);
  const log = host.path(SESSION_LOG);
  await mkdir(dirname(log), { recursive: true });
  await rm(log, { force: true });
  // The log shows the session's rsync password: root only.
  const out = openSync(log, 'w', 0o600);
  const argv = host.workload.command('turku-agent-ping', [
    '--config-dir',
    configDir,
    '--restore',
    '--restore-timeout',
    String(params.timeout),
    ...(params.merge === true ? ['--restore-merge'] : []),
  ]);
  let exited: number | undefined;
  let pid: number | undefined;
  try {
    // Detached (own session): it outlives the action and ends by itself after `timeout`.
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out] });
    child.on('exit', (code, signal) => (exited = code ?? (signal === null ? 1 : 128)));
    child.on('error', () => (exited = 127));
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(out);
  }
  if (pid === undefined) ctx.fail('cannot start turku-agent-ping');
  await mkdir(dirname(host.path(SESSION_PID)), { recursive: true });
  await writeFileAtomic(host.path(SESSION_PID), `${pid}\n`);
  const expires = new Date(Date.now() + params.timeout * 1000).toISOString();

  const deadline = Date.now() + SESSION_START_LIMIT_MS;
  for (;;) {
    const output = await readFile(log, 'utf8').catch(() => '');
    const info = sessionInfo(output);
    // Open once the storage says it holds the session (the agent prints its block before ssh runs).
    if (info !== undefined && output.includes(RESTORE_MODE_ACTIVE)) {
      await ctx.setResults({ ...info, expires, pid: String(pid), log: SESSION_LOG });
      return;
    }
    if (exited !== undefined) {
      // Read again: the agent may have written its reason after the read above, then exited.
      const complete = await readFile(log, 'utf8').catch(() => output);
      ctx.fail(`restore session failed: ${agentError(complete)}`);
    }
    if (Date.now() > deadline) {
      stop(pid);
      ctx.fail(`restore session did not start within ${SESSION_START_LIMIT_MS / 1000} s: ${agentError(output)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function stop(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

export async function listSources(ctx: ActionContext<unknown>, host: Host): Promise<void> {
  const configDir = configuredDir(ctx, host);
  let sources;
  try {
    sources = await mergedSources(configDir);
  } catch (error) {
    ctx.fail(`cannot read the sources: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Each source with what the agent recorded of its sessions (null: none yet, or unreadable).
  const records = await readRecords(host.path(MACHINE_PATHS.varDir));
  const listed = Object.fromEntries(
    Object.entries(sources).map(([name, source]) => [name, { ...source, ...sourceBackup(records, name) }]),
  );
  // Source names are free text, not action-result keys: the map goes out as JSON. A machine with
  // many sources gets the first ones inline and the whole map in a file (action-set's argv limit).
  const results = await listingResults(ctx.juju, {
    key: 'sources',
    listing: listed,
    dir: host.path(MACHINE_PATHS.actionResults),
  });
  await ctx.setResults({ count: String(Object.keys(sources).length), ...results });
}
