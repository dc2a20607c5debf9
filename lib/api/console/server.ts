import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ApiContext } from '../context.js';
import { AdminError, backUpNow, setMachineActive, setSourceActive } from './actions.js';
import { verifyAdmin } from './admins.js';
import type { Html } from './html.js';
import * as pages from './pages.js';
import {
  ATTENTION_ROWS,
  attentionSources,
  fleetCounts,
  MACHINE_STATES,
  recentLogs,
  searchMachines,
  searchSources,
  sourceDetail,
  SOURCE_STATES,
  storageSummaries,
  type MachineState,
  type SourceState,
} from './queries.js';
import {
  cookie,
  createSession,
  csrfMatches,
  endSession,
  findSession,
  LOGIN_COOKIE,
  newToken,
  parseCookies,
  SESSION_COOKIE,
  type Session,
} from './sessions.js';
import { CONSOLE_CSS } from './style.js';

/**
 * The web console's HTTP side (docs/api.md, "Web console"), under /console next to /v1: login,
 * sessions, CSRF checks, security headers, and the routing of pages and actions. Logged-out
 * requests are sent to the login page; every POST but the login's needs the session's CSRF token.
 */

export interface ConsoleOptions {
  readonly sessionLifetimeMs: number;
  /** The API serves TLS itself: cookies get `Secure`. */
  readonly secure: boolean;
}

const MAX_FORM_BYTES = 16 * 1024;
const LOGIN_FORM_SECONDS = 3600;

/** No script at all; styles only from our own stylesheet; forms post only to us; never framed. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SECURITY_HEADERS = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export function isConsolePath(url: string): boolean {
  return url === '/console' || url.startsWith('/console/') || url.startsWith('/console?');
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Answer =
  | { readonly kind: 'html'; readonly status: number; readonly body: Html; readonly cookies?: string[] }
  | { readonly kind: 'redirect'; readonly location: string; readonly cookies?: string[] }
  | { readonly kind: 'css' };

export function consoleListener(ctx: ApiContext, options: ConsoleOptions) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    answer(ctx, options, request).then(
      (result) => send(response, request.method === 'HEAD', result),
      (error: unknown) => {
        if (error instanceof Refusal) {
          response.writeHead(error.status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
          response.end(`${error.message}\n`);
          return;
        }
        ctx.log.error(`console ${request.method ?? '?'} ${request.url ?? '?'}: ${String(error)}`);
        response.writeHead(500, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('Internal server error\n');
      },
    );
  };
}

function send(response: ServerResponse, head: boolean, result: Answer): void {
  if (result.kind === 'css') {
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'Cache-Control': 'max-age=3600',
      'Content-Type': 'text/css; charset=utf-8',
    });
    response.end(head ? undefined : CONSOLE_CSS);
    return;
  }
  const cookies = result.cookies === undefined ? {} : { 'Set-Cookie': result.cookies };
  if (result.kind === 'redirect') {
    response.writeHead(303, { ...SECURITY_HEADERS, ...cookies, Location: result.location });
    response.end();
    return;
  }
  const body = result.body.text;
  response.writeHead(result.status, {
    ...SECURITY_HEADERS,
    ...cookies,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(head ? undefined : body);
}

async function answer(ctx: ApiContext, options: ConsoleOptions, request: IncomingMessage): Promise<Answer> {
  const url = new URL(request.url ?? '/', 'http://console.invalid');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = request.method ?? 'GET';
  const isGet = method === 'GET' || method === 'HEAD';
  if (!isGet && method !== 'POST') throw new Refusal(405, 'Method not allowed');
  if (path === '/console/style.css' && isGet) return { kind: 'css' };
  const cookies = parseCookies(request.headers.cookie);
  if (path === '/console/login') return isGet ? loginForm(options) : login(ctx, options, request, cookies);

  const token = cookies.get(SESSION_COOKIE);
  const session = await findSession(ctx.db, token, ctx.now());
  if (session === undefined) return { kind: 'redirect', location: '/console/login' };
  if (isGet) return page(ctx, session, path, url.searchParams);

  const form = await readForm(request);
  if (!csrfMatches(session.csrf, form.get('csrf') ?? undefined)) {
    throw new Refusal(403, 'Forbidden: the form has no valid CSRF token (reload the page and try again)');
  }
  return act(ctx, options, session, token!, path, form, request);
}

// ---- login ----------------------------------------------------------------------------------

function loginForm(options: ConsoleOptions, problem?: string, status = 200): Answer {
  const csrf = newToken();
  return {
    kind: 'html',
    status,
    body: pages.loginPage(csrf, problem),
    cookies: [cookie(LOGIN_COOKIE, csrf, LOGIN_FORM_SECONDS, options.secure)],
  };
}

async function login(
  ctx: ApiContext,
  options: ConsoleOptions,
  request: IncomingMessage,
  cookies: Map<string, string>,
): Promise<Answer> {
  const form = await readForm(request);
  // Double submit: a page of another site can neither read nor set our cookie, so it cannot log
  // a browser in to an account of its choosing.
  if (!csrfMatches(cookies.get(LOGIN_COOKIE) ?? '', form.get('csrf') ?? undefined)) {
    throw new Refusal(403, 'Forbidden: the login form has no valid CSRF token (reload the page and try again)');
  }
  const admin = await verifyAdmin(ctx.db, form.get('name') ?? '', form.get('secret') ?? '');
  if (admin === undefined) {
    ctx.log.warning('console: a login failed');
    return loginForm(options, 'Wrong name or secret.', 403);
  }
  const { token } = await createSession(ctx.db, admin, ctx.now(), options.sessionLifetimeMs);
  ctx.log.info(`console: ${admin.name} logged in`);
  return {
    kind: 'redirect',
    location: '/console',
    cookies: [
      cookie(SESSION_COOKIE, token, options.sessionLifetimeMs / 1000, options.secure),
      cookie(LOGIN_COOKIE, '', 0, options.secure),
    ],
  };
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const type = (request.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    request.resume();
    throw new Refusal(415, 'Expected a form (application/x-www-form-urlencoded)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new Refusal(413, 'Form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---- pages ----------------------------------------------------------------------------------

const FLASHES: Readonly<Record<string, string>> = {
  backup: 'Backup requested: the agent starts it at its next check-in.',
  activated: 'Activated.',
  deactivated: 'Deactivated.',
};

function pageNumber(params: URLSearchParams): number {
  const page = Number(params.get('page') ?? '1');
  return Number.isInteger(page) && page >= 1 && page <= 100_000 ? page : 1;
}

function oneOf<T extends string>(values: readonly T[], value: string | null): T | undefined {
  return values.find((candidate) => candidate === value);
}

/** A search term, bounded: a LIKE over the fleet is cheap, a megabyte of pattern is not. */
function searchTerm(params: URLSearchParams): string | undefined {
  const q = params.get('q')?.trim().slice(0, 200);
  return q === '' ? undefined : q;
}

async function page(ctx: ApiContext, session: Session, path: string, params: URLSearchParams): Promise<Answer> {
  const context: pages.Layout = {
    admin: session.admin.name,
    csrf: session.csrf,
    flash: FLASHES[params.get('done') ?? ''],
  };
  const now = ctx.now();
  const ok = (body: Html): Answer => ({ kind: 'html', status: 200, body });
  switch (path) {
    case '/console':
      return ok(await overview(ctx, context));
    case '/console/machines': {
      const filter = { q: searchTerm(params), state: oneOf<MachineState>(MACHINE_STATES, params.get('state')) };
      const found = await ctx.db.transaction((tx) => searchMachines(tx, now, { ...filter, page: pageNumber(params) }));
      return ok(pages.machinesPage(context, filter, found));
    }
    case '/console/sources': {
      const machine = params.get('machine') ?? undefined;
      const filter = { q: searchTerm(params), state: oneOf<SourceState>(SOURCE_STATES, params.get('state')) };
      const found = await ctx.db.transaction((tx) =>
        searchSources(tx, now, { ...filter, machineUuid: machine, page: pageNumber(params) }),
      );
      return ok(
        machine === undefined
          ? pages.sourcesPage(context, filter, found)
          : pages.machineSourcesPage(context, machine, found),
      );
    }
    case '/console/source': {
      const detail = await ctx.db.transaction((tx) =>
        sourceDetail(tx, now, params.get('machine') ?? '', params.get('name') ?? ''),
      );
      if (detail === undefined)
        return { kind: 'html', status: 404, body: pages.notFoundPage(context, 'No such source.') };
      return ok(pages.sourcePage(context, detail));
    }
    case '/console/storages':
      return ok(pages.storagesPage(context, await ctx.db.transaction((tx) => storageSummaries(tx, now))));
    case '/console/logs': {
      const failedOnly = params.get('failed') === '1';
      const logs = await ctx.db.transaction((tx) => recentLogs(tx, { failedOnly, page: pageNumber(params) }));
      return ok(pages.logsPage(context, failedOnly, logs));
    }
    default:
      return { kind: 'html', status: 404, body: pages.notFoundPage(context, 'No such page.') };
  }
}

/** The overview page: fleet counts, the sources needing attention, the storages. */
export async function overview(ctx: ApiContext, context: pages.Layout): Promise<Html> {
  const now = ctx.now();
  const [counts, attention, storages, latest] = await ctx.db.transaction(
    async (tx) =>
      [
        await fleetCounts(tx, now),
        await attentionSources(tx, now),
        await storageSummaries(tx, now),
        await recentLogs(tx, { failedOnly: false, page: 1, pageSize: ATTENTION_ROWS }),
      ] as const,
  );
  return pages.overviewPage(context, counts, attention, storages, latest.rows);
}

// ---- actions --------------------------------------------------------------------------------

/** Where an action returns to: the page it was posted from, when that is a console page. */
function backTo(request: IncomingMessage, fallback: string): string {
  const referer = request.headers.referer;
  if (referer === undefined) return fallback;
  try {
    const url = new URL(referer);
    if (url.host !== request.headers.host || !isConsolePath(url.pathname)) return fallback;
    url.searchParams.delete('done');
    return `${url.pathname}${url.search}`;
  } catch {
    return fallback;
  }
}

function withFlash(location: string, done: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}done=${done}`;
}

async function act(
  ctx: ApiContext,
  options: ConsoleOptions,
  session: Session,
  token: string,
  path: string,
  form: URLSearchParams,
  request: IncomingMessage,
): Promise<Answer> {
  const field = (name: string) => form.get(name) ?? '';
  const switched = field('active') === '1';
  try {
    switch (path) {
      case '/console/logout':
        await endSession(ctx.db, token);
        return {
          kind: 'redirect',
          location: '/console/login',
          cookies: [cookie(SESSION_COOKIE, '', 0, options.secure)],
        };
      case '/console/sources/backup': {
        await backUpNow(ctx, field('machine'), field('name'));
        ctx.log.info(
          `console: ${session.admin.name} asked for a backup now of ${JSON.stringify([field('machine'), field('name')])}`,
        );
        const source = `/console/source?${new URLSearchParams({ machine: field('machine'), name: field('name') }).toString()}`;
        return { kind: 'redirect', location: withFlash(backTo(request, source), 'backup') };
      }
      case '/console/sources/active':
        await setSourceActive(ctx, field('machine'), field('name'), switched);
        ctx.log.info(
          `console: ${session.admin.name} set source ${JSON.stringify([field('machine'), field('name')])} active=${switched}`,
        );
        return {
          kind: 'redirect',
          location: withFlash(backTo(request, '/console/sources'), switched ? 'activated' : 'deactivated'),
        };
      case '/console/machines/active':
        await setMachineActive(ctx, field('machine'), switched);
        ctx.log.info(
          `console: ${session.admin.name} set machine ${JSON.stringify(field('machine'))} active=${switched}`,
        );
        return {
          kind: 'redirect',
          location: withFlash(backTo(request, '/console/machines'), switched ? 'activated' : 'deactivated'),
        };
      default:
        throw new Refusal(404, 'Not found');
    }
  } catch (error) {
    if (error instanceof AdminError) throw new Refusal(400, error.message);
    throw error;
  }
}
