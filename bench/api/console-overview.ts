import { median, percentile, round } from '../harness/stats.js';
import { createAuth } from './api-process.js';

/**
 * The web console's overview at the fleet's size (bench/api/README.md, "Steps, per backend"):
 * logs in as a console admin, then times `GET /console` one at a time over loopback, from the
 * request to the last byte of the page. One request at a time, so the time is the server's
 * (three aggregate queries, two LIMITed lists, the storages, the latest logs, and the page).
 */

export interface ConsoleOverviewResult {
  readonly runs: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly pageBytes: number;
}

function cookiePair(response: Response, name: string): string {
  const line = response.headers.getSetCookie().find((value) => value.startsWith(`${name}=`));
  if (line === undefined) throw new Error(`console: no ${name} cookie`);
  return line.split(';', 1)[0]!;
}

async function logIn(base: string, admin: { name: string; secret: string }): Promise<string> {
  const form = await fetch(`${base}/console/login`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (csrf === undefined) throw new Error('console: the login form has no CSRF token');
  const login = await fetch(`${base}/console/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookiePair(form, 'turku_console_login') },
    body: new URLSearchParams({ name: admin.name, secret: admin.secret, csrf }).toString(),
  });
  if (login.status !== 303) throw new Error(`console login: ${login.status}`);
  return cookiePair(login, 'turku_console');
}

export async function timeConsoleOverview(
  config: string,
  apiUrl: string,
  runs: number,
): Promise<ConsoleOverviewResult> {
  const admin = await createAuth(config, 'admin', 'bench-console');
  const base = apiUrl.replace(/\/v1$/, '');
  const cookie = await logIn(base, admin);
  const times: number[] = [];
  let pageBytes = 0;
  for (let run = -2; run < runs; run++) {
    const start = performance.now();
    const response = await fetch(`${base}/console`, { headers: { Cookie: cookie } });
    const page = await response.text();
    const elapsed = performance.now() - start;
    if (response.status !== 200 || !page.includes('<h1>Overview</h1>')) {
      throw new Error(`GET /console: ${response.status}`);
    }
    pageBytes = Buffer.byteLength(page);
    // Two warm-up requests first.
    if (run >= 0) times.push(elapsed);
  }
  return {
    runs: times.length,
    medianMs: round(median(times)),
    p90Ms: round(
      percentile(
        [...times].sort((a, b) => a - b),
        0.9,
      ),
    ),
    minMs: round(Math.min(...times)),
    maxMs: round(Math.max(...times)),
    pageBytes,
  };
}
