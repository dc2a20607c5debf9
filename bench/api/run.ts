import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startPostgres, type PostgresServer } from '../../tests/support/postgres-server.js';
import { DUE_QUERY, openPostgresBench, openSqliteBench, sqliteVersion, type BenchDatabase } from './database.js';
import { SOURCES, SOURCES_PER_MACHINE, storageBody, type RegistrationAuth } from './fleet.js';
import type { CheckinJob, CheckinResult, RegisterJob, RegisterResult } from './load.js';
import { machineCpuSeconds, memoryOf, postmasterOn, type Memory } from './proc.js';
import { summariseProfile, type ProfileSummary } from './profile.js';
import { median, round } from './stats.js';

/**
 * The turku-api benchmark (`npm run bench:api`). For each backend (SQLite in a temp directory,
 * then a throwaway PostgreSQL cluster) it runs the real `turku-api serve` as a child process and
 * drives it from a separate load-generator process (load.ts):
 *
 * 1. registers one storage and BENCH_MACHINES machines × 3 sources through `update_config`;
 * 2. spreads every source's next backup uniformly over the next 24 h with one SQL UPDATE (new
 *    sources are all due within 15 minutes; a fleet in its steady state is not);
 * 3. drives `agent_ping_checkin` over random machines at rising concurrency;
 * 4. times the fleet-wide due-source query directly against the database;
 * 5. reads the API's peak and final RSS; then, unmeasured, profiles one more check-in level with
 *    `node --cpu-prof` and summarises the self time.
 *
 * Environment (for smoke runs): BENCH_MACHINES, BENCH_LEVEL_SECONDS, BENCH_WARMUP_SECONDS,
 * BENCH_CONCURRENCY (e.g. "1,8,32"), BENCH_REGISTER_CONCURRENCY, BENCH_BACKENDS ("sqlite,postgres"),
 * BENCH_PG_POOL_SIZE, BENCH_PROFILE_CONCURRENCY (0: no profile), BENCH_PROFILE_DIR (keep the raw
 * .cpuprofile files there), BENCH_OUTPUT (file name in bench/results/, default api.json).
 * Results: bench/results/api.json.
 */

type Backend = 'sqlite' | 'postgres';
const BACKEND_LABEL: Record<Backend, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === '' ? undefined : value;
}

function numberEnv(name: string, fallback: number, { integer = true, min = 1 } = {}): number {
  const text = env(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${text}"`);
  }
  return value;
}

function listEnv<T extends string>(name: string, fallback: readonly T[], allowed?: readonly T[]): T[] {
  const text = env(name);
  if (text === undefined) return [...fallback];
  const values = text.split(',').map((value) => value.trim()) as T[];
  for (const value of values) {
    if (allowed !== undefined && !allowed.includes(value)) {
      throw new Error(`${name}: expected some of ${allowed.join(', ')}, got "${value}"`);
    }
  }
  return values;
}

const SETTINGS = {
  machines: numberEnv('BENCH_MACHINES', 100_000),
  sourcesPerMachine: SOURCES_PER_MACHINE,
  sources: SOURCES,
  registerConcurrency: numberEnv('BENCH_REGISTER_CONCURRENCY', 32),
  checkinConcurrency: listEnv('BENCH_CONCURRENCY', ['1', '8', '32', '64', '128']).map((level) => {
    const value = Number(level);
    if (!Number.isInteger(value) || value < 1) throw new Error(`BENCH_CONCURRENCY: bad level "${level}"`);
    return value;
  }),
  levelSeconds: numberEnv('BENCH_LEVEL_SECONDS', 9, { integer: false }),
  warmupSeconds: numberEnv('BENCH_WARMUP_SECONDS', 2, { integer: false, min: 0 }),
  backends: listEnv<Backend>('BENCH_BACKENDS', ['sqlite', 'postgres'], ['sqlite', 'postgres']),
  databasePoolSize: numberEnv('BENCH_PG_POOL_SIZE', 10),
  profileConcurrency: numberEnv('BENCH_PROFILE_CONCURRENCY', 32, { min: 0 }),
  dueQueryRuns: 20,
  dueQueryHorizon: '+1 h',
  scheduleSpreadHours: 24,
  logLevel: 'info',
  seed: env('BENCH_SEED') ?? 'turku-bench-api',
};
const OUTPUT = env('BENCH_OUTPUT') ?? 'api.json';
/** Where to keep the raw .cpuprofile files (for Chrome DevTools); by default they go with the temp dir. */
const PROFILE_DIR = env('BENCH_PROFILE_DIR');
if (!/^api[\w.-]*\.json$/.test(OUTPUT)) throw new Error(`BENCH_OUTPUT: expected api*.json, got "${OUTPUT}"`);

const HOUR_MS = 3_600_000;
const API_MAIN = fileURLToPath(new URL('../../lib/api/main.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
const MB = 1_000_000;

const QUIET_PERCENT = 25;
const QUIET_WAIT_SECONDS = 60;
/** A level during which the rest of the machine used more than this (percent of one core) is flagged. */
const DISTURBED_PERCENT = 25;

const TARGET_CHECKINS_PER_SECOND = 3000;
const TARGET_P99_MS = 25;
const TARGET_PEAK_RSS_MB = 300;

// ---- child processes, and cleaning up after them however we exit ----------------------------

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ApiProcess {
  readonly pid: number;
  readonly url: string;
  memory(): Memory | undefined;
  /** log lines at ERROR level so far (a 500 logs one) */
  errorLines(): number;
  stop(): Promise<void>;
}

/** `turku-api serve --config FILE`, once it says it is listening. */
async function startApiProcess(config: string, nodeArgs: readonly string[] = []): Promise<ApiProcess> {
  const child = spawn(process.execPath, [...nodeArgs, API_MAIN, 'serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(signal ?? `exit code ${String(code)}`);
    }),
  );
  let tail = '';
  let partial = '';
  let errors = 0;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turku-api did not start within 60 s:\n${tail}`)), 60_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-8192);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes(' ERROR ')) {
          errors++;
          if (errors <= 3) say(`  turku-api: ${line.slice(0, 400)}`);
        }
        const listening = /turku-api listening on (\S+)/.exec(line);
        if (listening !== null) {
          clearTimeout(timer);
          resolve(listening[1]!);
        }
      }
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`turku-api exited (${status}) before it listened:\n${tail}`));
    });
  });
  const pid = child.pid!;
  let stopping: Promise<void> | undefined;
  return {
    pid,
    url,
    memory: () => memoryOf(pid),
    errorLines: () => errors,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const status = await Promise.race([exited, delay(30_000).then(() => undefined)]);
        if (status === undefined) {
          child.kill('SIGKILL');
          await exited;
        }
      })()),
  };
}

async function createAuth(
  config: string,
  type: 'machine_reg' | 'storage_reg',
  name: string,
): Promise<RegistrationAuth> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    ...[API_MAIN, 'auth-create', type, '--name', name, '--raw', '--config', config],
  ]);
  return { name, secret: stdout.trim() };
}

async function registerStorage(url: string, auth: RegistrationAuth): Promise<void> {
  const response = await fetch(`${url}/storage_update_config`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: storageBody(auth),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`storage_update_config: ${response.status} ${text}`);
}

function runLoad(job: RegisterJob): Promise<RegisterResult>;
function runLoad(job: CheckinJob): Promise<CheckinResult>;
function runLoad(job: RegisterJob | CheckinJob): Promise<RegisterResult | CheckinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      if (code !== 0) reject(new Error(`load generator failed (${signal ?? `exit code ${String(code)}`})`));
      else resolve(JSON.parse(stdout) as RegisterResult | CheckinResult);
    });
  });
}

// ---- one backend ----------------------------------------------------------------------------

interface DueQueryResult {
  readonly sql: string;
  readonly now: string;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly rows: number;
  readonly dueSources: number;
  readonly plan: readonly string[];
}

type LevelResult = CheckinResult & {
  /** CPU the rest of the machine used in the window (kernel, other work), percent of one core */
  readonly otherCpuPercent: number;
  readonly disturbed: boolean;
};

interface BackendResult {
  readonly backend: Backend;
  readonly databaseVersion: string;
  /** CPU use of the whole machine over 1 s before the backend started, percent of one core */
  readonly backgroundCpuPercent: number;
  readonly registration: RegisterResult & { readonly machines: number; readonly sources: number };
  readonly schedule: { readonly sourcesUpdated: number; readonly seconds: number; readonly note: string };
  readonly checkins: readonly LevelResult[];
  readonly dueQuery: DueQueryResult;
  readonly memory: {
    readonly peakRssMb: number;
    readonly rssAfterRegistrationMb: number;
    readonly rssAtEndMb: number;
  };
  readonly databaseSizeMb: number;
  readonly apiErrorLogLines: number;
  readonly profile?: ProfileSummary & { readonly concurrency: number; readonly requestsPerSecond: number };
}

const SCHEDULE_NOTE =
  'After registration every source’s date_next_backup was set uniformly at random within the next 24 h by one ' +
  'SQL UPDATE against the database (new sources are otherwise all due within 15 minutes), to model a fleet in ' +
  'its steady state. On PostgreSQL a VACUUM ANALYZE followed, as autovacuum would soon do.';

const mb = (bytes: number | undefined) => (bytes === undefined ? Number.NaN : round(bytes / MB, 1));

async function timeDueQuery(db: BenchDatabase): Promise<DueQueryResult> {
  const now = Date.now() + HOUR_MS;
  await db.dueSources(now); // warm-up
  const times: number[] = [];
  let rows = 0;
  for (let run = 0; run < SETTINGS.dueQueryRuns; run++) {
    const start = performance.now();
    rows = await db.dueSources(now);
    times.push(performance.now() - start);
  }
  return {
    sql: DUE_QUERY,
    now: new Date(now).toISOString(),
    runs: times.length,
    medianMs: round(median(times)),
    minMs: round(Math.min(...times)),
    maxMs: round(Math.max(...times)),
    rows,
    dueSources: await db.dueCount(now),
    plan: await db.plan(now),
  };
}

async function profileLevel(
  backend: Backend,
  config: string,
  dir: string,
  postgres: PostgresServer | undefined,
): Promise<(ProfileSummary & { concurrency: number; requestsPerSecond: number }) | undefined> {
  if (SETTINGS.profileConcurrency === 0) return undefined;
  const profiles = join(dir, 'cpu-prof');
  const api = await startApiProcess(config, ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
  let result: CheckinResult;
  try {
    await waitForQuiet();
    result = await runLoad(checkinJob(api, SETTINGS.profileConcurrency, 99, postmasterOf(postgres)));
  } finally {
    await api.stop();
  }
  const file = (await readdir(profiles)).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('node --cpu-prof wrote no profile');
  if (PROFILE_DIR !== undefined) {
    const kept = join(PROFILE_DIR, `api-${backend}-c${SETTINGS.profileConcurrency}.cpuprofile`);
    await mkdir(PROFILE_DIR, { recursive: true });
    await copyFile(join(profiles, file), kept);
    say(`  CPU profile kept in ${kept}`);
  }
  return {
    concurrency: SETTINGS.profileConcurrency,
    requestsPerSecond: result.requestsPerSecond,
    ...(await summariseProfile(join(profiles, file))),
  };
}

/** The PostgreSQL server's postmaster, whose children are the backends (the API's among them). */
function postmasterOf(postgres: PostgresServer | undefined): number | undefined {
  return postgres === undefined ? undefined : postmasterOn(Number(new URL(postgres.url).port));
}

/** How busy the whole machine is over `seconds`, in percent of one core. */
async function machineBusyPercent(seconds: number): Promise<number> {
  const before = machineCpuSeconds().busy;
  await delay(seconds * 1000);
  return Math.round(((machineCpuSeconds().busy - before) / seconds) * 100);
}

/**
 * Other work on the machine (another build, a test run) skews every figure: before a measurement,
 * wait up to QUIET_WAIT_SECONDS for a second in which the machine is nearly idle. Returns the
 * last reading.
 */
async function waitForQuiet(): Promise<number> {
  const deadline = Date.now() + QUIET_WAIT_SECONDS * 1000;
  let busy = await machineBusyPercent(1);
  while (busy > QUIET_PERCENT && Date.now() < deadline) {
    busy = await machineBusyPercent(1);
  }
  if (busy > QUIET_PERCENT) say(`  (machine still ${busy}% busy with other work after ${QUIET_WAIT_SECONDS} s)`);
  return busy;
}

function checkinJob(
  api: ApiProcess,
  concurrency: number,
  randomSeed: number,
  databasePid: number | undefined,
): CheckinJob {
  return {
    kind: 'checkin',
    url: api.url,
    seed: SETTINGS.seed,
    machines: SETTINGS.machines,
    concurrency,
    warmupSeconds: SETTINGS.warmupSeconds,
    seconds: SETTINGS.levelSeconds,
    apiPid: api.pid,
    ...(databasePid === undefined ? {} : { databasePid }),
    randomSeed,
  };
}

async function benchBackend(backend: Backend): Promise<BackendResult> {
  const label = BACKEND_LABEL[backend];
  const dir = await mkdtemp(join(os.tmpdir(), 'turku-bench-api-'));
  tempDirs.add(dir);
  let postgres: PostgresServer | undefined;
  let api: ApiProcess | undefined;
  let db: BenchDatabase | undefined;
  try {
    const backgroundCpu = await waitForQuiet();
    say(
      `\n== ${label}: ${SETTINGS.machines} machines × ${SETTINGS.sourcesPerMachine} sources ` +
        `(machine ${backgroundCpu}% busy before start)`,
    );
    const sqlitePath = join(dir, 'turku-api.db');
    let database: Record<string, string>;
    if (backend === 'postgres') {
      postgres = await startPostgres();
      database = { database_url: postgres.url };
    } else {
      database = { database_path: sqlitePath };
    }
    const config = join(dir, 'turku-api.json');
    await writeFile(
      config,
      JSON.stringify({
        listen: '127.0.0.1:0',
        ...database,
        database_pool_size: SETTINGS.databasePoolSize,
        log_level: SETTINGS.logLevel,
      }),
    );
    const machineAuth = await createAuth(config, 'machine_reg', 'bench-machines');
    const storageAuth = await createAuth(config, 'storage_reg', 'bench-storages');
    api = await startApiProcess(config);
    say(`  turku-api pid ${api.pid} on ${api.url}`);
    await registerStorage(api.url, storageAuth);

    const registered = await runLoad({
      kind: 'register',
      url: api.url,
      seed: SETTINGS.seed,
      from: 0,
      count: SETTINGS.machines,
      concurrency: SETTINGS.registerConcurrency,
      auth: machineAuth,
    });
    const afterRegistration = api.memory();
    say(
      `  update_config: ${registered.requests} in ${registered.seconds} s = ${registered.requestsPerSecond}/s, ` +
        `p50 ${registered.p50Ms} ms, p99 ${registered.p99Ms} ms, errors ${registered.errors}`,
    );

    db = backend === 'postgres' ? await openPostgresBench(postgres!.url) : openSqliteBench(sqlitePath);
    const databaseVersion = db.version;
    const counts = await db.counts();
    if (counts.machines !== SETTINGS.machines || counts.sources !== SETTINGS.machines * SETTINGS.sourcesPerMachine) {
      throw new Error(`registration stored ${counts.machines} machines and ${counts.sources} sources`);
    }
    const spreadStart = performance.now();
    const sourcesUpdated = await db.spreadSchedule(Date.now(), SETTINGS.scheduleSpreadHours * HOUR_MS);
    const schedule = { sourcesUpdated, seconds: round((performance.now() - spreadStart) / 1000), note: SCHEDULE_NOTE };
    say(`  schedule: ${sourcesUpdated} sources spread over the next 24 h in ${schedule.seconds} s (one UPDATE)`);

    const checkins: LevelResult[] = [];
    for (const [i, concurrency] of SETTINGS.checkinConcurrency.entries()) {
      await waitForQuiet();
      const result = await runLoad(checkinJob(api, concurrency, i + 1, postmasterOf(postgres)));
      const otherCpuPercent = otherCpu(result);
      checkins.push({ ...result, otherCpuPercent, disturbed: otherCpuPercent > DISTURBED_PERCENT });
      say(
        `  agent_ping_checkin c=${String(concurrency).padStart(3)}: ${String(result.requestsPerSecond).padStart(6)}/s ` +
          `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms, errors ${result.errors}, ` +
          `CPU api ${result.cpu.apiPercent}% load ${result.cpu.loadGeneratorPercent}% db ${result.cpu.databasePercent}% ` +
          `machine ${result.cpu.machinePercent}%`,
      );
    }

    const dueQuery = await timeDueQuery(db);
    say(`  due-source query: median ${dueQuery.medianMs} ms (${dueQuery.rows} rows of ${dueQuery.dueSources} due)`);
    const databaseSizeMb = mb(await db.sizeBytes());
    await db.close();
    db = undefined;

    const end = api.memory();
    const apiErrorLogLines = api.errorLines();
    await api.stop();
    api = undefined;
    say(`  API RSS: peak ${mb(end?.peakRss)} MB, at end ${mb(end?.rss)} MB`);

    const profile = await profileLevel(backend, config, dir, postgres);
    if (profile !== undefined) {
      say(`  profiled c=${profile.concurrency}: ${profile.requestsPerSecond}/s under --cpu-prof`);
    }

    return {
      backend,
      databaseVersion,
      backgroundCpuPercent: backgroundCpu,
      registration: { ...registered, machines: counts.machines, sources: counts.sources },
      schedule,
      checkins,
      dueQuery,
      memory: {
        peakRssMb: mb(end?.peakRss),
        rssAfterRegistrationMb: mb(afterRegistration?.rss),
        rssAtEndMb: mb(end?.rss),
      },
      databaseSizeMb,
      apiErrorLogLines,
      ...(profile === undefined ? {} : { profile }),
    };
  } finally {
    await db?.close();
    await api?.stop();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    tempDirs.delete(dir);
  }
}

// ---- targets and report ---------------------------------------------------------------------

interface Target {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

function targets(results: readonly BackendResult[]): Target[] {
  const found: Target[] = [];
  const sqlite = results.find((result) => result.backend === 'sqlite');
  if (sqlite !== undefined) {
    const meeting = sqlite.checkins.filter(
      (level) =>
        level.requestsPerSecond >= TARGET_CHECKINS_PER_SECOND && level.p99Ms <= TARGET_P99_MS && level.errors === 0,
    );
    const best = [...(meeting.length > 0 ? meeting : sqlite.checkins)].sort(
      (a, b) => b.requestsPerSecond - a.requestsPerSecond,
    )[0];
    found.push({
      target: `SQLite ≥ ${TARGET_CHECKINS_PER_SECOND} check-ins/s with p99 ≤ ${TARGET_P99_MS} ms at some concurrency`,
      measured:
        best === undefined
          ? 'no levels run'
          : `${meeting.length > 0 ? 'best meeting it' : 'best level'}: ${best.requestsPerSecond}/s at c=${best.concurrency}, p99 ${best.p99Ms} ms`,
      pass: meeting.length > 0,
    });
  }
  for (const result of results) {
    found.push({
      target: `${BACKEND_LABEL[result.backend]}: API peak RSS < ${TARGET_PEAK_RSS_MB} MB`,
      measured: `${result.memory.peakRssMb} MB`,
      pass: result.memory.peakRssMb < TARGET_PEAK_RSS_MB,
    });
  }
  const errors = results.reduce(
    (sum, result) =>
      sum +
      result.registration.errors +
      result.apiErrorLogLines +
      result.checkins.reduce((levels, level) => levels + level.errors, 0),
    0,
  );
  found.push({ target: 'no failed requests and no API error logs', measured: `${errors}`, pass: errors === 0 });
  return found;
}

function otherCpu(level: CheckinResult): number {
  const { machinePercent, apiPercent, loadGeneratorPercent, databasePercent } = level.cpu;
  return machinePercent - apiPercent - loadGeneratorPercent - databasePercent;
}

function report(results: readonly BackendResult[], checks: readonly Target[]): void {
  const pad = (value: string | number, width: number) => String(value).padStart(width);
  for (const result of results) {
    const r = result.registration;
    say(
      `\n${BACKEND_LABEL[result.backend]} ${result.databaseVersion}: ${r.machines} machines, ${r.sources} sources ` +
        `(machine ${result.backgroundCpuPercent}% busy before start)`,
    );
    say(
      `  update_config  c=${r.concurrency}: ${r.requestsPerSecond}/s over ${r.seconds} s; ` +
        `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms; errors ${r.errors}`,
    );
    say(`  schedule spread: ${result.schedule.sourcesUpdated} sources in ${result.schedule.seconds} s`);
    say(
      `  ${'conc'.padStart(5)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ` +
        `${'max ms'.padStart(7)} ${'errors'.padStart(6)} ${'due'.padStart(5)} ${'api%'.padStart(5)} ` +
        `${'load%'.padStart(5)} ${'db%'.padStart(5)} ${'other%'.padStart(6)}`,
    );
    for (const level of result.checkins) {
      say(
        `  ${pad(level.concurrency, 5)} ${pad(level.requestsPerSecond, 7)} ${pad(level.p50Ms, 7)} ${pad(level.p99Ms, 7)} ` +
          `${pad(level.maxMs, 7)} ${pad(level.errors, 6)} ${pad(level.withDueSources, 5)} ${pad(level.cpu.apiPercent, 5)} ` +
          `${pad(level.cpu.loadGeneratorPercent, 5)} ${pad(level.cpu.databasePercent, 5)} ${pad(level.otherCpuPercent, 6)}` +
          (level.disturbed ? '  (disturbed)' : ''),
      );
    }
    const due = result.dueQuery;
    say(
      `  due-source query (now ${SETTINGS.dueQueryHorizon}, LIMIT 1000): median ${due.medianMs} ms ` +
        `(min ${due.minMs}, max ${due.maxMs}) over ${due.runs} runs; ${due.rows} rows, ${due.dueSources} due in all`,
    );
    say(
      `  API RSS: peak ${result.memory.peakRssMb} MB, after registration ${result.memory.rssAfterRegistrationMb} MB, ` +
        `at end ${result.memory.rssAtEndMb} MB; database ${result.databaseSizeMb} MB`,
    );
    if (result.profile !== undefined) {
      const profile = result.profile;
      say(
        `  profile (c=${profile.concurrency}, ${profile.requestsPerSecond}/s under --cpu-prof; ` +
          `share of ${profile.busyMs} ms busy): ` +
          profile.areas
            .slice(0, 8)
            .map((area) => `${area.name} ${area.percent}%`)
            .join(', '),
      );
      for (const fn of profile.topFunctions.slice(0, 10)) say(`    ${pad(fn.percent, 5)}%  ${fn.name}`);
    }
  }
  say(`\n${SCHEDULE_NOTE}`);
  say('Columns: due = answers that scheduled a source; api% load% db% = CPU of the API, the load generator and');
  say('PostgreSQL, other% = the rest of the machine (kernel, anything else running), in percent of one core');
  say(`(${os.cpus().length} cores here), over the measured window; (disturbed): other% > ${DISTURBED_PERCENT}.\n`);
  for (const check of checks) say(`${check.pass ? 'PASS' : 'FAIL'}  ${check.target}: ${check.measured}`);
}

// ---- main -----------------------------------------------------------------------------------

const results: BackendResult[] = [];
const failures: { backend: Backend; error: string }[] = [];
for (const backend of SETTINGS.backends) {
  try {
    results.push(await benchBackend(backend));
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    say(`  ${BACKEND_LABEL[backend]} failed: ${message}`);
    failures.push({ backend, error: message });
  }
}

const checks = targets(results);
const cpus = os.cpus();
const output = {
  date: new Date().toISOString(),
  node: process.version,
  machine: {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemoryGb: round(os.totalmem() / 1e9, 1),
    sqlite: sqliteVersion(),
    postgresql: results.find((result) => result.backend === 'postgres')?.databaseVersion ?? null,
  },
  settings: { ...SETTINGS, dueQuery: DUE_QUERY },
  results,
  failures,
  targets: checks,
};
await mkdir(RESULTS, { recursive: true });
await writeFile(join(RESULTS, OUTPUT), `${JSON.stringify(output, null, 2)}\n`);
report(results, checks);
say(`\nResults: bench/results/${OUTPUT}`);
if (failures.length > 0 || !checks[checks.length - 1]!.pass) process.exitCode = 1;
