import { rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { startPostgres, type PostgresServer } from '../../tests/support/postgres-server.js';
import { atExit, say } from '../harness/lifecycle.js';
import { type QuietOptions, waitForQuiet } from '../harness/machine.js';
import { postmasterOn } from '../harness/proc.js';
import { median, round } from '../harness/stats.js';
import { type ApiProcess, createAuth, registerStorage, runLoad, startApiProcess } from './api-process.js';
import { DUE_QUERY, openPostgresBench, openSqliteBench, type BenchDatabase } from './database.js';
import type { CheckinJob, CheckinResult, RegisterResult } from './load.js';
import { summariseProfile, type ProfileSummary } from './profile.js';
import { type ApiSettings, BACKEND_LABEL, type Backend, profileDir } from './settings.js';

/** One backend's part of the turku-api benchmark: registration, schedule, check-in levels, due-source query, memory, profile. */

const HOUR_MS = 3_600_000;
const MB = 1_000_000;
export /** A level during which the rest of the machine used more than this (percent of one core) is flagged. */
const DISTURBED_PERCENT = 25;

const QUIET: QuietOptions = { percent: 25, waitSeconds: 60, firstSampleSeconds: 1, indent: '  ' };

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

export type LevelResult = CheckinResult & {
  /** CPU the rest of the machine used in the window (kernel, other work), percent of one core */
  readonly otherCpuPercent: number;
  readonly disturbed: boolean;
};

export interface BackendResult {
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

async function profileLevel(
  settings: ApiSettings,
  backend: Backend,
  config: string,
  dir: string,
  postgres: PostgresServer | undefined,
): Promise<(ProfileSummary & { concurrency: number; requestsPerSecond: number }) | undefined> {
  if (settings.profileConcurrency === 0) return undefined;
  const keepIn = profileDir();
  const profiles = join(dir, 'cpu-prof');
  const api = await startApiProcess(config, ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
  let result: CheckinResult;
  try {
    await waitForQuiet(QUIET);
    result = await runLoad(checkinJob(settings, api, settings.profileConcurrency, 99, postmasterOf(postgres)));
  } finally {
    await api.stop();
  }
  const file = (await readdir(profiles)).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('node --cpu-prof wrote no profile');
  if (keepIn !== undefined) {
    const kept = join(keepIn, `api-${backend}-c${settings.profileConcurrency}.cpuprofile`);
    await mkdir(keepIn, { recursive: true });
    await copyFile(join(profiles, file), kept);
    say(`  CPU profile kept in ${kept}`);
  }
  return {
    concurrency: settings.profileConcurrency,
    requestsPerSecond: result.requestsPerSecond,
    ...(await summariseProfile(join(profiles, file))),
  };
}

/** The PostgreSQL server's postmaster, whose children are the backends (the API's among them). */
function postmasterOf(postgres: PostgresServer | undefined): number | undefined {
  return postgres === undefined ? undefined : postmasterOn(Number(new URL(postgres.url).port));
}

function checkinJob(
  settings: ApiSettings,
  api: ApiProcess,
  concurrency: number,
  randomSeed: number,
  databasePid: number | undefined,
): CheckinJob {
  return {
    kind: 'checkin',
    url: api.url,
    seed: settings.seed,
    machines: settings.machines,
    concurrency,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.levelSeconds,
    apiPid: api.pid,
    ...(databasePid === undefined ? {} : { databasePid }),
    randomSeed,
  };
}

/** CPU the rest of the machine used during a level: all of it but the API, the load generator and the database. */
function otherCpu(level: CheckinResult): number {
  const { machinePercent, apiPercent, loadGeneratorPercent, databasePercent } = level.cpu;
  return machinePercent - apiPercent - loadGeneratorPercent - databasePercent;
}

export async function benchBackend(settings: ApiSettings, backend: Backend): Promise<BackendResult> {
  const label = BACKEND_LABEL[backend];
  const dir = await mkdtemp(join(os.tmpdir(), 'turku-bench-api-'));
  const forgetDir = atExit(() => rmSync(dir, { recursive: true, force: true }));
  let postgres: PostgresServer | undefined;
  let api: ApiProcess | undefined;
  let db: BenchDatabase | undefined;
  try {
    const backgroundCpu = await waitForQuiet(QUIET);
    say(
      `\n== ${label}: ${settings.machines} machines × ${settings.sourcesPerMachine} sources ` +
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
        database_pool_size: settings.databasePoolSize,
        log_level: settings.logLevel,
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

    const checkins: LevelResult[] = [];
    for (const [i, concurrency] of settings.checkinConcurrency.entries()) {
      await waitForQuiet(QUIET);
      const result = await runLoad(checkinJob(settings, api, concurrency, i + 1, postmasterOf(postgres)));
      const otherCpuPercent = otherCpu(result);
      checkins.push({ ...result, otherCpuPercent, disturbed: otherCpuPercent > DISTURBED_PERCENT });
      say(
        `  agent_ping_checkin c=${String(concurrency).padStart(3)}: ${String(result.requestsPerSecond).padStart(6)}/s ` +
          `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms, errors ${result.errors}, ` +
          `CPU api ${result.cpu.apiPercent}% load ${result.cpu.loadGeneratorPercent}% db ${result.cpu.databasePercent}% ` +
          `machine ${result.cpu.machinePercent}%`,
      );
    }

    const dueQuery = await timeDueQuery(settings, db);
    say(`  due-source query: median ${dueQuery.medianMs} ms (${dueQuery.rows} rows of ${dueQuery.dueSources} due)`);
    const databaseSizeMb = mb(await db.sizeBytes());
    await db.close();
    db = undefined;

    const end = api.memory();
    const apiErrorLogLines = api.errorLines();
    await api.stop();
    api = undefined;
    say(`  API RSS: peak ${mb(end?.peakRss)} MB, at end ${mb(end?.rss)} MB`);

    const profile = await profileLevel(settings, backend, config, dir, postgres);
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
    forgetDir();
  }
}
