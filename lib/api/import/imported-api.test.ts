import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';

import { startTestApi, type TestApi } from '../../../tests/support/api-harness.js';
import { IDS, originalFleet, SECRETS, WEB_KEY } from '../../../tests/support/original-fleet.js';
import { createOriginalPostgres, createOriginalSqlite } from '../../../tests/support/original-turku.js';
import { createDatabase, startPostgres, type PostgresServer } from '../../../tests/support/postgres-server.js';
import { setActive, triggerBackup } from '../admin/commands.js';
import { migrate } from '../db/migrations.js';
import { openPostgres } from '../db/postgres.js';
import { openSqlite } from '../db/sqlite.js';
import { Store } from '../store.js';
import { importOriginal } from './run.js';

/**
 * The point of an import: our real API, started on the imported database, serves the original's
 * machines and storages as they are. Each logs in with its old secret (the Django hash is checked
 * once, then replaced by our fast one), and the due source is handed out, backed up and
 * rescheduled. Both directions: an SQLite original into ours on PostgreSQL, and the reverse.
 */

jest.setTimeout(180_000);

let server: PostgresServer;
let dir: string;

beforeAll(async () => {
  [server, dir] = await Promise.all([startPostgres(), mkdtemp(join(tmpdir(), 'turku-imported-'))]);
});
afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const urlOf = (name: string) => server.url.replace(/\/[^/]*$/, `/${name}`);
const FAST = /^hmac-sha256\$/;

type Dialect = 'sqlite' | 'postgres';
const PAIRS: [Dialect, Dialect][] = [
  ['sqlite', 'postgres'],
  ['postgres', 'sqlite'],
];

describe.each(PAIRS)('an original on %s imported into ours on %s', (originalDialect, oursDialect) => {
  let t: TestApi;
  let from: string;

  beforeAll(async () => {
    const fleet = await originalFleet();
    if (originalDialect === 'sqlite') {
      from = join(dir, `original-${oursDialect}.sqlite3`);
      await createOriginalSqlite(from, fleet);
    } else {
      from = urlOf(await createDatabase(server, 'original'));
      await createOriginalPostgres(from, fleet);
    }
    const share =
      oursDialect === 'sqlite'
        ? { databasePath: join(dir, `ours-${originalDialect}.db`) }
        : { databaseUrl: urlOf(await createDatabase(server, 'ours')) };
    // Imported while no API runs, as an operator would; then the API starts on that database.
    const db = share.databasePath !== undefined ? openSqlite(share.databasePath) : openPostgres(share.databaseUrl);
    try {
      await migrate(db);
      await importOriginal(db, from);
    } finally {
      await db.close();
    }
    t = await startTestApi(oursDialect, {}, share);
    t.clock = new Date('2024-12-15T07:00:00Z');
  });
  afterAll(() => t?.close());

  const store = <T>(use: (store: Store) => Promise<T>) => t.api.ctx.db.transaction((tx) => use(new Store(tx)));
  const machine = (uuid: string) => store((s) => s.machineByUuid(uuid));
  const webLogin = { uuid: IDS.webUuid, secret: SECRETS.web };
  const primaryLogin = { name: 'primary', secret: SECRETS.primary };

  test('a machine checks in with its old secret, which is then re-hashed; it gets its due source', async () => {
    expect((await machine(IDS.webUuid))?.secret_hash).toMatch(/^argon2\$argon2id\$/);
    const wrong = await t.post('agent_ping_checkin', { machine: { ...webLogin, secret: SECRETS.db } });
    expect([wrong.status, wrong.text.trim()]).toEqual([403, 'Bad auth']);

    const checkin = await t.post('agent_ping_checkin', { machine: webLogin });
    expect(checkin.status).toBe(200);
    expect((await machine(IDS.webUuid))?.secret_hash).toMatch(FAST);
    const scheduled = (checkin.json() as { machine: { scheduled_sources: Record<string, unknown> } }).machine
      .scheduled_sources;
    expect(scheduled).toEqual({
      etc: {
        path: '/etc',
        retention: 'last 5 days, earliest of month',
        bwlimit: '2M',
        // "merge common" expanded with the imported filter sets (common pulls in base).
        filter: ['- *.tmp', '+ /etc/', '- *.swp', '- /etc/ssl/private/'],
        exclude: ['*.dpkg-old', 'shadow~'],
        shared_service: true,
        large_rotating_files: true,
        large_modifying_files: true,
        snapshot_mode: 'link-dest',
        preserve_hard_links: true,
        storage: {
          name: 'primary',
          ssh_ping_host: 'backup1.example.com',
          ssh_ping_host_keys: [
            'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFh0c3RrZXkxMjM0NTY3ODkwYWJjZGVmZ2hpamts',
            'ssh-rsa AAAAB3NzaC1yc2E=',
          ],
          ssh_ping_port: 22,
          ssh_ping_user: 'turku-ping',
        },
      },
    });
    // The fast hash verifies the same secret from now on.
    expect((await t.post('agent_ping_checkin', { machine: webLogin })).status).toBe(200);
    expect((await t.post('agent_ping_checkin', { machine: { ...webLogin, secret: SECRETS.db } })).status).toBe(403);
  });

  test('its storage logs in with its old secret, sees the machine, backs up the source and reports it', async () => {
    expect((await store((s) => s.storageByName('primary')))?.secret_hash).toMatch(/^argon2\$/);
    const config = await t.post('storage_update_config', { storage: primaryLogin });
    expect(config.status).toBe(200);
    expect((await store((s) => s.storageByName('primary')))?.secret_hash).toMatch(FAST);
    // db/0 is unpublished and old/3 inactive (on the retired storage): only web/0 is authorized.
    expect(config.json()).toEqual({
      machines: {
        [IDS.webUuid]: {
          environment_name: 'production',
          service_name: 'web',
          unit_name: 'web/0',
          comment: 'the shop',
          ssh_public_key: WEB_KEY,
        },
      },
    });

    const ping = await t.post('storage_ping_checkin', { storage: primaryLogin, machine: { uuid: IDS.webUuid } });
    expect(ping.status).toBe(200);
    expect(Object.keys((ping.json() as { machine: { scheduled_sources: object } }).machine.scheduled_sources)).toEqual([
      'etc',
    ]);

    const now = t.clock.getTime() / 1000;
    const report = await t.post('storage_ping_source_update', {
      storage: primaryLogin,
      machine: {
        uuid: IDS.webUuid,
        sources: {
          etc: {
            success: true,
            snapshot: 'etc_20241215-070000_0abc',
            summary: 'Base snapshot: etc_20241214-031207_3f2a\n',
            time_begin: now - 60,
            time_end: now,
          },
        },
      },
    });
    expect([report.status, report.text]).toEqual([200, '{}']);
    const etc = (await store((s) => s.sources())).find((source) => source.id === IDS.etc)!;
    expect(etc).toMatchObject({ success: true, failure_count: 0, date_last_backed_up: t.clock });
    // "daily, 0200-0400": next due between 02:00 and 04:00 tomorrow.
    expect(etc.date_next_backup.getTime()).toBeGreaterThanOrEqual(Date.parse('2024-12-16T02:00:00Z'));
    expect(etc.date_next_backup.getTime()).toBeLessThanOrEqual(Date.parse('2024-12-16T04:00:00Z'));
    const [log] = await store((s) => s.recentBackupLogs(1));
    expect(log).toMatchObject({ source_id: IDS.etc, storage_id: IDS.primary, success: true, skipped: false });
    expect(log?.snapshot).toBe('etc_20241215-070000_0abc');
    // Done: the next check-in has nothing due.
    const after = await t.post('agent_ping_checkin', { machine: webLogin });
    expect((after.json() as { machine: { scheduled_sources: object } }).machine.scheduled_sources).toEqual({});
  });

  test('a source whose name our API refuses is still served, and its failure is recorded', async () => {
    await triggerBackup(t.api.ctx, IDS.webUuid, 'var/www');
    const checkin = await t.post('agent_ping_checkin', { machine: webLogin });
    expect(
      Object.keys((checkin.json() as { machine: { scheduled_sources: object } }).machine.scheduled_sources),
    ).toEqual(['var/www']);
    // What a storage of ours reports for such a name.
    const report = await t.post('storage_ping_source_update', {
      storage: primaryLogin,
      machine: { uuid: IDS.webUuid, sources: { 'var/www': { success: false, summary: 'Invalid source name' } } },
    });
    expect(report.status).toBe(200);
    const www = (await store((s) => s.sources())).find((source) => source.id === IDS.www)!;
    expect(www).toMatchObject({ success: false, failure_count: 1 });
  });

  test('the imported registration credential registers a new machine; an unpublished one re-publishes', async () => {
    const registered = await t.post('update_config', {
      auth: { name: 'Machine Registrations', secret: SECRETS.machineRegistration },
      machine: {
        uuid: 'f0e1d2c3-b4a5-4968-8776-655443322110',
        secret: 'N3wM4ch1n3S3cr3tAbCdEfGhIjKlMn',
        unit_name: 'new/0',
        ssh_public_key: WEB_KEY,
        sources: { etc: { path: '/etc' } },
      },
    });
    expect([registered.status, registered.text]).toEqual([200, '{}']);
    expect((await store((s) => s.authNamed('Machine Registrations')))?.secret_hash).toMatch(FAST);
    // The storage registration credential was inactive in the original, and stays so.
    const storageRegistration = await t.post('storage_update_config', {
      auth: { name: 'Storage Registrations', secret: SECRETS.storageRegistration },
      storage: {
        name: 'new',
        secret: 'N3wSt0r4g3S3cr3tAbCdEfGhIjKlMn',
        ssh_ping_host: 'h',
        ssh_ping_port: 22,
        ssh_ping_user: 'u',
      },
    });
    expect(storageRegistration.status).toBe(403);

    const republished = await t.post('update_config', {
      machine: { uuid: IDS.dbUuid, secret: SECRETS.db, sources: { data: { path: '/srv/data' } } },
    });
    expect(republished.status).toBe(200);
    expect(await machine(IDS.dbUuid)).toMatchObject({ published: true, secret_hash: expect.stringMatching(FAST) });
  });

  test('an inactive machine is refused until activated; its UUID, which we would not issue, still works', async () => {
    const login = { machine: { uuid: IDS.oldUuid, secret: SECRETS.old } };
    expect((await t.post('agent_ping_checkin', login)).status).toBe(403);
    await setActive(t.api.ctx, 'machine', IDS.oldUuid, true);
    const checkin = await t.post('agent_ping_checkin', login);
    expect(checkin.status).toBe(200);
    // Its only source is inactive: nothing is due.
    expect((checkin.json() as { machine: { scheduled_sources: object } }).machine.scheduled_sources).toEqual({});
  });

  test('importing the original again after all that changes nothing', async () => {
    const before = await store(async (s) => [
      await s.machines(),
      await s.sources(),
      await s.auths(),
      await s.storages(),
    ]);
    const summary = await importOriginal(t.api.ctx.db, from);
    expect(summary.tables.every(({ insert, update }) => insert === 0 && update === 0)).toBe(true);
    expect(summary.tables.find(({ table }) => table === 'machines')).toMatchObject({ kept: 3 });
    expect(
      await store(async (s) => [await s.machines(), await s.sources(), await s.auths(), await s.storages()]),
    ).toEqual(before);
  });
});
