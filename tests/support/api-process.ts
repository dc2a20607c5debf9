import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createAuth, type CreatedAuth } from '../../lib/api/admin/commands.js';
import { openDatabase } from '../../lib/api/app.js';
import { contextFromSettings } from '../../lib/api/context.js';
import type { Row } from '../../lib/api/db/database.js';
import { openPostgres } from '../../lib/api/db/postgres.js';
import { openSqlite } from '../../lib/api/db/sqlite.js';
import { memoryLogger } from '../../lib/api/logger.js';
import { parseSettings } from '../../lib/api/settings.js';
import { distPath } from './processes.js';

/**
 * The real `turku-api serve` as a child process on SQLite (built program under dist/, run
 * `npm run build` first), for probes that must see the server from outside: its own event-loop
 * delay (measured inside it by a preloaded monitor, read on SIGUSR2) and the latency of
 * `/v1/health` polled by a third process.
 */

// Preloaded into the API: a histogram of its event-loop delay, written to a file on SIGUSR2 and reset.
// Preloaded into the API. Two measures of how long the event loop was held, written to a file on
// SIGUSR2 and reset: Node's event-loop delay histogram (wall clock, so it also counts the time the
// OS did not run the process, which on a loaded machine is most of it), and the most CPU time the
// main thread spent between two ticks of a 5 ms timer (only the server's own work: a task that
// holds the loop for 80 ms shows as about 80 ms; a process that waits for a core shows as ~0).
const LOOP_MONITOR = `
import { renameSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
if (isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  let sequence = 0;
  let lastCpu = process.threadCpuUsage();
  let maxCpuMs = 0;
  setInterval(() => {
    const cpu = process.threadCpuUsage();
    const spent = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
    if (spent > maxCpuMs) maxCpuMs = spent;
    lastCpu = cpu;
  }, 5).unref();
  process.on('SIGUSR2', () => {
    sequence++;
    const report = {
      sequence,
      maxMs: histogram.max / 1e6,
      p99Ms: histogram.percentile(99) / 1e6,
      maxCpuMs,
      rssBytes: process.memoryUsage().rss,
    };
    writeFileSync(process.env.LOOP_REPORT_FILE + '.tmp', JSON.stringify(report));
    renameSync(process.env.LOOP_REPORT_FILE + '.tmp', process.env.LOOP_REPORT_FILE);
    histogram.reset();
    maxCpuMs = 0;
    lastCpu = process.threadCpuUsage();
  });
}
`;

// Run as a separate process: GETs /v1/health back to back until its stdin closes, then prints the latencies.
const HEALTH_POLLER = `
const url = process.argv[1];
const latencies = [];
let running = true;
process.stdin.on('end', () => { running = false; });
process.stdin.resume();
(async () => {
  while (running) {
    const start = performance.now();
    try { const response = await fetch(url); await response.arrayBuffer(); } catch {}
    latencies.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  process.stdout.write(JSON.stringify(latencies));
})();
`;

export interface LoopReport {
  /** Longest event-loop delay, wall clock (includes time the OS did not run the server). */
  readonly maxMs: number;
  readonly p99Ms: number;
  /** Most main-thread CPU time spent in one turn of the loop: the longest the server held it itself. */
  readonly maxCpuMs: number;
  readonly rssBytes: number;
}

export interface HealthLatencies {
  readonly count: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface ApiProcess {
  readonly url: string;
  readonly dir: string;
  /** The SQLite file (unused on PostgreSQL). */
  readonly databasePath: string;
  readonly machineAuth: CreatedAuth;
  readonly storageAuth: CreatedAuth;
  /** The server's event-loop delay since the last call (or since start), then reset. */
  loopDelay(): Promise<LoopReport>;
  /** Every row of every table, as text: equal dumps mean an unchanged database. */
  dump(): Promise<string>;
  /** Starts polling /v1/health from another process; the result comes when `stop` is called. */
  pollHealth(): { stop(): Promise<HealthLatencies> };
  /** stderr of the server so far. */
  stderr(): string;
  stop(): Promise<void>;
}

const TABLES = ['auths', 'storages', 'machines', 'sources', 'backup_logs', 'filter_sets'];

/**
 * `database`: SQLite (a file in a temp directory) by default, or PostgreSQL at `databaseUrl`
 * (an empty database, e.g. from postgres-server.ts's `createDatabase`).
 */
export async function startApiProcess(
  settings: Record<string, unknown> = {},
  database: { readonly databaseUrl?: string } = {},
): Promise<ApiProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'turku-api-process-'));
  const databasePath = join(dir, 'api.db');
  const where =
    database.databaseUrl === undefined ? { database_path: databasePath } : { database_url: database.databaseUrl };
  const parsed = parseSettings(where);
  const setupDb = await openDatabase(parsed);
  const ctx = contextFromSettings(setupDb, parsed, memoryLogger());
  const machineAuth = await createAuth(ctx, 'machine_reg');
  const storageAuth = await createAuth(ctx, 'storage_reg');
  await setupDb.close();

  const configFile = join(dir, 'api.json');
  await writeFile(configFile, JSON.stringify({ listen: '127.0.0.1:0', ...where, ...settings }));
  const monitor = join(dir, 'loop-monitor.mjs');
  await writeFile(monitor, LOOP_MONITOR);
  const reportFile = join(dir, 'loop-report.json');
  const child = spawn(
    process.execPath,
    ['--import', monitor, distPath('lib/api/main.js'), 'serve', '--config', configFile],
    {
      env: { ...process.env, LOOP_REPORT_FILE: reportFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turku-api did not start: ${stderr}`)), 60_000);
    const look = () => {
      const match = /listening on (http:\/\/\S+\/v1)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        child.stderr.off('data', look);
        resolve(match[1]!);
      }
    };
    child.stderr.on('data', look);
    child.once('exit', (code) => reject(new Error(`turku-api exited with ${code}: ${stderr}`)));
  });

  const reader =
    database.databaseUrl === undefined
      ? openSqlite(databasePath, { readonly: true })
      : openPostgres(database.databaseUrl, { poolSize: 1 });
  let sequence = 0;
  return {
    url,
    dir,
    databasePath,
    machineAuth,
    storageAuth,
    async loopDelay() {
      sequence++;
      child.kill('SIGUSR2');
      for (let waited = 0; waited < 30_000; waited += 20) {
        try {
          const report = JSON.parse(await readFile(reportFile, 'utf8')) as LoopReport & { sequence: number };
          if (report.sequence >= sequence) return report;
        } catch {
          // not written yet
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the API did not report its event-loop delay');
    },
    dump() {
      return reader.transaction(async (tx) => {
        const tables: Record<string, Row[]> = {};
        for (const table of TABLES) tables[table] = await tx.all(`SELECT * FROM ${table} ORDER BY id`);
        return JSON.stringify(tables);
      });
    },
    pollHealth() {
      const poller = spawn(process.execPath, ['-e', HEALTH_POLLER, `${url}/health`], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      poller.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      return {
        async stop() {
          const exited = new Promise((resolve) => poller.once('exit', resolve));
          poller.stdin.end();
          await exited;
          const latencies = (JSON.parse(out) as number[]).sort((a, b) => a - b);
          return {
            count: latencies.length,
            p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0,
            maxMs: latencies.at(-1) ?? 0,
          };
        },
      };
    },
    stderr: () => stderr,
    async stop() {
      await reader.close();
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
