import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { VIEWS, type View } from '../turku/protocol/api.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { dispatch } from './router.js';

/**
 * The `/v1` HTTP front (spec §2.1): routing, method and content-type rules, body limits, and
 * the mapping of refusals to plain-text 4xx answers. A success is 200 with exactly
 * `Content-Type: application/json`, which pre-2020 clients insist on.
 */

export interface HttpOptions {
  readonly maxBodyBytes: number;
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
}

const VIEW_NAMES: ReadonlySet<string> = new Set(VIEWS);

/** `/v1/<view>`, tolerating doubled and trailing slashes (pre-2020 clients send `//`). */
export function viewOfPath(url: string): View | undefined {
  const path = url.split('?', 1)[0]!;
  const parts = path.split('/').filter((part) => part !== '');
  if (parts.length !== 2 || parts[0] !== 'v1' || !VIEW_NAMES.has(parts[1]!)) return undefined;
  return parts[1] as View;
}

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

function sendText(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  response.end(`${message}\n`);
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ApiError(413, `Request body larger than ${limit} bytes`));
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

async function answer(ctx: ApiContext, options: HttpOptions, request: IncomingMessage): Promise<unknown> {
  const view = viewOfPath(request.url ?? '/');
  if (view === undefined) throw new ApiError(404, 'Not found');
  const method = request.method ?? 'GET';
  if (view === 'health' && (method === 'GET' || method === 'HEAD')) return dispatch(ctx, view, {});
  if (method !== 'POST') throw new ApiError(405, 'Method not allowed');
  if (!isJsonContentType(request.headers['content-type'])) {
    throw new ApiError(400, 'Bad Content-Type (expected application/json)');
  }
  const raw = await readBody(request, options.maxBodyBytes);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ApiError(400, `Invalid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'Request body must be a JSON object');
  }
  // NUL characters are refused by the router, after authentication.
  return dispatch(ctx, view, body as Record<string, unknown>);
}

export function requestListener(ctx: ApiContext, options: HttpOptions) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    answer(ctx, options, request).then(
      (result) => {
        const body = JSON.stringify(result);
        response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        if (error instanceof ApiError) {
          const view = viewOfPath(request.url ?? '/');
          const allow = error.status === 405 ? { Allow: view === 'health' ? 'GET, HEAD, POST' : 'POST' } : undefined;
          if (error.status === 413) response.setHeader('Connection', 'close');
          sendText(response, error.status, error.message, allow);
          return;
        }
        ctx.log.error(`${request.method ?? '?'} ${request.url ?? '?'}: ${describe(error)}`);
        sendText(response, 500, 'Internal server error');
      },
    );
  };
}

function describe(error: unknown): string {
  const stack = (error as { stack?: unknown } | null)?.stack;
  return typeof stack === 'string' ? stack.replace(/\n\s+/g, ' | ') : String(error);
}

export async function createApiServer(ctx: ApiContext, options: HttpOptions): Promise<Server> {
  const listener = requestListener(ctx, options);
  if (options.tls === undefined) return createHttpServer(listener);
  const [cert, key] = await Promise.all([readFile(options.tls.cert), readFile(options.tls.key)]);
  return createHttpsServer({ cert, key }, listener);
}

export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
