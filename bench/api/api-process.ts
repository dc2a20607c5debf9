import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { delay, say, trackChild } from '../harness/lifecycle.js';
import { memoryOf, type Memory } from '../harness/proc.js';
import { storageBody, type RegistrationAuth } from './fleet.js';
import type { CheckinJob, CheckinResult, RegisterJob, RegisterResult } from './load.js';

/** The processes the turku-api benchmark runs: the real `turku-api serve`, its admin commands, and the load generator (load.ts). */

const API_MAIN = fileURLToPath(new URL('../../lib/api/main.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./load.js', import.meta.url));

export interface ApiProcess {
  readonly pid: number;
  readonly url: string;
  memory(): Memory | undefined;
  /** log lines at ERROR level so far (a 500 logs one) */
  errorLines(): number;
  stop(): Promise<void>;
}

/** `turku-api serve --config FILE`, once it says it is listening. */
export async function startApiProcess(config: string, nodeArgs: readonly string[] = []): Promise<ApiProcess> {
  const child = spawn(process.execPath, [...nodeArgs, API_MAIN, 'serve', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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

export async function createAuth(
  config: string,
  type: 'machine_reg' | 'storage_reg',
  name: string,
): Promise<RegistrationAuth> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    ...[API_MAIN, 'auth-create', type, '--name', name, '--raw', '--config', config],
  ]);
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

export function runLoad(job: RegisterJob): Promise<RegisterResult>;
export function runLoad(job: CheckinJob): Promise<CheckinResult>;
export function runLoad(job: RegisterJob | CheckinJob): Promise<RegisterResult | CheckinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    trackChild(child);
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) reject(new Error(`load generator failed (${signal ?? `exit code ${String(code)}`})`));
      else resolve(JSON.parse(stdout) as RegisterResult | CheckinResult);
    });
  });
}
