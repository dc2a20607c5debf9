import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { NEW_VIEWS, VIEWS, type AnyView } from '../turku/protocol/api.js';
import type { ApiContext } from './context.js';
import { ApiRefusal } from './errors.js';
import { consoleListener, isConsolePath, type ConsoleOptions } from './console/server.js';
import { isMetricsPath, serveMetrics } from './metrics/endpoint.js';
import type { RequestResult } from './metrics/instruments.js';
import { jsonShapeProblem } from './request-limits.js';
import { dispatch } from './router.js';

/**
 * The `/v1` HTTP front (docs/api.md, "Request rules"): routing, method and content-type rules, body
 * limits, and the mapping of refusals to plain-text 4xx answers. A success is 200 with exactly
 * `Content-Type: application/json`, which pre-2020 clients insist on.
 */

export interface HttpOptions {
  readonly maxBodyBytes: number;
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /** The web console under /console (docs/api.md, "Web console"); absent: not served. */
  readonly console?: Omit<ConsoleOptions, 'secure'> | undefined;
}

const ALL_VIEWS: readonly AnyView[] = [...VIEWS, ...NEW_VIEWS];
const VIEW_NAMES: ReadonlySet<string> = new Set(ALL_VIEWS);
/** The paths our clients send, looked up at once; any other spelling takes the general parse. */
const PLAIN_PATHS: ReadonlyMap<string, AnyView> = new Map(ALL_VIEWS.map((view) => [`/v1/${view}`, view]));

/** `/v1/<view>`, tolerating doubled and trailing slashes (pre-2020 clients send `//`). */
export function viewOfPath(url: string): AnyView | undefined {
  const plain = PLAIN_PATHS.get(url);
  if (plain !== undefined) return plain;
  const path = url.split('?', 1)[0]!;
  const parts = path.split('/').filter((part) => part !== '');
  if (parts.length !== 2 || parts[0] !== 'v1' || !VIEW_NAMES.has(parts[1]!)) return undefined;
  return parts[1] as AnyView;
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
  const tooLarge = () => new ApiRefusal(413, `Request body larger than ${limit} bytes`);
  // A declared length over the limit is refused before a byte of it is read.
  if (Number(request.headers['content-length'] ?? 0) > limit) {
    request.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(tooLarge());
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

// fatal: a body that is not UTF-8 is refused, as the original's JSON reader refuses it;
// ignoreBOM: a byte-order mark stays in the text, where JSON.parse refuses it, as before.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as a JSON object, or the 400 saying why not. Bounded before anything recursive runs. */
export function parseJsonBody(raw: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw new ApiRefusal(400, 'Invalid JSON: the body is not valid UTF-8');
  }
  const shapeProblem = jsonShapeProblem(text);
  if (shapeProblem !== undefined) throw new ApiRefusal(400, `Invalid JSON: ${shapeProblem}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiRefusal(400, `Invalid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiRefusal(400, 'Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

async function answer(ctx: ApiContext, options: HttpOptions, request: IncomingMessage): Promise<unknown> {
  const view = viewOfPath(request.url ?? '/');
  if (view === undefined) throw new ApiRefusal(404, 'Not found');
  const method = request.method ?? 'GET';
  if (view === 'health' && (method === 'GET' || method === 'HEAD')) return dispatch(ctx, view, {});
  if (method !== 'POST') throw new ApiRefusal(405, 'Method not allowed');
  if (!isJsonContentType(request.headers['content-type'])) {
    throw new ApiRefusal(400, 'Bad Content-Type (expected application/json)');
  }
  const body = parseJsonBody(await readBody(request, options.maxBodyBytes));
  // NUL characters are refused by the router, after authentication.
  return dispatch(ctx, view, body);
}

export function requestListener(ctx: ApiContext, options: HttpOptions) {
  const consoleHandler =
    options.console === undefined
      ? undefined
      : consoleListener(ctx, { ...options.console, secure: options.tls !== undefined });
  return (request: IncomingMessage, response: ServerResponse): void => {
    if (consoleHandler !== undefined && isConsolePath(request.url ?? '/')) {
      consoleHandler(request, response);
      return;
    }
    if (ctx.metrics !== undefined && isMetricsPath(request.url)) {
      serveMetrics(ctx.db, ctx.metrics, ctx.now(), request, response).catch((error: unknown) => {
        ctx.log.error(`GET /metrics: ${describe(error)}`);
        if (!response.headersSent) sendText(response, 500, 'Internal server error');
      });
      return;
    }
    const started = performance.now();
    const timed = (result: RequestResult) => {
      const view = viewOfPath(request.url ?? '/');
      if (view !== undefined) ctx.metrics?.instruments.request(view, result, (performance.now() - started) / 1000);
    };
    answer(ctx, options, request).then(
      (result) => {
        timed('ok');
        const body = JSON.stringify(result);
        response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        timed(error instanceof ApiRefusal ? 'refused' : 'error');
        if (error instanceof ApiRefusal) {
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

/**
 * How long a client may take (docs/api.md, "Limits"): to send its headers, and to send its whole
 * request. Node's own defaults (60 s and 5 minutes) let a slow client hold a connection for
 * minutes; a real request is a few kilobytes, sent at once.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export async function createApiServer(ctx: ApiContext, options: HttpOptions): Promise<Server> {
  const listener = requestListener(ctx, options);
  // Node checks both timeouts every connectionsCheckingInterval (30 s by default): check often.
  const limits = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: 1000,
  };
  let server: Server;
  if (options.tls === undefined) {
    server = createHttpServer(limits, listener);
  } else {
    const [cert, key] = await Promise.all([readFile(options.tls.cert), readFile(options.tls.key)]);
    server = createHttpsServer({ cert, key, ...limits }, listener);
  }
  server.on('clientError', answerClientError);
  return server;
}

/**
 * A request Node's HTTP parser refuses (malformed, headers too large, too slow) gets a status
 * and a one-line message like every other refusal; Node's own answer has an empty body.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request not received in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request headers too large']
        : [400, `Bad request (${error.code ?? 'unreadable'})`];
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
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
