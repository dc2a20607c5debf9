import { rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { startPostgres, type PostgresServer } from '../../tests/support/postgres-server.js';
import { atExit, say } from '../harness/lifecycle.js';
import { waitForQuiet } from '../harness/machine.js';
import { postmasterOn } from '../harness/proc.js';
import { median, round } from '../harness/stats.js';
import {
  createAuth,
  registerStorage,
  runLoad,
  type ServerProcess,
  startApiProcess,
  startBareServer,
} from './api-process.js';
import { timeConsoleOverview, type ConsoleOverviewResult } from './console-overview.js';
import { DUE_QUERY, openPostgresBench, openSqliteBench, type BenchDatabase } from './database.js';
import type { RegisterResult } from './load.js';
import { measureMetrics, type MetricsResult } from './metrics-scrape.js';
import { summariseProfile, type ProfileSummary } from './profile.js';
import {
  type BodyFiles,
  measureRow,
  type MeasuredRow,
  type Row,
  rowLine,
  type TripCounter,
  withRatio,
  writeBodyFiles,
} from './rows.js';
import { type ApiSettings, BACKEND_LABEL, type Backend, profileDir } from './settings.js';
import type { Watched } from './wrk.js';

/**
 * One backend's part of the turku-api benchmark: registration, schedule, the bare reference, the
 * issue's rows (health, check-in, unchanged update_config), the check-in sweep, the due-source
 * query, memory, and the CPU profile of the check-in row.
 */

const HOUR_MS = 3_600_000;
const MB = 1_000_000;

export interface DueQueryResult {
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

/** The bare server, measured before and after a backend's rows: the reference every ratio divides by. */
export interface Reference {
  /** GET /v1/health with the rows' connections, before the API's rows */
  readonly before: MeasuredRow;
  /** the same, after them */
  readonly after: MeasuredRow;
  /** the mean of the two: every ratio of this backend's rows divides by it */
  readonly requestsPerSecond: number;
  /** the bare server under the check-in row's POSTs (wrk's Lua pick and the body read included), for comparison */
  readonly checkinBodies: Row;
}

export interface BackendResult {
  readonly backend: Backend;
  readonly databaseVersion: string;
  /** CPU use of the whole machine over 1 s before the backend started, percent of one core */
  readonly backgroundCpuPercent: number;
  readonly registration: RegisterResult & { readonly machines: number; readonly sources: number };
  readonly schedule: { readonly sourcesUpdated: number; readonly seconds: number; readonly note: string };
  readonly reference: Reference;
  /** the rows, at settings.connections */
  readonly rows: {
    readonly health: Row;
    readonly checkin: Row;
    readonly updateConfigUnchanged: Row;
  };
  /** agent_ping_checkin at each of settings.checkinConcurrency */
  readonly concurrency: readonly Row[];
  readonly dueQuery: DueQueryResult;
  /** GET /console (the web console's overview), one at a time, logged in */
  readonly consoleOverview: ConsoleOverviewResult;
  /** GET /metrics with per-source series on and off, after the rows */
  readonly metrics: MetricsResult;
  readonly memory: {
    readonly peakRssMb: number;
    readonly rssAfterRegistrationMb: number;
    readonly rssAtEndMb: number;
  };
  readonly databaseSizeMb: number;
  readonly apiErrorLogLines: number;
  /** The check-in row under --cpu-prof. */
  readonly profile?: ProfileSummary & { readonly connections: number; readonly requestsPerSecond: number };
  /** The unchanged update_config row under --cpu-prof. */
  readonly updateConfigProfile?: BackendResult['profile'];
}

export const SCHEDULE_NOTE =
  'After registration every source’s date_next_backup was set uniformly at random within the next 24 h by one ' +
  'SQL UPDATE against the database (new sources are otherwise all due within 15 minutes), to model a fleet in ' +
  'its steady state. On PostgreSQL a VACUUM ANALYZE followed, as autovacuum would soon do.';

const mb = (bytes: number | undefined) => (bytes === undefined ? Number.NaN : round(bytes / MB, 1));

async function timeDueQuery(settings: ApiSettings, db: BenchDatabase): Promise<DueQueryResult> {
  const now = Date.now() + HOUR_MS;
  await db.dueSources(now); // warm-up
  const times: number[] = [];
  let rows = 0;
  for (let run = 0; run < settings.dueQueryRuns; run++) {
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

type Profile = NonNullable<BackendResult['profile']>;

/** A row profiled: the check-in (`profile`) or the unchanged update_config (`updateConfigProfile`). */
type ProfiledRow = 'checkin' | 'update_config';

/** One row once more, unmeasured, with the API under `node --cpu-prof`; its self time summarised. */
async function profileRow(
  settings: ApiSettings,
  backend: Backend,
  config: string,
  dir: string,
  bodies: BodyFiles,
  postgres: PostgresServer | undefined,
  which: ProfiledRow,
): Promise<Profile | undefined> {
  if (!settings.profile) return undefined;
  const keepIn = profileDir();
  const profiles = join(dir, `cpu-prof-${which}`);
  const api = await startApiProcess(config, ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
  let row: MeasuredRow;
  try {
    const request =
      which === 'checkin' ? checkinRequest(settings, api, bodies, 99) : updateConfigRequest(settings, api, bodies, 98);
    row = await measureRow(settings, request, watchedApi(api, postgres));
  } finally {
    await api.stop();
  }
  const file = (await readdir(profiles)).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('node --cpu-prof wrote no profile');
  if (keepIn !== undefined) {
    const kept = join(keepIn, `api-${backend}-${which}-c${settings.connections}.cpuprofile`);
    await mkdir(keepIn, { recursive: true });
    await copyFile(join(profiles, file), kept);
    say(`  CPU profile kept in ${kept}`);
  }
  return {
    connections: settings.connections,
    requestsPerSecond: row.requestsPerSecond,
    ...(await summariseProfile(join(profiles, file))),
  };
}

/** The PostgreSQL server's postmaster, whose children are the backends (the API's among them). */
function postmasterOf(postgres: PostgresServer | undefined): number | undefined {
  return postgres === undefined ? undefined : postmasterOn(Number(new URL(postgres.url).port));
}

function watchedApi(api: ServerProcess, postgres: PostgresServer | undefined): Watched {
  const databasePid = postmasterOf(postgres);
  return { serverPid: api.pid, ...(databasePid === undefined ? {} : { databasePid }) };
}

function checkinRequest(settings: ApiSettings, api: ServerProcess, bodies: BodyFiles, seed: number, connections = 0) {
  return {
    url: `${api.url}/agent_ping_checkin`,
    bodiesFile: bodies.checkins,
    connections: connections || settings.connections,
    seed,
  };
}

/** update_config of random machines of the fleet, each with the body that registered it (nothing changes). */
function updateConfigRequest(settings: ApiSettings, api: ServerProcess, bodies: BodyFiles, seed: number) {
  return { url: `${api.url}/update_config`, bodiesFile: bodies.updateConfig, connections: settings.connections, seed };
}

function apiConfig(settings: ApiSettings, sqlitePath: string, postgres: PostgresServer | undefined) {
  const database = postgres === undefined ? { database_path: sqlitePath } : { database_url: postgres.url };
  return {
    listen: '127.0.0.1:0',
    ...database,
    database_pool_size: settings.databasePoolSize,
    log_level: settings.logLevel,
  };
}

/** The API's settings file: a database in `dir` or the PostgreSQL server, and the benchmark's pool and log level. */
async function writeApiConfig(
  settings: ApiSettings,
  dir: string,
  sqlitePath: string,
  postgres: PostgresServer | undefined,
): Promise<string> {
  const config = join(dir, 'turku-api.json');
  await writeFile(config, JSON.stringify(apiConfig(settings, sqlitePath, postgres)));
  return config;
}

/** The bare server's rows: GET before the API's rows (then after them, by the caller), and the check-in POSTs. */
async function bareRows(settings: ApiSettings, bare: ServerProcess, bodies: BodyFiles) {
  const watched = { serverPid: bare.pid };
  const get = { url: `${bare.url}/v1/health`, connections: settings.connections, seed: 1 };
  const before = await measureRow(settings, get, watched);
  say(rowLine('bare server GET', before));
  const checkinBodies = await measureRow(
    settings,
    {
      url: `${bare.url}/v1/agent_ping_checkin`,
      bodiesFile: bodies.checkins,
      connections: settings.connections,
      seed: 2,
    },
    watched,
  );
  say(rowLine('bare server, check-in POSTs', checkinBodies));
  return { before, checkinBodies, after: () => measureRow(settings, get, watched) };
}

/** The rows and the check-in sweep, against the running API. */
async function apiRows(
  settings: ApiSettings,
  api: ServerProcess,
  bodies: BodyFiles,
  postgres: PostgresServer | undefined,
  counter: TripCounter | undefined,
) {
  const watched = watchedApi(api, postgres);
  const health = await measureRow(
    settings,
    { url: `${api.url}/health`, connections: settings.connections, seed: 3 },
    watched,
    counter,
  );
  say(rowLine('/v1/health', health));
  const checkin = await measureRow(settings, checkinRequest(settings, api, bodies, 4), watched, counter);
  say(rowLine('agent_ping_checkin', checkin));
  const updateConfigUnchanged = await measureRow(
    settings,
    updateConfigRequest(settings, api, bodies, 5),
    watched,
    counter,
  );
  say(rowLine('update_config, unchanged', updateConfigUnchanged));
  const concurrency: MeasuredRow[] = [];
  for (const [i, connections] of settings.checkinConcurrency.entries()) {
    const row = await measureRow(settings, checkinRequest(settings, api, bodies, 10 + i, connections), watched);
    say(rowLine('agent_ping_checkin (sweep)', row));
    concurrency.push(row);
  }
  return { health, checkin, updateConfigUnchanged, concurrency };
}

export async function benchBackend(settings: ApiSettings, backend: Backend): Promise<BackendResult> {
  const label = BACKEND_LABEL[backend];
  const dir = await mkdtemp(join(os.tmpdir(), 'turku-bench-api-'));
  const forgetDir = atExit(() => rmSync(dir, { recursive: true, force: true }));
  let postgres: PostgresServer | undefined;
  let api: ServerProcess | undefined;
  let bare: ServerProcess | undefined;
  let db: BenchDatabase | undefined;
  try {
    const backgroundCpu = await waitForQuiet({
      percent: 25,
      waitSeconds: settings.quietSeconds,
      firstSampleSeconds: 1,
      indent: '  ',
    });
    say(
      `\n== ${label}: ${settings.machines} machines × ${settings.sourcesPerMachine} sources ` +
        `(machine ${backgroundCpu}% busy before start)`,
    );
    const sqlitePath = join(dir, 'turku-api.db');
    if (backend === 'postgres') postgres = await startPostgres();
    const config = await writeApiConfig(settings, dir, sqlitePath, postgres);
    const machineAuth = await createAuth(config, 'machine_reg', 'bench-machines');
    const storageAuth = await createAuth(config, 'storage_reg', 'bench-storages');
    api = await startApiProcess(config);
    say(`  turku-api pid ${api.pid} on ${api.url}`);
    await registerStorage(api.url, storageAuth);

    const registered = await runLoad({
      kind: 'register',
      url: api.url,
      seed: settings.seed,
      from: 0,
      count: settings.machines,
      concurrency: settings.registerConcurrency,
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
    if (counts.machines !== settings.machines || counts.sources !== settings.machines * settings.sourcesPerMachine) {
      throw new Error(`registration stored ${counts.machines} machines and ${counts.sources} sources`);
    }
    const spreadStart = performance.now();
    const sourcesUpdated = await db.spreadSchedule(Date.now(), settings.scheduleSpreadHours * HOUR_MS);
    const schedule = { sourcesUpdated, seconds: round((performance.now() - spreadStart) / 1000), note: SCHEDULE_NOTE };
    say(`  schedule: ${sourcesUpdated} sources spread over the next 24 h in ${schedule.seconds} s (one UPDATE)`);

    const bodies = await writeBodyFiles(dir, settings, machineAuth);
    bare = await startBareServer();
    const bareMeasured = await bareRows(settings, bare, bodies);
    const counter = postgres === undefined ? undefined : { db, port: Number(new URL(postgres.url).port) };
    const measured = await apiRows(settings, api, bodies, postgres, counter);
    const bareAfter = await bareMeasured.after();
    say(rowLine('bare server GET (after)', bareAfter));
    await bare.stop();
    bare = undefined;
    const reference = Math.round((bareMeasured.before.requestsPerSecond + bareAfter.requestsPerSecond) / 2);

    const metrics = await measureMetrics(api, apiConfig(settings, sqlitePath, postgres), dir, settings.metricsRuns);
    const dueQuery = await timeDueQuery(settings, db);
    say(`  due-source query: median ${dueQuery.medianMs} ms (${dueQuery.rows} rows of ${dueQuery.dueSources} due)`);
    const consoleOverview = await timeConsoleOverview(config, api.url, settings.dueQueryRuns);
    say(
      `  console overview: median ${consoleOverview.medianMs} ms, p90 ${consoleOverview.p90Ms} ms ` +
        `(${consoleOverview.runs} runs, ${consoleOverview.pageBytes} bytes)`,
    );
    const databaseSizeMb = mb(await db.sizeBytes());
    await db.close();
    db = undefined;

    const end = api.memory();
    const apiErrorLogLines = api.errorLines();
    await api.stop();
    api = undefined;
    say(`  API RSS: peak ${mb(end?.peakRss)} MB, at end ${mb(end?.rss)} MB`);

    const profile = await profileRow(settings, backend, config, dir, bodies, postgres, 'checkin');
    if (profile !== undefined) say(`  profiled check-ins: ${profile.requestsPerSecond}/s under --cpu-prof`);
    const updateConfigProfile = await profileRow(settings, backend, config, dir, bodies, postgres, 'update_config');
    if (updateConfigProfile !== undefined)
      say(`  profiled unchanged update_config: ${updateConfigProfile.requestsPerSecond}/s under --cpu-prof`);

    return {
      backend,
      databaseVersion,
      backgroundCpuPercent: backgroundCpu,
      registration: { ...registered, machines: counts.machines, sources: counts.sources },
      schedule,
      reference: {
        before: bareMeasured.before,
        after: bareAfter,
        requestsPerSecond: reference,
        checkinBodies: withRatio(bareMeasured.checkinBodies, reference),
      },
      rows: {
        health: withRatio(measured.health, reference),
        checkin: withRatio(measured.checkin, reference),
        updateConfigUnchanged: withRatio(measured.updateConfigUnchanged, reference),
      },
      concurrency: measured.concurrency.map((row) => withRatio(row, reference)),
      dueQuery,
      consoleOverview,
      metrics,
      memory: {
        peakRssMb: mb(end?.peakRss),
        rssAfterRegistrationMb: mb(afterRegistration?.rss),
        rssAtEndMb: mb(end?.rss),
      },
      databaseSizeMb,
      apiErrorLogLines,
      ...(profile === undefined ? {} : { profile }),
      ...(updateConfigProfile === undefined ? {} : { updateConfigProfile }),
    };
  } finally {
    await db?.close();
    await bare?.stop();
    await api?.stop();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    forgetDir();
  }
}
