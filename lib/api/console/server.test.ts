import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { registerStorage, startTestApi, type TestApi } from '../../../tests/support/api-harness.js';
import { createAuth } from '../admin/commands.js';
import { createAdmin, ensureAdmin, verifyAdmin } from './admins.js';
import { CONTENT_SECURITY_POLICY } from './server.js';
import { csrfMatches, parseCookies } from './sessions.js';

/**
 * The console's login, sessions, CSRF checks and escaping through real HTTP on a real turku-api
 * (SQLite). The browser test (tests/e2e/console.test.ts) drives the same pages in Chromium.
 */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const HOUR = 3_600_000;

let t: TestApi;
let base: string;
let admin: { name: string; secret: string };

beforeEach(async () => {
  t = await startTestApi('sqlite', { console_session_hours: 2 });
  base = t.url.replace(/\/v1$/, '');
  admin = await createAdmin(t.api.ctx.db, 'ops', t.clock);
});
afterEach(() => t.close());

const get = (path: string, cookie?: string) =>
  fetch(`${base}${path}`, { redirect: 'manual', headers: cookie === undefined ? {} : { Cookie: cookie } });

const post = (path: string, form: Record<string, string>, cookie?: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(cookie === undefined ? {} : { Cookie: cookie }),
    },
    body: new URLSearchParams(form).toString(),
  });

/** The `name=value` parts of a response's Set-Cookie headers. */
function setCookies(response: Response): Map<string, string> {
  return parseCookies(
    response.headers
      .getSetCookie()
      .map((line) => line.split(';', 1)[0]!)
      .join('; '),
  );
}

const hiddenCsrf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1];

/** Logs in as a browser does: the form (its cookie and field), then the POST. Returns the session cookie. */
async function logIn(secret = admin.secret): Promise<{ cookie: string; csrf: string }> {
  const form = await get('/console/login');
  const loginCookie = setCookies(form).get('turku_console_login')!;
  const response = await post(
    '/console/login',
    { name: admin.name, secret, csrf: hiddenCsrf(await form.text())! },
    `turku_console_login=${loginCookie}`,
  );
  expect(response.status).toBe(303);
  const cookie = `turku_console=${setCookies(response).get('turku_console')!}`;
  const overview = await get('/console', cookie);
  return { cookie, csrf: hiddenCsrf(await overview.text())! };
}

async function registerMachine(unitName: string): Promise<void> {
  await registerStorage(t, { space_available: 250 });
  const machineAuth = await createAuth(t.api.ctx, 'machine_reg');
  const machine = await t.post('update_config', {
    auth: machineAuth,
    machine: {
      uuid: UUID,
      secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
      unit_name: unitName,
      ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku',
      sources: { etc: { path: '/etc' } },
    },
  });
  expect(machine.status).toBe(200);
}

describe('console login and sessions', () => {
  it('sends a logged-out request to the login page, with the security headers', async () => {
    for (const path of ['/console', '/console/machines', '/console/source?machine=x&name=y']) {
      const response = await get(path);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/console/login');
    }
    const login = await get('/console/login');
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(login.headers.get('x-frame-options')).toBe('DENY');
    expect(await login.text()).not.toContain('<script');
  });

  it('logs in with the right secret into an HttpOnly SameSite=Strict session cookie', async () => {
    const form = await get('/console/login');
    const loginCookie = setCookies(form).get('turku_console_login')!;
    const csrf = hiddenCsrf(await form.text())!;
    const wrong = await post(
      '/console/login',
      { name: admin.name, secret: 'not-the-secret-at-all-xxxxxxx', csrf },
      `turku_console_login=${loginCookie}`,
    );
    expect(wrong.status).toBe(403);
    expect(setCookies(wrong).has('turku_console')).toBe(false);
    const right = await post(
      '/console/login',
      { name: admin.name, secret: admin.secret, csrf },
      `turku_console_login=${loginCookie}`,
    );
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/console');
    const line = right.headers.getSetCookie().find((value) => value.startsWith('turku_console='))!;
    expect(line).toMatch(/^turku_console=[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=7200$/);
    const overview = await get('/console', line.split(';', 1)[0]);
    expect(overview.status).toBe(200);
    const page = await overview.text();
    expect(page).toContain('<h1>Overview</h1>');
    // The secret is never shown; the session token neither.
    expect(page).not.toContain(admin.secret);
    expect(page).not.toContain(line.split(';', 1)[0]!.split('=')[1]!);
  });

  it('refuses a login whose form token does not match its cookie (login CSRF)', async () => {
    const form = await get('/console/login');
    const csrf = hiddenCsrf(await form.text())!;
    expect((await post('/console/login', { name: admin.name, secret: admin.secret, csrf })).status).toBe(403);
    expect(
      (await post('/console/login', { name: admin.name, secret: admin.secret, csrf }, 'turku_console_login=other'))
        .status,
    ).toBe(403);
  });

  it('expires a session after console_session_hours, and ends it at logout', async () => {
    const first = await logIn();
    t.clock = new Date(t.clock.getTime() + 2 * HOUR - 1000);
    expect((await get('/console', first.cookie)).status).toBe(200);
    t.clock = new Date(t.clock.getTime() + 2000);
    expect((await get('/console', first.cookie)).status).toBe(303);

    const second = await logIn();
    const out = await post('/console/logout', { csrf: second.csrf }, second.cookie);
    expect(out.status).toBe(303);
    expect((await get('/console', second.cookie)).status).toBe(303);
  });

  it('ends the sessions of an admin whose secret changes', async () => {
    const session = await logIn();
    expect(await ensureAdmin(t.api.ctx.db, admin.name, admin.secret, t.clock)).toBe('unchanged');
    expect((await get('/console', session.cookie)).status).toBe(200);
    expect(await ensureAdmin(t.api.ctx.db, admin.name, 'a-brand-new-secret-of-30-chars', t.clock)).toBe('updated');
    expect((await get('/console', session.cookie)).status).toBe(303);
    expect(await verifyAdmin(t.api.ctx.db, admin.name, admin.secret)).toBeUndefined();
    expect(await verifyAdmin(t.api.ctx.db, admin.name, 'a-brand-new-secret-of-30-chars')).toMatchObject({
      name: 'ops',
    });
  });
});

describe('console setting', () => {
  it('console: false leaves /console unserved (404), /v1 as before', async () => {
    const off = await startTestApi('sqlite', { console: false });
    try {
      const offBase = off.url.replace(/\/v1$/, '');
      expect((await fetch(`${offBase}/console/login`)).status).toBe(404);
      expect((await fetch(`${off.url}/health`)).status).toBe(200);
    } finally {
      await off.close();
    }
    expect((await get('/console/login')).status).toBe(200);
  });
});

describe('console CSRF protection', () => {
  it('refuses a POST without the session CSRF token or with another one (403), and does nothing', async () => {
    await registerMachine('web/0');
    const session = await logIn();
    const other = await logIn();
    expect(other.csrf).not.toBe(session.csrf);
    for (const form of [{}, { csrf: '' }, { csrf: other.csrf }, { csrf: `${session.csrf}x` }]) {
      const response = await post('/console/machines/active', { machine: UUID, active: '0', ...form }, session.cookie);
      expect(response.status).toBe(403);
    }
    expect((await get('/console/machines?state=inactive', session.cookie).then((r) => r.text())).includes(UUID)).toBe(
      false,
    );
    const done = await post(
      '/console/machines/active',
      { machine: UUID, active: '0', csrf: session.csrf },
      session.cookie,
    );
    expect(done.status).toBe(303);
    expect(await get('/console/machines?state=inactive', session.cookie).then((r) => r.text())).toContain(UUID);
  });

  it('compares tokens exactly and never accepts an empty one', () => {
    expect(csrfMatches('abc', 'abc')).toBe(true);
    expect(csrfMatches('abc', 'abd')).toBe(false);
    expect(csrfMatches('abc', 'ab')).toBe(false);
    expect(csrfMatches('abc', undefined)).toBe(false);
    expect(csrfMatches('', '')).toBe(false);
  });
});

describe('console pages', () => {
  it('escapes what machines report: a hostile unit name stays text on every page', async () => {
    await registerMachine('<img src=x onerror=alert(1)>/0');
    const session = await logIn();
    for (const path of ['/console/machines', '/console/sources', `/console/source?machine=${UUID}&name=etc`]) {
      const page = await get(path, session.cookie).then((r) => r.text());
      expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;/0');
      expect(page).not.toContain('<img');
    }
    const search = await get('/console/sources?q=%22%3E%3Cscript%3E', session.cookie).then((r) => r.text());
    expect(search).toContain('value="&quot;&gt;&lt;script&gt;"');
    expect(search).not.toContain('<script');
  });

  it('"back up now" makes the source due at once; search and filters find it', async () => {
    await registerMachine('db/0');
    const session = await logIn();
    const sources = await get('/console/sources?q=DB%2F&state=ok', session.cookie).then((r) => r.text());
    expect(sources).toContain('db/0');
    const none = await get('/console/sources?q=zzz', session.cookie).then((r) => r.text());
    expect(none).not.toContain('db/0');
    const response = await post(
      '/console/sources/backup',
      { machine: UUID, name: 'etc', csrf: session.csrf },
      session.cookie,
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/console/source?machine=${UUID}&name=etc&done=backup`);
    const { Store } = await import('../store.js');
    const due = await t.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      return store.dueSources((await store.machineByUuid(UUID))!.id, t.clock);
    });
    expect(due.map((source) => source.name)).toEqual(['etc']);
    const unknown = await post(
      '/console/sources/backup',
      { machine: UUID, name: 'nope', csrf: session.csrf },
      session.cookie,
    );
    expect(unknown.status).toBe(400);
  });

  it('the overview counts failing and overdue sources and shows why a failing one failed', async () => {
    await registerMachine('db/0');
    const session = await logIn();
    const { Store } = await import('../store.js');
    const sourceId = await t.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      const [source] = await store.sourcesOfMachine((await store.machineByUuid(UUID))!.id);
      await store.insert('backup_logs', {
        source_id: source!.id,
        date: t.clock,
        success: false,
        skipped: false,
        summary: 'rsync: <connection> refused',
      });
      await store.recordFailure(source!.id);
      return source!.id;
    });
    const card = (label: string, value: number, cls = '') =>
      new RegExp(`<span>${label}</span>\\s*<b class="${cls}">${value}</b>`);
    let page = await get('/console', session.cookie).then((r) => r.text());
    expect(page).toMatch(card('Failing', 1, 'bad'));
    expect(page).toMatch(card('Overdue', 0));
    expect(page).toContain('rsync: &lt;connection&gt; refused');

    // Succeeded since, but its next backup is 11 hours late: overdue, no longer failing.
    await t.api.ctx.db.transaction((tx) =>
      new Store(tx).update('sources', sourceId, {
        success: true,
        failure_count: 0,
        date_next_backup: new Date(t.clock.getTime() - 11 * HOUR),
      }),
    );
    page = await get('/console', session.cookie).then((r) => r.text());
    expect(page).toMatch(card('Failing', 0));
    expect(page).toMatch(card('Overdue', 1, 'warn'));
    expect(await get('/console/sources?state=overdue', session.cookie).then((r) => r.text())).toContain('db/0');
    expect(await get('/console/sources?state=failing', session.cookie).then((r) => r.text())).not.toContain('db/0');
  });

  it('deactivating a source takes it out of check-ins', async () => {
    await registerMachine('db/0');
    const session = await logIn();
    await post('/console/sources/backup', { machine: UUID, name: 'etc', csrf: session.csrf }, session.cookie);
    const off = await post(
      '/console/sources/active',
      { machine: UUID, name: 'etc', active: '0', csrf: session.csrf },
      session.cookie,
    );
    expect(off.status).toBe(303);
    const page = await get(`/console/source?machine=${UUID}&name=etc`, session.cookie).then((r) => r.text());
    expect(page).toContain('<span class="inactive">inactive</span>');
    const checkin = await t.post('agent_ping_checkin', {
      machine: { uuid: UUID, secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL' },
    });
    expect(Object.keys((checkin.json() as { scheduled_sources: object }).scheduled_sources)).toEqual([]);
    await post(
      '/console/sources/active',
      { machine: UUID, name: 'etc', active: '1', csrf: session.csrf },
      session.cookie,
    );
    const again = await t.post('agent_ping_checkin', {
      machine: { uuid: UUID, secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL' },
    });
    expect(Object.keys((again.json() as { scheduled_sources: object }).scheduled_sources)).toEqual(['etc']);
  });
});
