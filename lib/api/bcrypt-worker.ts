import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { bcrypt } from 'hash-wasm';

import { oneAtATime } from './kdf.js';

/**
 * bcrypt for the imported hashes of the original (legacy-hashes.ts), off the event loop. Node's
 * crypto has no bcrypt, and hash-wasm's runs synchronously for its whole cost (about 0.3 s at
 * Django's cost 12), so the API server runs it in one worker thread. The worker is the API's own
 * program started again as a thread (one file, as the charm's bundle is), which `main.ts` sends
 * here instead of starting a server. Without a registered program (tests, admin commands run in
 * another program) it runs inline.
 */

const ROLE = 'turku-api-bcrypt';

interface BcryptJob {
  readonly id: number;
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  readonly cost: number;
}

type BcryptReply = { readonly id: number; readonly encoded: string } | { readonly id: number; readonly error: string };

let program: string | undefined;
let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (encoded: string) => void; reject: (error: Error) => void }>();

/** The program file to start as the worker thread (the running API's own); undefined: run inline. */
export function useBcryptWorker(file: string | undefined): void {
  program = file;
}

/** Ends the worker thread, if one runs (pending checks fail); the next check starts another. */
export async function stopBcryptWorker(): Promise<void> {
  const running = worker;
  worker = undefined;
  await running?.terminate();
}

/** True inside the worker thread: the program should call `serveBcrypt` instead of starting. */
export function isBcryptWorker(): boolean {
  return !isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE;
}

export function serveBcrypt(): void {
  parentPort!.on('message', (job: BcryptJob) => {
    bcrypt({ password: job.password, salt: job.salt, costFactor: job.cost, outputType: 'encoded' }).then(
      (encoded) => parentPort!.postMessage({ id: job.id, encoded } satisfies BcryptReply),
      (error: unknown) => parentPort!.postMessage({ id: job.id, error: String(error) } satisfies BcryptReply),
    );
  });
}

/** The encoded bcrypt string of `password` with `salt` and `cost`, one at a time with other slow work. */
export function bcryptEncoded(password: Uint8Array, salt: Uint8Array, cost: number): Promise<string> {
  if (program === undefined) {
    return oneAtATime(() => bcrypt({ password, salt, costFactor: cost, outputType: 'encoded' }));
  }
  const file = program;
  return oneAtATime(
    () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        startWorker(file).postMessage({ id, password, salt, cost } satisfies BcryptJob);
      }),
  );
}

function startWorker(file: string): Worker {
  if (worker !== undefined) return worker;
  const started = new Worker(file, { workerData: { role: ROLE }, argv: [] });
  // An idle worker must not keep the API's process alive at shutdown.
  started.unref();
  started.on('message', (reply: BcryptReply) => {
    const job = pending.get(reply.id);
    pending.delete(reply.id);
    if (job === undefined) return;
    if ('encoded' in reply) job.resolve(reply.encoded);
    else job.reject(new Error(reply.error));
  });
  const fail = (error: Error) => {
    if (worker === started) worker = undefined;
    for (const job of pending.values()) job.reject(error);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`bcrypt worker exited with code ${code}`)));
  worker = started;
  return started;
}
