import { afterAll, afterEach, describe, expect, it } from '@jest/globals';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../../tests/support/api-harness.js';
import { createAuth } from '../admin/commands.js';
import { parseSettings } from '../settings.js';
import { bearerMatches, SharedScrape } from './endpoint.js';
import { escapeLabel, PerSourceText } from './exposition.js';
import { frequencyPeriodSeconds } from './frequency-period.js';

/** `GET /metrics` on both backends (docs/api.md, "Metrics"): what it counts, and who may read it. */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE_SECRET = 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4';
const TOKEN = 'metrics-token-0123456789abcdef';
const T0 = new Date('2024-12-15T07:00:00Z');
const HOUR = 3600_000;

afterAll(stopPostgres);

/** The value of one sample, or undefined if the text has no such series. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const SOURCE_LABELS = (source: string) => `machine="web/0",machine_uuid="${UUID}",source="${source}"`;

async function fleet(t: TestApi): Promise<void> {
  const storageAuth = await createAuth(t.api.ctx, 'storage_reg');
  const machineAuth = await createAuth(t.api.ctx, 'machine_reg');
  const storage = {
    name: 'primary',
    secret: STORAGE_SECRET,
    ssh_ping_host: 'h',
    ssh_ping_port: 22,
    ssh_ping_user: 'u',
    space_total: 1000,
    space_available: 150,
  };
  expect((await t.post('storage_update_config', { auth: storageAuth, storage })).status).toBe(200);
  const machine = {
    uuid: UUID,
    secret: SECRET,
    unit_name: 'web/0',
    ssh_public_key: KEY,
    sources: { etc: { path: '/etc', frequency: 'daily' }, home: { path: '/home', frequency: 'hourly' } },
  };
  expect((await t.post('update_config', { auth: machineAuth, machine })).status).toBe(200);
  const refused = { ...machine, uuid: '1c7e2f40-8d1b-4c5e-9a3f-2b6d8e0f1a23' };
  expect((await t.post('update_config', { auth: 'wrong', machine: refused })).status).toBe(403);
  expect((await t.post('agent_ping_checkin', { machine: { uuid: UUID, secret: SECRET } })).status).toBe(200);
  expect((await t.post('agent_ping_checkin', { machine: { uuid: UUID, secret: 'wrong' } })).status).toBe(403);
  t.clock = new Date(T0.getTime() + HOUR);
  const report = (sources: Record<string, unknown>) =>
    t.post('storage_ping_source_update', {
      storage: { name: 'primary', secret: STORAGE_SECRET },
      machine: { uuid: UUID, sources },
    });
  expect((await report({ etc: { success: true, time_begin: 1, time_end: 2 } })).status).toBe(200);
  for (let i = 0; i < 3; i++) expect((await report({ home: { success: false } })).status).toBe(200);
}

async function scrape(t: TestApi, headers: Record<string, string> = {}) {
  const response = await fetch(t.url.replace(/\/v1$/, '/metrics'), { headers });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe.each(BACKENDS)('/metrics on %s', (backend) => {
  let t: TestApi;
  afterEach(() => t.close());

  it('counts sources by state, storages, and the events of this process; per source the last success, attempt, failures and overdue', async () => {
    t = await startTestApi(backend);
    t.clock = T0;
    await fleet(t);
    t.clock = new Date(T0.getTime() + 1.5 * HOUR);
    const first = await scrape(t);
    let text = first.text;
    expect([first.status, first.type]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
    // etc succeeded; home failed three times but, hourly and added 1.5 hours ago, is not overdue yet.
    expect(sample(text, 'turku_sources', 'state="ok"')).toBe(1);
    expect(sample(text, 'turku_sources', 'state="failing"')).toBe(1);
    expect(sample(text, 'turku_sources', 'state="overdue"')).toBe(0);
    expect(sample(text, 'turku_sources_failing_repeatedly')).toBe(1);
    expect(sample(text, 'turku_machines')).toBe(1);
    expect(sample(text, 'turku_metrics_per_source')).toBe(1);
    // Reported in MiB, exported in bytes.
    expect(sample(text, 'turku_storage_total_bytes', 'storage="primary"')).toBe(1000 * 2 ** 20);
    expect(sample(text, 'turku_storage_free_bytes', 'storage="primary"')).toBe(150 * 2 ** 20);
    expect(sample(text, 'turku_storage_machines', 'storage="primary"')).toBe(1);
    expect(sample(text, 'turku_storage_last_checkin_timestamp_seconds', 'storage="primary"')).toBe(T0.getTime() / 1000);
    expect(sample(text, 'turku_machines_oldest_checkin_timestamp_seconds')).toBe(T0.getTime() / 1000);
    expect(sample(text, 'turku_backups_total', 'result="success"')).toBe(1);
    expect(sample(text, 'turku_backups_total', 'result="failure"')).toBe(3);
    expect(sample(text, 'turku_registrations_total', 'kind="storage",result="registered"')).toBe(1);
    expect(sample(text, 'turku_registrations_total', 'kind="machine",result="registered"')).toBe(1);
    expect(sample(text, 'turku_registrations_total', 'kind="machine",result="refused"')).toBe(1);
    expect(sample(text, 'turku_checkins_total', 'kind="agent",result="ok"')).toBe(1);
    expect(sample(text, 'turku_checkins_total', 'kind="agent",result="refused"')).toBe(1);
    expect(
      sample(text, 'turku_api_request_duration_seconds_count', 'view="storage_ping_source_update",result="ok"'),
    ).toBe(4);
    const oneHourIn = (T0.getTime() + HOUR) / 1000;
    expect(sample(text, 'turku_source_last_success_timestamp_seconds', SOURCE_LABELS('etc'))).toBe(oneHourIn);
    expect(sample(text, 'turku_source_last_success_timestamp_seconds', SOURCE_LABELS('home'))).toBeUndefined();
    expect(sample(text, 'turku_source_last_attempt_timestamp_seconds', SOURCE_LABELS('home'))).toBe(oneHourIn);
    expect(sample(text, 'turku_source_consecutive_failures', SOURCE_LABELS('home'))).toBe(3);
    expect(sample(text, 'turku_source_consecutive_failures', SOURCE_LABELS('etc'))).toBe(0);
    expect(sample(text, 'turku_source_overdue', SOURCE_LABELS('home'))).toBe(0);
    expect(sample(text, 'turku_machine_last_checkin_timestamp_seconds', `machine="web/0",machine_uuid="${UUID}"`)).toBe(
      T0.getTime() / 1000,
    );

    // Two days and more without a success: both overdue (etc is daily, home hourly).
    t.clock = new Date(T0.getTime() + 49 * HOUR + 1000);
    ({ text } = await scrape(t));
    expect(sample(text, 'turku_sources', 'state="overdue"')).toBe(2);
    expect(sample(text, 'turku_sources', 'state="ok"')).toBe(0);
    expect(sample(text, 'turku_source_overdue', SOURCE_LABELS('etc'))).toBe(1);

    // A skipped run is an attempt too (the source stays due); pruning the logs keeps the attempt.
    t.clock = new Date(T0.getTime() + 50 * HOUR);
    const skipped = await t.post('storage_ping_source_update', {
      storage: { name: 'primary', secret: STORAGE_SECRET },
      machine: { uuid: UUID, sources: { etc: { success: false, skipped: true } } },
    });
    expect(skipped.status).toBe(200);
    await t.api.ctx.db.transaction((tx) => tx.run('DELETE FROM backup_logs'));
    t.clock = new Date(T0.getTime() + 51 * HOUR);
    ({ text } = await scrape(t));
    expect(sample(text, 'turku_source_last_attempt_timestamp_seconds', SOURCE_LABELS('etc'))).toBe(
      (T0.getTime() + 50 * HOUR) / 1000,
    );
    expect(sample(text, 'turku_source_last_success_timestamp_seconds', SOURCE_LABELS('etc'))).toBe(oneHourIn);
  }, 30_000);

  it('without per-source series keeps the aggregates; with a token refuses other callers without saying why', async () => {
    t = await startTestApi(backend, { metrics_per_source: false, metrics_token: TOKEN });
    t.clock = T0;
    await fleet(t);
    for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: `Basic ${TOKEN}` }]) {
      const refused = await scrape(t, headers);
      expect([refused.status, refused.text]).toEqual([401, 'Bad auth\n']);
    }
    const { status, text } = await scrape(t, { Authorization: `Bearer ${TOKEN}` });
    expect(status).toBe(200);
    expect(sample(text, 'turku_metrics_per_source')).toBe(0);
    expect(sample(text, 'turku_sources', 'state="failing"')).toBe(1);
    expect(text).not.toContain('turku_source_');
    expect(text).not.toContain('turku_machine_last');
    expect(t.log.lines.join('\n')).not.toContain(TOKEN);
    const post = await fetch(t.url.replace(/\/v1$/, '/metrics'), { method: 'POST' });
    expect(post.status).toBe(405);
  }, 30_000);
});

describe('parallel scrapes', () => {
  let t: TestApi;
  afterEach(() => t.close());

  it.each(BACKENDS)(
    'on %s share one reading of the database: a burst of requests costs one scrape',
    async (backend) => {
      t = await startTestApi(backend);
      t.clock = T0;
      await fleet(t);
      const db = t.api.ctx.db;
      const transaction = db.transaction.bind(db);
      let transactions = 0;
      db.transaction = ((work: Parameters<typeof transaction>[0]) => {
        transactions += 1;
        return transaction(work);
      }) as typeof db.transaction;
      const readSnapshot = db.readSnapshot.bind(db);
      let snapshots = 0;
      db.readSnapshot = ((work: Parameters<typeof readSnapshot>[0]) => {
        snapshots += 1;
        return readSnapshot(work);
      }) as typeof db.readSnapshot;
      const answers = await Promise.all(Array.from({ length: 8 }, () => scrape(t)));
      expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
      expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
      // One fleet reading (its five reads side by side: fleet-readings.ts, readFleet) and one
      // per-source reading for all eight.
      expect([transactions, snapshots]).toEqual([5, 1]);
    },
    30_000,
  );

  it('a reading answers for SHARED_SCRAPE_MS after it finished, then the next scrape reads again', async () => {
    const shared = new SharedScrape<string>(2_000);
    let calls = 0;
    const read = () => Promise.resolve(`reading ${++calls}\n`);
    await expect(shared.body(10_000, read)).resolves.toBe('reading 1\n');
    await expect(shared.body(11_999, read)).resolves.toBe('reading 1\n');
    await expect(shared.body(12_000, read)).resolves.toBe('reading 2\n');
    // A clock set back does not keep an old reading.
    await expect(shared.body(9_000, read)).resolves.toBe('reading 3\n');
  });

  it('a reading is let go once its window has passed in real time too (its text is not held between scrapes)', async () => {
    const shared = new SharedScrape<string>(50);
    let calls = 0;
    const read = () => Promise.resolve(`reading ${++calls}\n`);
    await shared.body(0, read);
    await new Promise((resolve) => setTimeout(resolve, 120));
    // The same API time, but the reading was dropped: read again.
    await expect(shared.body(0, read)).resolves.toBe('reading 2\n');
  });

  it('a failed reading is not kept: the next scrape reads again', async () => {
    const shared = new SharedScrape<string>();
    let calls = 0;
    const failing = () => {
      calls += 1;
      return Promise.reject(new Error('database gone'));
    };
    await expect(Promise.all([shared.body(0, failing), shared.body(0, failing)])).rejects.toThrow('database gone');
    expect(calls).toBe(1);
    await expect(shared.body(0, () => Promise.resolve('ok\n'))).resolves.toBe('ok\n');
  });
});

describe('pieces', () => {
  it('periods of frequencies: calendar forms, a cron expression by its widest gap, none for nonsense', () => {
    const schedule = { timeZone: 'UTC' };
    expect(frequencyPeriodSeconds('hourly', schedule)).toBe(3600);
    expect(frequencyPeriodSeconds('Daily, 0300-0500', schedule)).toBe(86_400);
    expect(frequencyPeriodSeconds('tuesday', schedule)).toBe(7 * 86_400);
    expect(frequencyPeriodSeconds('cron 0 */6 * * *', schedule)).toBe(6 * 3600);
    expect(frequencyPeriodSeconds('cron 0 3 * * 1,2', schedule)).toBe(6 * 86_400);
    expect(frequencyPeriodSeconds('fortnightly', schedule)).toBeUndefined();
  });

  it('per-source text of a large fleet: in chunks of about a megabyte, each family whole and in order', () => {
    const text = new PerSourceText();
    const machines = Array.from({ length: 10_000 }, (_, i) => ({
      machineUuid: `uuid-${i}`,
      machine: `web/${i}`,
      lastCheckin: 1_700_000_000 + i,
    }));
    for (const machine of machines) text.machine(machine);
    for (const machine of machines) {
      for (const source of ['etc', 'home"q']) {
        text.source({ machine, source, lastSuccess: 1, lastAttempt: 2, consecutiveFailures: 0, overdue: false });
      }
    }
    const chunks = text.take();
    expect(chunks.length).toBeGreaterThan(5);
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThan(1.1 * 2 ** 20);
    const lines = Buffer.concat(chunks).toString().split('\n');
    expect(lines.pop()).toBe('');
    // Each family's name in one run of lines, after its HELP and TYPE, in the order written.
    const families = lines.filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2]);
    expect(families).toEqual([
      'turku_source_last_success_timestamp_seconds',
      'turku_source_last_attempt_timestamp_seconds',
      'turku_source_consecutive_failures',
      'turku_source_overdue',
      'turku_machine_last_checkin_timestamp_seconds',
    ]);
    const runs = lines.filter((line) => !line.startsWith('#')).map((line) => line.slice(0, line.indexOf('{')));
    expect(runs.filter((name, i) => i === 0 || runs[i - 1] !== name)).toEqual(families);
    expect(runs.length).toBe(4 * 20_000 + 10_000);
    expect(lines).toContain('turku_source_overdue{machine="web/9999",machine_uuid="uuid-9999",source="home\\"q"} 0');
  });

  it('escapes label values as the text format wants', () => {
    expect(escapeLabel('plain/0')).toBe('plain/0');
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('takes only the exact bearer token', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer  ${TOKEN} `, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
  });

  it('settings: per-source series on by default, a token too short to be one refused', () => {
    expect(parseSettings({}).metrics_per_source).toBe(true);
    expect(() => parseSettings({ metrics_token: 'short' })).toThrow(/metrics_token/);
  });
});
