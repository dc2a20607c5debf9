// The running API on this unit: its settings file, schema, supervised `turku-api serve`, port, and
// whether it answers. Everything here is idempotent; charm.ts decides whether the unit serves.
import { mkdir, readFile, rm, stat, chmod } from 'node:fs/promises';

import type { HookTools } from '../../../lib/charm/index.js';
import { ensureService, serviceLogFile, stopService, type Host } from '../../../lib/charm-host/index.js';
import { SERVE_NODE_OPTIONS } from '../../../lib/api/serve-node-options.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';
import { ApiProgram } from './api-program.js';
import { CONFIG_DIR, CONFIG_FILE, DATA_DIR, localHealthUrl, type SettingsFile } from './config-files.js';

export const SERVICE_NAME = 'turku-api';

/** The settings file, written only when it changed (its mode kept right: it may hold a password). */
async function writeSettings(host: Host, file: SettingsFile): Promise<boolean> {
  const path = host.path(CONFIG_FILE);
  await mkdir(host.path(CONFIG_DIR), { recursive: true });
  await mkdir(host.path(DATA_DIR), { recursive: true, mode: 0o750 });
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== file.text) {
    await writeFileAtomic(path, file.text, { mode: file.mode });
    return true;
  }
  if (((await stat(path)).mode & 0o777) !== file.mode) await chmod(path, file.mode);
  return false;
}

/** Size and time of the program file: an upgraded charm brings a new one, and the service restarts. */
async function workloadStamp(host: Host): Promise<string> {
  const file = host.workload.file('turku-api');
  const info = await stat(file).catch(() => undefined);
  return `${file} ${info?.size ?? 0} ${info?.mtimeMs ?? 0}`;
}

/**
 * Writes the settings and (re)starts `turku-api serve` when they or the program changed. Every
 * turku-api command migrates the database when it opens it; the explicit migrate when the
 * settings or the program changed makes a database problem fail this hook with its own line.
 */
export async function serveApi(
  host: Host,
  file: SettingsFile,
  /**
   * Runs on a new or changed database before the service answers from it: the credentials
   * agents already hold must be there first (a switch to PostgreSQL would otherwise answer them
   * 403 until the hook got to them).
   */
  prepareDatabase: (program: ApiProgram) => Promise<void> = () => Promise.resolve(),
): Promise<ApiProgram> {
  const changed = await writeSettings(host, file);
  const program = new ApiProgram(host, host.path(CONFIG_FILE));
  const fingerprint = `${file.text}\n${await workloadStamp(host)}`;
  const stampFile = host.path(`${DATA_DIR}/.charm-migrated`);
  if (changed || (await readFile(stampFile, 'utf8').catch(() => '')) !== fingerprint) {
    await program.migrate();
    await prepareDatabase(program);
    await writeFileAtomic(stampFile, fingerprint, { mode: 0o600 });
  }
  await ensureService(host, {
    name: SERVICE_NAME,
    description: 'Turku API',
    argv: host.workload.command('turku-api', ['serve', '--config', host.path(CONFIG_FILE)], SERVE_NODE_OPTIONS),
    fingerprint,
  });
  return program;
}

/**
 * A unit that must not serve (another unit serves, or the database is not ready): no process, no
 * settings file (so the actions refuse here instead of reading a stale local database).
 */
export async function stopServing(host: Host): Promise<void> {
  await stopService(host, SERVICE_NAME);
  await rm(host.path(CONFIG_FILE), { force: true });
}

/** The program for actions; undefined when this unit does not serve. */
export async function servingProgram(host: Host): Promise<ApiProgram | undefined> {
  const path = host.path(CONFIG_FILE);
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  return exists ? new ApiProgram(host, path) : undefined;
}

/**
 * Exactly `port`/tcp open (open-port commits with the hook, docs/charm-runtime.md "Hook tools";
 * close the old one on a change).
 */
export async function openOnly(tools: HookTools, port: number | undefined): Promise<void> {
  const wanted = port === undefined ? undefined : `${port}/tcp`;
  const opened = await tools.openedPorts();
  for (const entry of opened) if (/^\d+\/tcp$/.test(entry) && entry !== wanted) await tools.closePort(entry);
  if (wanted !== undefined && !opened.includes(wanted)) await tools.openPort(wanted);
}

export interface ApiHealth {
  readonly healthy: boolean;
  readonly counts: Record<string, number>;
}

/** GET /v1/health on this unit, retried while a just-started process comes up. */
export async function apiHealth(port: number, waitMs = 10_000): Promise<ApiHealth | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const response = await fetch(localHealthUrl(port), { signal: AbortSignal.timeout(2000) });
      if (response.ok) return (await response.json()) as ApiHealth;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function logFileHint(host: Host): string {
  return serviceLogFile(host, SERVICE_NAME);
}
