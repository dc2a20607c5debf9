// The local controller on its unix socket: one JSON request line per connection, one JSON
// response line back (controller-protocol.ts). The socket is root's alone (mode 0600): whoever
// reaches it runs commands as root on the model's machines.
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

import type { LocalController } from './controller.js';
import { type ControllerResponse, parseRequest } from './controller-protocol.js';

/** A request longer than this is not one of ours. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export interface ControllerServer {
  /** Resolves when a `shutdown` request was answered (the caller then closes). */
  readonly shutdownRequested: Promise<void>;
  close(): Promise<void>;
}

export async function serveController(controller: LocalController, socketPath: string): Promise<ControllerServer> {
  let requestShutdown: () => void = () => {};
  const shutdownRequested = new Promise<void>((resolve) => (requestShutdown = resolve));
  const server: Server = createServer((socket) => serve(socket));

  function serve(socket: Socket): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let answered = false;
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      chunks.push(chunk);
      size += chunk.length;
      const text = Buffer.concat(chunks).toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0 && size <= MAX_REQUEST_BYTES) return;
      answered = true;
      void answer(newline < 0 ? '' : text.slice(0, newline)).then((response) => {
        socket.end(`${JSON.stringify(response)}\n`);
      });
    });
  }

  async function answer(line: string): Promise<ControllerResponse> {
    const parsed = parseRequest(line);
    if ('error' in parsed) return { ok: false, error: parsed.error };
    try {
      const result = await controller.handle(parsed.request);
      if (parsed.request.op === 'shutdown') setImmediate(requestShutdown);
      return { ok: true, result: result ?? {} };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }

  // A socket file left by a killed controller would make listen fail.
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return {
    shutdownRequested,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}
