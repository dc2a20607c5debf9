import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

import type { z } from 'zod';

import type { AnyView } from '../turku/protocol/api.js';
import { UNREACHABLE } from './api-unreachable.js';
import { errorMessage } from './errors.js';

/**
 * The client side of the `/v1` API used by agents and storages: JSON POSTs with a timeout, and
 * errors that say what failed in one line. With a debug log, requests and responses are logged
 * with every secret replaced.
 */

/**
 * A call to the API that did not give a usable answer (unreachable, refused, malformed), as the
 * agent or storage sees it. Not the server's `ApiRefusal` (lib/api/errors.ts), which is the
 * status and message the API sends back.
 */
export class ApiCallError extends Error {
  override name = 'ApiCallError';
  constructor(
    message: string,
    /** The HTTP status, when the API answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** The `/v1` base, e.g. `https://turku.example.com/v1`. */
  readonly url: string;
  readonly timeoutSeconds: number;
  readonly debug?: (line: string) => void;
}

export interface ApiClient {
  post<S extends z.ZodType>(view: AnyView, body: unknown, response: S): Promise<z.output<S>>;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = options.url.replace(/\/+$/, '');
  return {
    async post(view, body, response) {
      const url = `${base}/${view}`;
      options.debug?.(`API request ${view}: ${JSON.stringify(redactSecrets(body))}`);
      let reply: HttpReply;
      try {
        reply = await postJson(url, JSON.stringify(body), options.timeoutSeconds * 1000);
      } catch (error) {
        throw new ApiCallError(`${UNREACHABLE} ${base}: ${connectionProblem(error)}`);
      }
      const { text } = reply;
      options.debug?.(`API response ${view}: HTTP ${reply.status} ${text.slice(0, 2000)}`);
      if (reply.status !== 200) {
        // The original refuses with text/html bodies (a bare message, or a whole error page).
        const detail = replyExcerpt(text) || reply.statusMessage;
        throw new ApiCallError(`API ${view} refused: HTTP ${reply.status}${detail ? ` ${detail}` : ''}`, reply.status);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        const excerpt = replyExcerpt(text);
        throw new ApiCallError(
          `API ${view} answered with something that is not JSON (${reply.contentType || 'no content type'})` +
            (excerpt ? `: ${excerpt}` : ''),
          reply.status,
        );
      }
      // Only what the original API always sends is required of a reply; see docs/api.md.
      const parsed = response.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.join('.') ?? '';
        throw new ApiCallError(
          `API ${view} answered unexpectedly: ${where ? `${where}: ` : ''}${issue?.message ?? ''}`,
        );
      }
      return parsed.data;
    },
  };
}

/**
 * One POST with node:http(s). Not fetch: loading undici costs about 45 ms of start-up, which
 * every timer-driven run of the agent pays, mostly to learn that nothing is due.
 */
interface HttpReply {
  readonly status: number;
  readonly statusMessage: string;
  readonly contentType: string;
  readonly text: string;
}

function postJson(url: string, body: string, timeoutMs: number): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const request = send(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            statusMessage: response.statusMessage ?? '',
            contentType: response.headers['content-type'] ?? '',
            text: Buffer.concat(chunks).toString(),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new TimeoutError()));
    request.on('error', reject);
    request.end(body);
  });
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

function connectionProblem(error: unknown): string {
  if (error instanceof TimeoutError) return 'no answer within the timeout';
  return errorMessage(error);
}

const EXCERPT_LENGTH = 300;

/**
 * One line of a reply body fit for an error message: the first line of plain text, or the
 * visible text of an HTML page (the original's 404 for an unknown view is Django's page).
 */
export function replyExcerpt(text: string): string {
  // The head of a page is enough, and keeps the patterns below cheap on a huge body.
  const trimmed = text.slice(0, 65_536).trim();
  let line: string;
  if (/^<(!doctype|html|head|body|title|h1|p)\b/i.test(trimmed)) {
    line = trimmed
      .replace(/<(head|script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => HTML_ENTITIES[name] ?? '')
      .replace(/\s+/g, ' ')
      .trim();
  } else {
    line = trimmed.split('\n', 1)[0]!.trim();
  }
  // A reply is no place for terminal escapes in an operator's log.
  line = line.replace(CONTROL, ' ');
  return line.length > EXCERPT_LENGTH ? `${line.slice(0, EXCERPT_LENGTH - 1)}…` : line;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

const HTML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

const SECRET_KEY = /secret|password|^auth$/i;

/** A copy of a request body fit for a log: values of secret-bearing keys are replaced. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_KEY.test(key) && (typeof inner === 'string' || key === 'auth') ? '<redacted>' : redactSecrets(inner),
    ]),
  );
}
