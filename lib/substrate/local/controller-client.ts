// Talking to a model's local controller over its socket (controller-protocol.ts), and starting
// one as a detached process (controller-main.ts) that outlives whoever started it.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

import { livePidFromFile } from '../../charm-host/services.js';
import { type ControllerRequest, type ControllerResponse, controllerFiles } from './controller-protocol.js';

/** No controller answers on the model's socket. */
export class NoControllerError extends Error {
  override name = 'NoControllerError';
}

/** One request, its result; a controller's `{ ok: false }` becomes an Error with its message. */
export async function request<T = unknown>(socketPath: string, body: ControllerRequest): Promise<T> {
  const line = await new Promise<string>((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(`${JSON.stringify(body)}\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
        reject(new NoControllerError(`no controller is running for this model (nothing answers on ${socketPath})`));
      } else reject(error);
    });
  });
  let response: ControllerResponse;
  try {
    response = JSON.parse(line) as ControllerResponse;
  } catch {
    throw new Error(`the controller's answer is not JSON: ${line.slice(0, 80)}`);
  }
  if (!response.ok) throw new Error(response.error);
  return response.result as T;
}

/** Whether a controller answers on the model's socket. */
export async function controllerAnswers(modelDir: string): Promise<boolean> {
  try {
    await request(controllerFiles(modelDir).socket, { op: 'status' });
    return true;
  } catch {
    return false;
  }
}

/** The controller process's pid from its pid file, if that process is alive. */
export function controllerPid(modelDir: string): Promise<number | undefined> {
  return livePidFromFile(controllerFiles(modelDir).pid);
}

/**
 * controller-main.js: next to this module when running from dist/, else (this module run by
 * ts-jest from lib/) the built one under the repository's dist/.
 */
function controllerMain(): string {
  const moduleDir = dirname(fileURLToPath(import.meta.url));
  const sibling = join(moduleDir, 'controller-main.js');
  if (existsSync(sibling)) return sibling;
  for (let dir = moduleDir; dir !== parse(dir).root; dir = dirname(dir)) {
    const built = join(dir, 'dist', 'lib', 'substrate', 'local', 'controller-main.js');
    if (existsSync(join(dir, 'package.json')) && existsSync(built)) return built;
  }
  throw new Error(`controller-main.js not found near ${moduleDir}: run npm run build`);
}

/**
 * Starts the model's controller as a detached process (its own session, output to
 * controller.log) and waits until it answers; it outlives this process.
 */
export async function startControllerProcess(modelDir: string, timeoutMs = 60_000): Promise<number> {
  const { log } = controllerFiles(modelDir);
  const out = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [controllerMain(), modelDir], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const pid = child.pid;
  child.unref();
  if (pid === undefined) throw new Error('the controller process did not start');
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await controllerAnswers(modelDir)) return pid;
    if (exited !== undefined) {
      const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join('\n');
      throw new Error(`the controller exited (code ${String(exited)}) before answering:\n${tail}`);
    }
    if (Date.now() > deadline) throw new Error(`the controller did not answer within ${timeoutMs} ms; see ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Asks the controller to stop and waits for its process to end (SIGKILL after `timeoutMs`). */
export async function stopController(modelDir: string, timeoutMs = 30_000): Promise<void> {
  const pid = await controllerPid(modelDir);
  await request(controllerFiles(modelDir).socket, { op: 'shutdown' }).catch(() => undefined);
  if (pid === undefined || pid === process.pid) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
