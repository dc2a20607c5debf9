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

export async function restore(
  ctx: ActionContext<unknown>,
  host: Host,
  params: { source: string; snapshot: string; target?: string | undefined; merge?: boolean },
): Promise<void> {
  const configDir = configuredDir(ctx, host);
  const target = params.target ?? MACHINE_PATHS.restorePath;
  const args = ['--config-dir', configDir, '--restore-source', params.source, '--restore-snapshot', params.snapshot];
  if (params.target !== undefined) args.push('--restore-target', host.path(params.target));
  if (params.merge === true) args.push('--restore-merge');
  await ctx.progress(`Restoring ${params.source} (${params.snapshot}) into ${target}`);
  const result = await host.run(host.workload.command('turku-agent-ping', args), { timeoutMs: RESTORE_LIMIT_MS });
  if (result.exitCode !== 0)
    ctx.fail(`restore of ${params.source} failed: ${programError('turku-agent-ping', result)}`);
  await ctx.setResults({
    source: params.source,
    snapshot: params.snapshot,
    target,
    output: result.stdout.trim().split('\n').at(-1) ?? '',
  });
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
    if (exited !== undefined) ctx.fail(`restore session failed: ${agentError(output)}`);
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
