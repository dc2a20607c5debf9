import { Agent, request } from 'node:http';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';

import { checkinBody, registrationBody, type RegistrationAuth } from './fleet.js';
import { childrenOf, cpuSecondsOf, machineCpuSeconds } from '../harness/proc.js';
import { round, summarise, type LatencySummary } from '../harness/stats.js';

/**
 * The API benchmark's load generator, a process of its own so that it does not share the API's
 * event loop: `node load.js '<job JSON>'` (or the job on stdin) prints one JSON result on stdout.
 * Closed loop: `concurrency` workers each send a request, wait for the answer, and send the next,
 * over keep-alive connections (http.request, which costs less per request than fetch).
 *
 * - `register`: `update_config` for machines from..from+count-1, each once, then stops.
 * - `checkin`: `agent_ping_checkin` for random machines of 0..machines-1, for a warm-up and then
 *   a measured window; a request counts in the window when it completes inside it.
 */

export interface RegisterJob {
  readonly kind: 'register';
  readonly url: string;
  readonly seed: string;
  readonly from: number;
  readonly count: number;
  readonly concurrency: number;
  readonly auth: RegistrationAuth;
}

export interface CheckinJob {
  readonly kind: 'checkin';
  readonly url: string;
  readonly seed: string;
  readonly machines: number;
  readonly concurrency: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** the API server's pid, for its CPU use during the window */
  readonly apiPid: number;
  /** the database server's root process (the PostgreSQL postmaster), for its and its children's CPU use */
  readonly databasePid?: number;
  readonly randomSeed: number;
}

export type Job = RegisterJob | CheckinJob;

export interface ErrorSample {
  readonly status: number;
  readonly body: string;
}

export interface RegisterResult extends LatencySummary {
  readonly kind: 'register';
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly errorSamples: readonly ErrorSample[];
  readonly seconds: number;
  readonly requestsPerSecond: number;
}

export interface CpuShare {
  /** percent of one core, over the measured window */
  readonly apiPercent: number;
  readonly loadGeneratorPercent: number;
  readonly databasePercent: number;
  /** the whole machine, percent of one core (200 = both cores of a 2-core machine busy) */
  readonly machinePercent: number;
}

export interface CheckinResult extends LatencySummary {
  readonly kind: 'checkin';
  readonly concurrency: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** completed inside the measured window */
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** non-200 answers and failed requests, warm-up included */
  readonly errors: number;
  readonly errorSamples: readonly ErrorSample[];
  /** window answers that scheduled at least one source */
  readonly withDueSources: number;
  readonly cpu: CpuShare;
}

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ERROR_SAMPLES = 5;
const EMPTY_CHECKIN = JSON.stringify({ machine: { scheduled_sources: {} }, scheduled_sources: {} });

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly prefix: string;
}

function endpointOf(url: string): Endpoint {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port), prefix: parsed.pathname.replace(/\/$/, '') };
}

/** POSTs a JSON body; resolves with the status (0 when the request failed) and the answer. */
function post(agent: Agent, endpoint: Endpoint, view: string, body: Buffer): Promise<ErrorSample> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: endpoint.host,
        port: endpoint.port,
        path: `${endpoint.prefix}/${view}`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': body.length },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: answer }));
        res.on('error', (error) => resolve({ status: 0, body: error.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end(body);
  });
}

function now(): number {
  return performance.now();
}

async function register(job: RegisterJob): Promise<RegisterResult> {
  const endpoint = endpointOf(job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const latencies = new Float64Array(job.count);
  const errorSamples: ErrorSample[] = [];
  let errors = 0;
  let next = 0;
  const start = now();
  const progress = setInterval(() => {
    const seconds = (now() - start) / 1000;
    process.stderr.write(
      `  update_config: ${next}/${job.count} registered, ${Math.round(next / seconds)}/s after ${Math.round(seconds)} s\n`,
    );
  }, 15_000);
  const worker = async (): Promise<void> => {
    while (next < job.count) {
      const offset = next++;
      const body = Buffer.from(registrationBody(job.seed, job.from + offset, job.auth));
      const sent = now();
      const answer = await post(agent, endpoint, 'update_config', body);
      latencies[offset] = now() - sent;
      if (answer.status !== 200) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push({ ...answer, body: answer.body.slice(0, 500) });
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  const seconds = (now() - start) / 1000;
  clearInterval(progress);
  agent.destroy();
  return {
    kind: 'register',
    concurrency: job.concurrency,
    requests: job.count,
    errors,
    errorSamples,
    seconds: round(seconds),
    requestsPerSecond: Math.round(job.count / seconds),
    ...summarise(latencies),
  };
}

/** xorshift32: cheap, seeded, good enough to pick machines. */
function randomIndex(seed: number, bound: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % bound;
  };
}

interface CpuSample {
  readonly at: number;
  readonly api: number;
  readonly load: number;
  /** CPU seconds of the database's root process, with its exited children */
  readonly databaseRoot: number;
  /** CPU seconds of each live child of the database's root process */
  readonly databaseChildren: ReadonlyMap<number, number>;
  readonly machine: number;
}

function cpuSample(apiPid: number, databasePid: number | undefined): CpuSample {
  const usage = process.cpuUsage();
  const children = new Map<number, number>();
  for (const pid of databasePid === undefined ? [] : childrenOf(databasePid)) {
    const seconds = cpuSecondsOf(pid);
    if (seconds !== undefined) children.set(pid, seconds);
  }
  return {
    at: now(),
    api: cpuSecondsOf(apiPid) ?? Number.NaN,
    load: (usage.user + usage.system) / 1e6,
    databaseRoot: databasePid === undefined ? 0 : (cpuSecondsOf(databasePid, { reapedChildren: true }) ?? 0),
    databaseChildren: children,
    machine: machineCpuSeconds().busy,
  };
}

/**
 * CPU seconds the database server used between two samples: the postmaster's own, every backend
 * live at the end (from 0 if it started meanwhile), and those that exited meanwhile, whose time
 * went to the postmaster's reaped-children total (less what they had used before the window).
 */
function databaseSeconds(before: CpuSample, after: CpuSample): number {
  let sum = after.databaseRoot - before.databaseRoot;
  for (const [pid, seconds] of after.databaseChildren) sum += seconds - (before.databaseChildren.get(pid) ?? 0);
  for (const [pid, seconds] of before.databaseChildren) if (!after.databaseChildren.has(pid)) sum -= seconds;
  return sum;
}

async function checkin(job: CheckinJob): Promise<CheckinResult> {
  const endpoint = endpointOf(job.url);
  const bodies = Array.from({ length: job.machines }, (_, i) => Buffer.from(checkinBody(job.seed, i)));
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const pick = randomIndex(job.randomSeed, job.machines);
  const latencies: number[] = [];
  const errorSamples: ErrorSample[] = [];
  let errors = 0;
  let withDueSources = 0;
  let stopped = false;

  const start = now();
  const windowStart = start + job.warmupSeconds * 1000;
  const windowEnd = windowStart + job.seconds * 1000;
  let first: CpuSample | undefined;
  let last: CpuSample | undefined;
  const startTimer = setTimeout(() => (first = cpuSample(job.apiPid, job.databasePid)), windowStart - start);
  const endTimer = setTimeout(() => {
    last = cpuSample(job.apiPid, job.databasePid);
    stopped = true;
  }, windowEnd - start);

  const worker = async (): Promise<void> => {
    while (!stopped) {
      const sent = now();
      const answer = await post(agent, endpoint, 'agent_ping_checkin', bodies[pick()]!);
      const done = now();
      if (answer.status !== 200) {
        errors++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push({ ...answer, body: answer.body.slice(0, 500) });
      }
      if (done >= windowStart && done <= windowEnd) {
        latencies.push(done - sent);
        if (answer.status === 200 && answer.body !== EMPTY_CHECKIN) withDueSources++;
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  agent.destroy();

  first ??= cpuSample(job.apiPid, job.databasePid);
  last ??= cpuSample(job.apiPid, job.databasePid);
  const elapsed = (last.at - first.at) / 1000;
  const percent = (before: number, after: number) => Math.round(((after - before) / elapsed) * 100);
  return {
    kind: 'checkin',
    concurrency: job.concurrency,
    warmupSeconds: job.warmupSeconds,
    seconds: round(elapsed),
    requests: latencies.length,
    requestsPerSecond: Math.round(latencies.length / elapsed),
    errors,
    errorSamples,
    withDueSources,
    cpu: {
      apiPercent: percent(first.api, last.api),
      loadGeneratorPercent: percent(first.load, last.load),
      databasePercent: percent(0, databaseSeconds(first, last)),
      machinePercent: percent(first.machine, last.machine),
    },
    ...summarise(Float64Array.from(latencies)),
  };
}

export async function runJob(job: Job): Promise<RegisterResult | CheckinResult> {
  return job.kind === 'register' ? register(job) : checkin(job);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const input = process.argv[2] ?? (await text(process.stdin));
  const result = await runJob(JSON.parse(input) as Job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
