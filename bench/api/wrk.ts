import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { trackChild } from '../harness/lifecycle.js';
import { type CpuShare, cpuSample, cpuShare } from './cpu.js';
import { systemEnv } from './system-env.js';
import { parseWrkOutput, type WrkSummary, wrkVersion } from './wrk-output.js';

/**
 * The turku-api benchmark's load generator: wrk (Debian's), a process of its own, closed loop over
 * keep-alive connections. A row either GETs one URL (wrk's fixed request, no Lua per request) or
 * POSTs bodies picked at random from a file written beforehand (bench/api/wrk.lua).
 */

/** wrk.lua in the source tree (this module runs from dist/bench/api/; tsc does not copy .lua files). */
const SCRIPT = fileURLToPath(new URL('../../../bench/api/wrk.lua', import.meta.url));
const TIMEOUT_SECONDS = 10;

export interface WrkJob {
  /** the whole URL, path included */
  readonly url: string;
  /** POST one of these bodies (a file, one JSON body a line) per request; GET `url` without */
  readonly bodiesFile?: string;
  readonly connections: number;
  readonly threads: number;
  readonly seconds: number;
  /** seeds each wrk thread's random pick of bodies */
  readonly seed: number;
}

/** The processes whose CPU a row reports beside wrk's own. */
export interface Watched {
  readonly serverPid: number;
  /** the database server's root process (the PostgreSQL postmaster) */
  readonly databasePid?: number;
}

export interface WrkRow extends WrkSummary {
  readonly connections: number;
  readonly threads: number;
  readonly cpu: CpuShare;
}

/** wrk's command line for a job: threads never more than connections (wrk refuses that). */
export function wrkArgs(job: WrkJob): string[] {
  const threads = Math.max(1, Math.min(job.threads, job.connections));
  return [
    ...['-t', String(threads), '-c', String(job.connections), '-d', `${Math.max(1, Math.round(job.seconds))}s`],
    ...['--timeout', `${TIMEOUT_SECONDS}s`, '--latency', '-s', SCRIPT, job.url],
  ];
}

function wrkEnv(job: WrkJob): Record<string, string> {
  if (job.bodiesFile === undefined) return systemEnv();
  return systemEnv({
    TURKU_WRK_BODIES: job.bodiesFile,
    TURKU_WRK_PATH: new URL(job.url).pathname,
    TURKU_WRK_SEED: String(job.seed),
  });
}

function spawnWrk(job: WrkJob): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', wrkArgs(job), { env: wrkEnv(job), stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`wrk failed (${signal ?? `exit code ${String(code)}`}): ${stderr}${stdout.slice(-2000)}`));
    });
  });
}

/** One wrk run, with the CPU each process used from its start to its end. */
export async function runWrk(job: WrkJob, watched: Watched): Promise<WrkRow> {
  const before = cpuSample(watched.serverPid, watched.databasePid);
  const stdout = await spawnWrk(job);
  const after = cpuSample(watched.serverPid, watched.databasePid);
  return {
    connections: job.connections,
    threads: Math.max(1, Math.min(job.threads, job.connections)),
    ...parseWrkOutput(stdout),
    cpu: cpuShare(before, after),
  };
}

/** `wrk --version`'s first line (wrk prints it, with its usage, and exits 1). */
export function installedWrk(): string {
  const result = spawnSync('wrk', ['--version'], { env: systemEnv(), encoding: 'utf8' });
  if (result.error !== undefined)
    throw new Error(`wrk is not installed (scripts/setup installs it): ${result.error.message}`);
  return wrkVersion(`${result.stdout}${result.stderr}`);
}
