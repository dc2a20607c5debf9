import { Agent, request } from 'node:http';
import { text } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';

import { registrationBody, type RegistrationAuth } from './fleet.js';
import { round, summarise, type LatencySummary } from '../harness/stats.js';

/**
 * The API benchmark's registration load generator, a process of its own so that it does not share
 * the API's event loop: `node load.js '<job JSON>'` (or the job on stdin) prints one JSON result on
 * stdout. It sends `update_config` for machines from..from+count-1, each exactly once, then stops:
 * a fixed count of distinct requests, which wrk (a duration, random picks) does not do. Closed loop:
 * `concurrency` workers each send a request, wait for the answer, and send the next, over
 * keep-alive connections (http.request, which costs less per request than fetch). The measured
 * rows are wrk's (wrk.ts).
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

export type Job = RegisterJob;

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

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ERROR_SAMPLES = 5;

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

export function runJob(job: Job): Promise<RegisterResult> {
  return register(job);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const input = process.argv[2] ?? (await text(process.stdin));
  const result = await runJob(JSON.parse(input) as Job);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
