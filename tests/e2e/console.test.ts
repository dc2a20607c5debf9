import { jest } from '@jest/globals';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import puppeteer, { type Browser, type Page } from 'puppeteer-core';

import { createAdmin } from '../../lib/api/console/admins.js';
import { createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';

/**
 * The web console in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core):
 * login, the overview showing the machine of a real backup run (agent, storage and sshd as in
 * backup.test.ts), "back up now" starting a backup the agent's next ping makes (it then shows in
 * the source's history), a POST without the CSRF token refused, a logged-out request redirected.
 * It takes two screenshots; with TURKU_CONSOLE_SCREENSHOTS=docs they replace the ones committed
 * as docs/console-overview.png and docs/console-source.png (otherwise they stay in the test's
 * temporary directory, so a test run leaves the checkout as it was).
 */

jest.setTimeout(120_000);

const CHROMIUM = '/usr/bin/chromium';
const DOCS = fileURLToPath(new URL('../../docs', import.meta.url));

/** Where a screenshot goes: docs/ when asked for, else the test's own directory. */
async function screenshot(name: string): Promise<void> {
  const dir = process.env.TURKU_CONSOLE_SCREENSHOTS === 'docs' ? DOCS : world.root;
  const path = join(dir, name);
  await page.screenshot({ path });
  expect((await stat(path)).size).toBeGreaterThan(10_000);
}

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let browser: Browser;
let page: Page;
let base: string;
let uuid: string;
let admin: { name: string; secret: string };

beforeAll(async () => {
  world = await createWorld('console');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('web');
  const data = join(world.root, 'data');
  await writeSampleTree(data);
  await agent.setSources({ etc: { path: data, retention: 'last 3 snapshots' } });
  await world.register(storage, agent);
  uuid = await agent.uuid();
  // A real backup run before anyone opens the console.
  await world.backUp(agent, 'etc');
  admin = await createAdmin(world.api.api.ctx.db, 'ops', world.api.clock);
  base = world.api.url.replace(/\/v1$/, '');
  // Root in a container: Chromium's sandbox needs user namespaces it may not have.
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 760 });
});
afterAll(async () => {
  await browser?.close();
  await world?.destroy();
});

/** An element as the page functions see it (the project's types have no DOM library). */
interface HasText {
  readonly textContent: string | null;
}

async function textOf(selector: string): Promise<string> {
  const text: unknown = await page.$eval(selector, (element: HasText) => element.textContent ?? '');
  return String(text);
}
async function historyRows(): Promise<string[]> {
  const rows: unknown = await page.$$eval('h2 + table tbody tr', (found: HasText[]) =>
    found.map((row) => row.textContent ?? ''),
  );
  return rows as string[];
}

test('a logged-out request is sent to the login page', async () => {
  const response = await page.goto(`${base}/console/sources?state=failing`);
  expect(new URL(page.url()).pathname).toBe('/console/login');
  expect(response?.status()).toBe(200);
  expect(await textOf('h1')).toBe('Turku console');
});

test('login with the admin credential; the overview shows the machine of the backup run', async () => {
  await page.goto(`${base}/console/login`);
  await page.type('#name', admin.name);
  await page.type('#secret', 'wrong secret of thirty chars!!');
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  expect(await textOf('.bad')).toBe('Wrong name or secret.');

  await page.type('#name', admin.name);
  await page.type('#secret', admin.secret);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  expect(new URL(page.url()).pathname).toBe('/console');
  expect(await textOf('h1')).toBe('Overview');
  const cookies = await browser.defaultBrowserContext().cookies();
  const session = cookies.find((cookie) => cookie.name === 'turku_console')!;
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
  const text = await textOf('main');
  expect(text).toMatch(/Machines\s*1/);
  expect(text).toContain('web/0');
  expect(text).toContain('primary');
  expect(text).not.toContain(admin.secret);
  await screenshot('console-overview.png');
});

test('"back up now" starts a backup that then appears in the source\'s history', async () => {
  await Promise.all([page.waitForNavigation(), page.click(`a[href="/console/source?machine=${uuid}&name=etc"]`)]);
  expect(await textOf('h1')).toBe('web/0 · etc');
  const before = await historyRows();
  expect(before).toHaveLength(1);
  // The API's clock moves on, so the new log sorts after the first.
  world.api.clock = new Date(Math.max(Date.now(), world.api.clock.getTime() + 1000));
  const backUpNow = await page.$$('form[action="/console/sources/backup"] button');
  expect(backUpNow).toHaveLength(1);
  await Promise.all([page.waitForNavigation(), backUpNow[0]!.click()]);
  expect(await textOf('.flash')).toContain('Backup requested');
  // The agent's next check-in runs it.
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });
  await page.reload();
  const after = await historyRows();
  expect(after).toHaveLength(2);
  expect(after[0]).toMatch(/ok/);
  expect(after[0]).toContain('Base snapshot: etc_');
  await screenshot('console-source.png');
});

test('a POST without the CSRF token is refused (403) and changes nothing', async () => {
  const cookies = await browser.defaultBrowserContext().cookies();
  const session = cookies.find((cookie) => cookie.name === 'turku_console')!;
  const response = await fetch(`${base}/console/machines/active`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `turku_console=${session.value}` },
    body: new URLSearchParams({ machine: uuid, active: '0' }).toString(),
  });
  expect(response.status).toBe(403);
  await page.goto(`${base}/console/machines?state=inactive`);
  expect(await textOf('main')).not.toContain(uuid);
  // The same action from the page's own form (which carries the token) works.
  await page.goto(`${base}/console/machines`);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/console/machines/active"] button')]);
  await page.goto(`${base}/console/machines?state=inactive`);
  expect(await textOf('main')).toContain(uuid);
});

test('after logging out, the console is out of reach again', async () => {
  await Promise.all([page.waitForNavigation(), page.click('form[action="/console/logout"] button')]);
  expect(new URL(page.url()).pathname).toBe('/console/login');
  await page.goto(`${base}/console/storages`);
  expect(new URL(page.url()).pathname).toBe('/console/login');
});
