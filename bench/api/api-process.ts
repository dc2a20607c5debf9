import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { SERVE_NODE_OPTIONS } from '../../lib/api/serve-node-options.js';
import { delay, say, trackChild } from '../harness/lifecycle.js';
import { memoryOf, type Memory } from '../harness/proc.js';
import { BARE_LISTENING } from './bare-server.js';
import { storageBody, type RegistrationAuth } from './fleet.js';
import type { RegisterJob, RegisterResult } from './load.js';
import { systemEnv } from './system-env.js';

/**
 * The processes the turku-api benchmark runs beside wrk: the real `turku-api serve`, the bare reference
 * server, the admin commands, and the registration load generator (load.ts), each in the environment
 * of system-env.ts.
 */

const API_MAIN = fileURLToPath(new URL('../../lib/api/main.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));
const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));

export interface ServerProcess {
  readonly pid: number;
  /** where it answers (turku-api's ends in /v1) */
  readonly url: string;
  memory(): Memory | undefined;
  /** log lines at ERROR level so far (a 500 logs one) */
  errorLines(): number;
  stop(): Promise<void>;
}

/** `turku-api serve --config FILE`, once it says it is listening. */
export function startApiProcess(config: string, nodeArgs: readonly string[] = []): Promise<ServerProcess> {
  return startServerProcess(
    'turku-api',
    [...SERVE_NODE_OPTIONS, ...nodeArgs, API_MAIN, 'serve', '--config', config],
    /turku-api listening on (\S+)/,
  );
}

/** The reference: a bare Node `http` server (bare-server.ts), same Node, flags and environment as the API. */
export function startBareServer(nodeArgs: readonly string[] = []): Promise<ServerProcess> {
  return startServerProcess('bare server', [...SERVE_NODE_OPTIONS, ...nodeArgs, BARE_SERVER], BARE_LISTENING);
}

/**
 * A server as its own process (this Node, the systemd-like environment of system-env.ts), once its
 * stderr says it is listening (`listening` captures the URL). ERROR lines are counted.
 */
async function startServerProcess(name: string, args: readonly string[], listening: RegExp): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { env: systemEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      resolve(signal ?? `exit code ${String(code)}`);
    }),
  );
  let tail = '';
  let partial = '';
  let errors = 0;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s:\n${tail}`)), 60_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-8192);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes(' ERROR ')) {
          errors++;
          if (errors <= 3) say(`  ${name}: ${line.slice(0, 400)}`);
        }
        const found = listening.exec(line);
        if (found !== null) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      }
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${status}) before it listened:\n${tail}`));
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

export async function createAuth(
  config: string,
  type: 'machine_reg' | 'storage_reg' | 'admin',
  name: string,
): Promise<RegistrationAuth> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [API_MAIN, 'auth-create', type, '--name', name, '--raw', '--config', config],
    { env: systemEnv() },
  );
  return { name, secret: stdout.trim() };
}

export async function registerStorage(url: string, auth: RegistrationAuth): Promise<void> {
  const response = await fetch(`${url}/storage_update_config`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: storageBody(auth),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`storage_update_config: ${response.status} ${text}`);
}

/** Registers machines through `update_config` with the Node load generator (load.ts), a process of its own. */
export function runLoad(job: RegisterJob): Promise<RegisterResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, JSON.stringify(job)], {
      env: systemEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    trackChild(child);
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) reject(new Error(`load generator failed (${signal ?? `exit code ${String(code)}`})`));
      else resolve(JSON.parse(stdout) as RegisterResult);
    });
  });
}
