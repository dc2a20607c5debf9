import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../tests/support/api-harness.js';
import { createAuth, putFilterSet, setActive } from './admin/commands.js';
import { hashSecretFast } from './secrets.js';
import { Store } from './store.js';

/**
 * The seven /v1 views through real HTTP on both backends: success and error paths, and the
 * our fixes of the original (persisted success and frequency changes, backoff, validation before writing).
 */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const OTHER_UUID = '1c7e2f40-8d1b-4c5e-9a3f-2b6d8e0f1a23';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@primary';
const STORAGE_SECRET = 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4';
const MINUTE = 60_000;

afterAll(stopPostgres);

describe.each(BACKENDS)('turku-api /v1 on %s', (backend) => {
  let t: TestApi;
  let machineAuth: { name: string; secret: string };
  let storageAuth: { name: string; secret: string };

  beforeEach(async () => {
    t = await startTestApi(backend);
    machineAuth = await createAuth(t.api.ctx, 'machine_reg');
    storageAuth = await createAuth(t.api.ctx, 'storage_reg');
  }, 30_000);
  afterEach(() => t.close());

  const storage = (name = 'primary', extra: Record<string, unknown> = {}) => ({
    name,
    secret: STORAGE_SECRET,
    ssh_ping_host: `${name}.example.com`,
    ssh_ping_port: 22,
    ssh_ping_user: 'turku-ping',
    ssh_ping_host_keys: [HOST_KEY],
    space_total: 953869.7,
    space_available: 512000.2,
    ...extra,
  });
  const registerStorage = async (name = 'primary', extra: Record<string, unknown> = {}) => {
    const response = await t.post('storage_update_config', { auth: storageAuth, storage: storage(name, extra) });
    expect(response.status).toBe(200);
  };
  const machine = (extra: Record<string, unknown> = {}) => ({
    uuid: UUID,
    secret: SECRET,
    environment_name: 'prod',
    service_name: 'sql',
    unit_name: 'sql/2',
    ssh_public_key: KEY,
    sources: { etc: { path: '/etc' }, home: { path: '/home', frequency: 'daily, 0200-0600' } },
    ...extra,
  });
  const register = async (extra: Record<string, unknown> = {}) => {
    const response = await t.post('update_config', { auth: machineAuth, machine: machine(extra) });
    expect(response.text).toBe('{}');
    expect(response.status).toBe(200);
  };
  const checkin = (uuid = UUID, secret = SECRET) => t.post('agent_ping_checkin', { machine: { uuid, secret } });
  const storageCreds = { name: 'primary', secret: STORAGE_SECRET };
  const report = (sources: Record<string, unknown>, uuid = UUID) =>
    t.post('storage_ping_source_update', { storage: storageCreds, machine: { uuid, sources } });
  const sourcesOf = async (uuid = UUID) =>
    t.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      const found = await store.machineByUuid(uuid);
      return found === undefined ? [] : store.sourcesOfMachine(found.id);
    });
  const source = async (name: string) => (await sourcesOf()).find((candidate) => candidate.name === name)!;
  const advance = (ms: number) => (t.clock = new Date(t.clock.getTime() + ms));
  const dueNames = async () => {
    const response = await checkin();
    expect(response.status).toBe(200);
    return Object.keys((response.json() as { scheduled_sources: object }).scheduled_sources);
  };

  describe('HTTP rules', () => {
    it('answers 404 for unknown views and 405 with Allow for other methods', async () => {
      expect((await t.post('nope', {})).status).toBe(404);
      const get = await fetch(`${t.url}/update_config`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });

    it('serves health on GET and POST, tolerating doubled and trailing slashes', async () => {
      const get = await fetch(`${t.url.replace('/v1', '//v1/')}/health/`);
      expect(get.status).toBe(200);
      expect(get.headers.get('content-type')).toBe('application/json');
      const body = (await get.json()) as { healthy: boolean; date: string; counts: Record<string, number> };
      expect(body).toEqual({
        healthy: true,
        date: '2024-12-15T07:00:00.000000+00:00',
        counts: { auth: 2, storage: 0, machine: 0, source: 0, filter_set: 0, backup_log: 0 },
        verify: { status: 'OK', failed: 0, lines: [] },
      });
      expect((await t.post('health', {})).status).toBe(200);
    });

    it('refuses a wrong content type, invalid JSON and non-object bodies with 400', async () => {
      const wrongType = await t.post('health', '{}', { 'Content-Type': 'text/plain' });
      expect([wrongType.status, wrongType.text.trim()]).toEqual([400, 'Bad Content-Type (expected application/json)']);
      const withCharset = await t.post('agent_ping_checkin', {}, { 'Content-Type': 'application/json; charset=utf-8' });
      expect(withCharset.text.trim()).toBe('"machine" dict required');
      const invalid = await t.post('update_config', '{"machine":');
      expect(invalid.status).toBe(400);
      expect(invalid.text).toMatch(/^Invalid JSON: /);
      for (const body of ['[]', '"x"', '3', 'null']) {
        const response = await t.post('update_config', body);
        expect([response.status, response.text.trim()]).toEqual([400, 'Request body must be a JSON object']);
      }
    });

    it('answers 413 for a body over the configured limit', async () => {
      const response = await t.post('update_config', { padding: 'x'.repeat(5 * 1024 * 1024) });
      expect(response.status).toBe(413);
    });
  });

  describe('update_config', () => {
    it('answers 400 before authenticating only for absent credentials, as the original', async () => {
      const cases: [unknown, string][] = [
        [{}, '"machine" dict required'],
        [{ machine: 'x' }, '"machine" dict required'],
        [{ machine: { secret: SECRET } }, 'Missing required machine option "uuid"'],
        [{ machine: { uuid: UUID } }, 'Missing required machine option "secret"'],
      ];
      for (const [body, message] of cases) {
        const response = await t.post('update_config', body);
        expect([response.status, response.text.trim()]).toEqual([400, message]);
      }
    });

    it('gives the original messages for malformed credentials once the registration auth is valid', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ machine: { uuid: 'not-a-uuid', secret: SECRET } }, 'Invalid machine UUID'],
        [{ machine: { ...machine(), sources: [] } }, 'Invalid type for "sources"'],
      ];
      for (const [body, message] of cases) {
        const unauthenticated = await t.post('update_config', body);
        expect([unauthenticated.status, unauthenticated.text.trim()]).toEqual([403, 'Bad auth']);
        const response = await t.post('update_config', { auth: machineAuth, ...body });
        expect([response.status, response.text.trim()]).toEqual([400, message]);
      }
    });

    it('needs a storage to register a machine: 404 when there is none', async () => {
      const response = await t.post('update_config', { auth: machineAuth, machine: machine() });
      expect([response.status, response.text.trim()]).toEqual([404, 'No storages are currently available']);
      expect(await sourcesOf()).toEqual([]);
    });

    it('registers with a named or a legacy bare-string auth, and refuses without one', async () => {
      await registerStorage();
      expect((await t.post('update_config', { machine: machine() })).status).toBe(403);
      const wrong = await t.post('update_config', {
        auth: { ...machineAuth, secret: 'x'.repeat(30) },
        machine: machine(),
      });
      expect([wrong.status, wrong.text.trim()]).toEqual([403, 'Bad auth']);
      const storageKind = await t.post('update_config', { auth: storageAuth, machine: machine() });
      expect(storageKind.status).toBe(403);
      const bare = await t.post('update_config', { auth: machineAuth.secret, machine: machine() });
      expect(bare.status).toBe(200);
      expect((await sourcesOf()).map((s) => s.name)).toEqual(['etc', 'home']);
    });

    it('rejects the nil UUID, an empty secret and missing unit name or key for a new machine', async () => {
      await registerStorage();
      const cases: [Record<string, unknown>, string][] = [
        [{ uuid: '00000000-0000-0000-0000-000000000000' }, 'Invalid UUID format'],
        [{ uuid: 'ffffffff-ffff-ffff-ffff-ffffffffffff' }, 'Invalid UUID format'],
        [{ secret: '' }, 'Validation error: machine secret must not be empty'],
        [{ unit_name: undefined }, 'Validation error: machine option "unit_name" is required to register a machine'],
        [
          { ssh_public_key: undefined },
          'Validation error: machine option "ssh_public_key" is required to register a machine',
        ],
        [
          { ssh_public_key: 'ssh-ed25519 AAAA\nssh-rsa BBBB' },
          expect.stringMatching(/^Validation error: machine.ssh_public_key: must be one line/) as unknown as string,
        ],
        [{ unit_name: 'sql/2\u001b[31m' }, 'Validation error: machine.unit_name: must not contain control characters'],
        [
          { sources: { '../x': { path: '/x' } } },
          expect.stringMatching(/^Validation error: source name "\.\.\/x": /) as unknown as string,
        ],
        [{ sources: { new: {} } }, 'Validation error: source "new": path: required for a new source'],
      ];
      for (const [extra, message] of cases) {
        const response = await t.post('update_config', { auth: machineAuth, machine: machine(extra) });
        expect(response.status).toBe(400);
        expect(response.text.trim()).toEqual(message);
      }
      expect(await sourcesOf()).toEqual([]);
    });

    it('validates everything before writing: a bad frequency changes nothing', async () => {
      await registerStorage();
      await register();
      const before = await sourcesOf();
      const response = await t.post('update_config', {
        machine: machine({
          comment: 'changed',
          sources: { etc: { path: '/etc2' }, home: { path: '/home', frequency: 'daily, 2am' }, extra: { path: '/x' } },
        }),
      });
      expect([response.status, response.text.trim()]).toEqual([
        400,
        'Validation error: source "home": frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)',
      ]);
      expect(await sourcesOf()).toEqual(before);
      const retention = await t.post('update_config', {
        machine: machine({ sources: { etc: { retention: 'last 5 dayz' } } }),
      });
      expect(retention.status).toBe(400);
      expect(retention.text).toMatch(/^Validation error: source "etc": retention: /);
    });

    it('answers 400 for a cron frequency that never fires for this source, writing nothing', async () => {
      await registerStorage();
      await register();
      const response = await t.post('update_config', {
        machine: machine({ sources: { etc: { path: '/etc' }, home: { path: '/home', frequency: 'cron 0 0 30 2 *' } } }),
      });
      expect(response.status).toBe(400);
      expect(response.text).toMatch(/^Validation error: source "home": frequency: /);
      expect((await source('home')).frequency).toBe('daily, 0200-0600');
    });

    it('keeps admin edits for absent keys, unpublishes dropped sources and re-publishes them', async () => {
      await registerStorage();
      await register({ sources: { etc: { path: '/etc', exclude: ['/etc/shadow-'], bwlimit: 100 } } });
      expect((await source('etc')).bwlimit).toBe('100');
      await t.post('update_config', { machine: { uuid: UUID, secret: SECRET, sources: { etc: { path: '/etc' } } } });
      expect((await source('etc')).exclude).toEqual(['/etc/shadow-']);
      await t.post('update_config', { machine: { uuid: UUID, secret: SECRET, sources: {} } });
      expect((await source('etc')).published).toBe(false);
      await t.post('update_config', { machine: { uuid: UUID, secret: SECRET, sources: { etc: { path: '/etc' } } } });
      expect((await source('etc')).published).toBe(true);
    });

    it('first backs up a new source within 15 minutes, then at its regular slot', async () => {
      await registerStorage();
      await register();
      for (const created of await sourcesOf()) {
        const wait = created.date_next_backup.getTime() - t.clock.getTime();
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThan(15 * MINUTE);
      }
      advance(15 * MINUTE);
      expect(await dueNames()).toEqual(['etc', 'home']);
      expect(
        (
          await report({
            etc: { success: true, snapshot: 'etc_1', time_begin: 1, time_end: 2 },
            home: { success: true },
          })
        ).status,
      ).toBe(200);
      expect(await dueNames()).toEqual([]);
      const home = await source('home');
      // "daily, 0200-0600": tomorrow (16 Dec) between 02:00 and 06:00 UTC.
      expect(home.date_next_backup.getTime()).toBeGreaterThanOrEqual(Date.parse('2024-12-16T02:00:00Z'));
      expect(home.date_next_backup.getTime()).toBeLessThanOrEqual(Date.parse('2024-12-16T06:00:00Z'));
    });

    it('persists a changed frequency as a new next-backup time', async () => {
      await registerStorage();
      await register();
      const before = (await source('etc')).date_next_backup;
      await t.post('update_config', { machine: machine({ sources: { etc: { path: '/etc', frequency: 'monthly' } } }) });
      const after = await source('etc');
      expect(after.frequency).toBe('monthly');
      expect(after.date_next_backup.getTime()).toBeGreaterThanOrEqual(Date.parse('2025-01-01T00:00:00Z'));
      expect(after.date_next_backup).not.toEqual(before);
    });

    it('refuses an inactive machine with the same 403 as a wrong secret', async () => {
      await registerStorage();
      await register();
      await setActive(t.api.ctx, 'machine', UUID, false);
      const response = await t.post('update_config', { auth: machineAuth, machine: machine() });
      expect([response.status, response.text.trim()]).toEqual([403, 'Bad auth']);
    });
  });

  describe('agent_ping_checkin and agent_ping_restore', () => {
    it('gives the same 403 for an unknown UUID, a wrong secret and an inactive machine', async () => {
      await registerStorage();
      await register();
      const unknown = await checkin(OTHER_UUID);
      const wrongSecret = await checkin(UUID, 'x'.repeat(30));
      await setActive(t.api.ctx, 'machine', UUID, false);
      const inactive = await checkin();
      for (const response of [unknown, wrongSecret, inactive]) {
        expect([response.status, response.text, response.contentType]).toEqual([
          403,
          'Bad auth\n',
          'text/plain; charset=utf-8',
        ]);
      }
    });

    it('after a successful check-in, still refuses a machine deactivated, unpublished or given another secret', async () => {
      await registerStorage();
      await register();
      const statement = t.api.ctx.db.statement?.bind(t.api.ctx.db);
      let statements = 0;
      if (statement !== undefined) {
        (t.api.ctx.db as { statement: typeof statement }).statement = (...args) => {
          statements++;
          return statement(...args);
        };
      }
      expect((await checkin()).status).toBe(200);
      advance(MINUTE);
      expect((await checkin()).status).toBe(200);
      const stored = await t.api.ctx.db.transaction((tx) => new Store(tx).machineByUuid(UUID));
      expect(stored?.date_checked_in).toEqual(t.clock);
      // PostgreSQL: each check-in was the one statement of quick-checkin.ts (the registration
      // remembered the machine's secret hash, so even the first one).
      expect(statements).toBe(backend === 'postgres' ? 2 : 0);
      expect((await checkin(UUID, 'x'.repeat(30))).status).toBe(403);

      await setActive(t.api.ctx, 'machine', UUID, false);
      expect((await checkin()).status).toBe(403);
      await setActive(t.api.ctx, 'machine', UUID, true);
      expect((await checkin()).status).toBe(200);
      await register({ published: false });
      expect((await checkin()).status).toBe(403);
      await register();
      expect((await checkin()).status).toBe(200);

      const newSecret = 'N'.repeat(30);
      await t.api.ctx.db.transaction((tx) =>
        tx.run('UPDATE machines SET secret_hash = $1 WHERE uuid = $2', [hashSecretFast(newSecret)!, UUID]),
      );
      expect((await checkin()).status).toBe(403);
      expect((await checkin(UUID, newSecret)).status).toBe(200);
      expect((await checkin(UUID, newSecret)).status).toBe(200);
      expect((await checkin()).status).toBe(403);
    });

    it('refuses an unpublished machine', async () => {
      await registerStorage();
      await register({ published: false });
      expect((await checkin()).status).toBe(403);
      await register();
      expect((await checkin()).status).toBe(200);
    });

    it('serves due sources with the storage endpoint, twice, and records the check-in', async () => {
      await registerStorage();
      await register({
        sources: { etc: { path: '/etc', filter: ['- *.swp', 'bogus', 'clear'], exclude: ['/etc/shadow-'] } },
      });
      advance(15 * MINUTE);
      const response = await checkin();
      expect(response.contentType).toBe('application/json');
      const body = response.json() as Record<string, Record<string, unknown>>;
      const expected = {
        etc: {
          path: '/etc',
          retention: 'last 5 days, earliest of month',
          bwlimit: null,
          filter: ['- *.swp', 'clear'],
          exclude: ['/etc/shadow-'],
          shared_service: false,
          large_rotating_files: false,
          large_modifying_files: false,
          snapshot_mode: null,
          preserve_hard_links: false,
          storage: {
            name: 'primary',
            ssh_ping_host: 'primary.example.com',
            ssh_ping_host_keys: [HOST_KEY],
            ssh_ping_port: 22,
            ssh_ping_user: 'turku-ping',
          },
        },
      };
      expect(body).toEqual({ machine: { scheduled_sources: expected }, scheduled_sources: expected });
      const stored = await t.api.ctx.db.transaction((tx) => new Store(tx).machineByUuid(UUID));
      expect(stored?.date_checked_in).toEqual(t.clock);
    });

    it('expands FilterSets, cutting cycles, and warns about missing sets', async () => {
      await registerStorage();
      await putFilterSet(t.api.ctx, 'common', ['- *.tmp', '. base']);
      await putFilterSet(t.api.ctx, 'base', ['+ /etc/', '- *.swp', 'merge common']);
      await register({
        sources: { etc: { path: '/etc', filter: ['merge common', 'merge missing', '- /var/cache/'] } },
      });
      advance(15 * MINUTE);
      const body = (await checkin()).json() as { scheduled_sources: Record<string, { filter: string[] }> };
      expect(body.scheduled_sources.etc!.filter).toEqual(['- *.tmp', '+ /etc/', '- *.swp', '- /var/cache/']);
      expect(t.log.lines.some((line) => line.includes('filter set "missing" does not exist'))).toBe(true);
    });

    it('withholds borg from a storage that has not advertised it', async () => {
      await registerStorage('primary');
      await register({ sources: { etc: { path: '/etc', snapshot_mode: 'borg' } } });
      advance(15 * MINUTE);
      const mode = async () =>
        ((await checkin()).json() as { scheduled_sources: Record<string, { snapshot_mode: unknown }> })
          .scheduled_sources.etc!.snapshot_mode;
      expect(await mode()).toBeNull();
      const advertised = await t.post('storage_update_config', {
        storage: { ...storageCreds, snapshot_modes: ['link-dest', 'none', 'borg'] },
      });
      expect(advertised.status).toBe(200);
      expect(await mode()).toBe('borg');
    });

    it('lists every active source for restore, published or not, due or not', async () => {
      await registerStorage();
      await register();
      await t.post('update_config', { machine: machine({ sources: { etc: { path: '/etc' } } }) });
      const response = await t.post('agent_ping_restore', { machine: { uuid: UUID, secret: SECRET } });
      const body = response.json() as { machine: { sources: Record<string, unknown> } };
      expect(Object.keys(body.machine.sources)).toEqual(['etc', 'home']);
      expect((await t.post('agent_ping_restore', { machine: { uuid: UUID, secret: 'y'.repeat(30) } })).status).toBe(
        403,
      );
    });
  });

  describe('storage views', () => {
    it('registers a storage only with a storage_reg auth and the ssh fields', async () => {
      const noAuth = await t.post('storage_update_config', { storage: storage() });
      expect(noAuth.status).toBe(403);
      const machineKind = await t.post('storage_update_config', { auth: machineAuth, storage: storage() });
      expect(machineKind.status).toBe(403);
      const missing = await t.post('storage_update_config', {
        auth: storageAuth,
        storage: { ...storage(), ssh_ping_host: undefined },
      });
      expect([missing.status, missing.text.trim()]).toEqual([
        400,
        'Validation error: storage option "ssh_ping_host" is required to register a storage',
      ]);
      const noStorage = await t.post('storage_update_config', { auth: storageAuth });
      expect([noStorage.status, noStorage.text.trim()]).toEqual([400, 'Missing required option "storage"']);
      const badPort = await t.post('storage_update_config', {
        auth: storageAuth,
        storage: storage('p', { ssh_ping_port: 70000 }),
      });
      expect(badPort.status).toBe(400);
      await registerStorage();
      const storages = await t.api.ctx.db.transaction((tx) => new Store(tx).storages());
      expect(storages.map((s) => [s.name, s.space_total, s.space_available])).toEqual([['primary', 953869, 512000]]);
    });

    it('refuses a missing name or secret, a wrong secret and an inactive storage with 403', async () => {
      await registerStorage();
      for (const credentials of [
        { secret: STORAGE_SECRET },
        { name: 'primary' },
        { ...storageCreds, secret: 'z'.repeat(30) },
      ]) {
        expect((await t.post('storage_update_config', { storage: credentials })).status).toBe(403);
        expect((await t.post('storage_ping_checkin', { storage: credentials, machine: { uuid: UUID } })).status).toBe(
          403,
        );
      }
      await setActive(t.api.ctx, 'storage', 'primary', false);
      expect((await t.post('storage_update_config', { storage: storageCreds })).status).toBe(403);
    });

    it('lists its active, published machines keyed by canonical UUID', async () => {
      await registerStorage();
      await register({ uuid: UUID.replaceAll('-', '').toUpperCase() });
      const response = await t.post('storage_update_config', { storage: storageCreds });
      expect(response.json()).toEqual({
        machines: {
          [UUID]: {
            environment_name: 'prod',
            service_name: 'sql',
            unit_name: 'sql/2',
            comment: null,
            ssh_public_key: KEY,
          },
        },
      });
      await setActive(t.api.ctx, 'machine', UUID, false);
      expect((await t.post('storage_update_config', { storage: storageCreds })).json()).toEqual({ machines: {} });
    });

    it('answers storage_ping_checkin for its own machines only', async () => {
      await registerStorage('primary');
      await register();
      advance(15 * MINUTE);
      const response = await t.post('storage_ping_checkin', { storage: storageCreds, machine: { uuid: UUID } });
      expect(response.status).toBe(200);
      const body = response.json() as { machine: Record<string, unknown> & { scheduled_sources: object } };
      expect(body.machine).toMatchObject({
        uuid: UUID,
        environment_name: 'prod',
        service_name: 'sql',
        unit_name: 'sql/2',
      });
      expect(Object.keys(body.machine.scheduled_sources)).toEqual(['etc', 'home']);

      await registerStorage('secondary');
      const other = await t.post('storage_ping_checkin', {
        storage: { name: 'secondary', secret: STORAGE_SECRET },
        machine: { uuid: UUID },
      });
      expect([other.status, other.text.trim()]).toEqual([404, 'Machine not found']);
      const missing = await t.post('storage_ping_checkin', { storage: storageCreds });
      expect([missing.status, missing.text.trim()]).toEqual([400, 'Missing required option "machine"']);
      const noUuid = await t.post('storage_ping_checkin', { storage: storageCreds, machine: {} });
      expect([noUuid.status, noUuid.text.trim()]).toEqual([400, 'Missing required option "machine.uuid"']);
    });

    it('persists failures with exponential backoff and resets on success', async () => {
      await registerStorage();
      await register();
      advance(15 * MINUTE);
      const waits: number[] = [];
      for (let i = 0; i < 9; i++) {
        expect((await report({ etc: { success: false, summary: 'rsync exited 12' } })).status).toBe(200);
        const failed = await source('etc');
        expect([failed.success, failed.failure_count]).toEqual([false, i + 1]);
        waits.push((failed.date_next_backup.getTime() - t.clock.getTime()) / MINUTE);
        // Not due again until the backoff has passed.
        expect(await dueNames()).not.toContain('etc');
        t.clock = failed.date_next_backup;
      }
      expect(waits).toEqual([5, 10, 20, 40, 80, 160, 320, 360, 360]);
      await report({ etc: { success: true, snapshot: 'etc_x' } });
      const recovered = await source('etc');
      expect([recovered.success, recovered.failure_count]).toEqual([true, 0]);
      expect(recovered.date_last_backed_up).toEqual(t.clock);
    });

    it('applies nothing when any named source is unknown', async () => {
      await registerStorage();
      await register();
      advance(15 * MINUTE);
      const response = await report({ etc: { success: true }, nope: { success: true } });
      expect([response.status, response.text.trim()]).toEqual([404, 'Source not found']);
      expect((await source('etc')).date_last_backed_up).toBeNull();
      const noSources = await t.post('storage_ping_source_update', { storage: storageCreds, machine: { uuid: UUID } });
      expect([noSources.status, noSources.text.trim()]).toEqual([400, 'Missing required option "machine.sources"']);
      expect((await report({ etc: { success: true } }, OTHER_UUID)).status).toBe(404);
    });

    it('logs a skipped source and keeps it due, without a failure', async () => {
      await registerStorage();
      await register();
      advance(15 * MINUTE);
      await report({ etc: { success: false, skipped: true, summary: 'became due after check-in' } });
      const etc = await source('etc');
      expect([etc.success, etc.failure_count]).toEqual([true, 0]);
      expect(await dueNames()).toContain('etc');
      const logs = await t.api.ctx.db.transaction((tx) => new Store(tx).recentBackupLogs(10));
      expect(logs.map((log) => [log.skipped, log.success, log.summary])).toEqual([
        [true, false, 'became due after check-in'],
      ]);
    });

    it('stores epoch times as UTC instants in the backup log', async () => {
      await registerStorage();
      await register();
      await report({ etc: { success: true, time_begin: 1734232320.41, time_end: 1734232335.97, snapshot: 's' } });
      const [log] = await t.api.ctx.db.transaction((tx) => new Store(tx).recentBackupLogs(1));
      expect(log?.date_begin?.toISOString()).toBe('2024-12-15T03:12:00.410Z');
      expect(log?.date_end?.toISOString()).toBe('2024-12-15T03:12:15.970Z');
    });
  });

  describe('authentication before shape (docs/api.md, "Authentication")', () => {
    const refusedAs = async (view: string, body: unknown, expected: [number, string]) => {
      const response = await t.post(view, body);
      expect([view, response.status, response.text.trim()]).toEqual([view, ...expected]);
    };
    const BAD_AUTH: [number, string] = [403, 'Bad auth'];

    it('answers 403 to an unknown machine without valid auth, whatever else is wrong', async () => {
      await registerStorage();
      const badShapes: Record<string, unknown>[] = [
        { uuid: '00000000-0000-0000-0000-000000000000' },
        { uuid: 'not-a-uuid' },
        { uuid: 42 },
        { secret: '' },
        { secret: 's' },
        { secret: ['x'] },
        { unit_name: undefined },
        { ssh_public_key: 'not a key' },
        { unit_name: 'a\u0000b' },
        { sources: [] },
        { sources: { etc: { path: '/etc', frequency: 'daily, 2am' } } },
        { sources: { new: {} } },
      ];
      for (const shape of badShapes) {
        for (const auth of [undefined, { ...machineAuth, secret: 'wrong' }, storageAuth, 42, { name: 'x\u0000' }]) {
          await refusedAs(
            'update_config',
            { ...(auth === undefined ? {} : { auth }), machine: machine(shape) },
            BAD_AUTH,
          );
        }
      }
      expect(await sourcesOf()).toEqual([]);
    }, 60_000);

    it('answers 403 to a known machine with a wrong secret, whatever else is wrong', async () => {
      await registerStorage();
      await register();
      for (const shape of [
        { sources: [] },
        { unit_name: 'a\u0000b' },
        { published: 'maybe' },
        { sources: { x: {} } },
      ]) {
        await refusedAs('update_config', { machine: machine({ ...shape, secret: 'z'.repeat(30) }) }, BAD_AUTH);
        const response = await t.post('update_config', { machine: machine(shape) });
        expect(response.status).toBe(400);
      }
      for (const view of ['agent_ping_checkin', 'agent_ping_restore']) {
        for (const credentials of [
          { uuid: 'not-a-uuid', secret: SECRET },
          { uuid: UUID, secret: 42 },
          { uuid: null, secret: null },
          { uuid: UUID, secret: 'a\u0000b' },
        ]) {
          await refusedAs(view, { machine: credentials }, BAD_AUTH);
        }
        await refusedAs(view, { machine: { uuid: UUID } }, [400, 'Missing required machine option "secret"']);
      }
    });

    it('answers 403 to a storage without valid credentials, whatever else is wrong', async () => {
      await registerStorage();
      // Unknown storage: the registration credential decides before any rule on the fields.
      for (const shape of [
        { secret: 's' },
        { secret: '' },
        { ssh_ping_port: 70000 },
        { ssh_ping_host: undefined },
        { name: 'n'.repeat(300) },
        { name: 'a\u0000b' },
        { comment: 'c\u0000' },
      ]) {
        for (const auth of [undefined, { ...storageAuth, secret: 'wrong' }, machineAuth, ['x']]) {
          const body = { ...(auth === undefined ? {} : { auth }), storage: storage('newcomer', shape) };
          await refusedAs('storage_update_config', body, BAD_AUTH);
        }
      }
      for (const odd of ['x', 42, null, [], true]) await refusedAs('storage_update_config', { storage: odd }, BAD_AUTH);
      await refusedAs('storage_update_config', { storage: { name: 42, secret: STORAGE_SECRET } }, BAD_AUTH);
      // Known storage, wrong secret.
      const wrong = { name: 'primary', secret: 'z'.repeat(30) };
      await refusedAs('storage_update_config', { storage: { ...wrong, ssh_ping_port: 'x' } }, BAD_AUTH);
      await refusedAs('storage_ping_checkin', { storage: wrong }, BAD_AUTH);
      await refusedAs('storage_ping_checkin', { storage: wrong, machine: { uuid: 'not-a-uuid' } }, BAD_AUTH);
      await refusedAs('storage_ping_source_update', { storage: wrong, machine: { uuid: UUID } }, BAD_AUTH);
      await refusedAs('storage_ping_source_update', { storage: wrong, machine: { sources: 7 } }, BAD_AUTH);
      // Only an absent `storage` is refused before authentication.
      for (const view of ['storage_update_config', 'storage_ping_checkin', 'storage_ping_source_update']) {
        await refusedAs(view, { machine: { uuid: UUID } }, [400, 'Missing required option "storage"']);
      }
      // With valid credentials the same requests get their 400s.
      await refusedAs('storage_update_config', { storage: { ...storageCreds, ssh_ping_port: 'x' } }, [
        400,
        'Validation error: storage.ssh_ping_port: Invalid input: expected number, received string',
      ]);
      await refusedAs('storage_ping_checkin', { storage: storageCreds, machine: { uuid: 'not-a-uuid' } }, [
        400,
        'Invalid machine UUID',
      ]);
      await refusedAs('storage_update_config', { auth: storageAuth, storage: storage('newcomer', { secret: '' }) }, [
        400,
        'Validation error: storage secret must not be empty',
      ]);
      await refusedAs('storage_update_config', { storage: { ...storageCreds, comment: 'c\u0000' } }, [
        400,
        'Validation error: text must not contain NUL characters',
      ]);
    }, 60_000);
  });

  describe('weak secrets (shorter than 20 characters)', () => {
    const hashes = () =>
      t.api.ctx.db.transaction(async (tx) => {
        const store = new Store(tx);
        return {
          storages: Object.fromEntries((await store.storages()).map((s) => [s.name, s.secret_hash])),
          machines: Object.fromEntries((await store.machines()).map((m) => [m.uuid, m.secret_hash])),
        };
      });

    /** The recorded case: a new storage with secret "s" and no registration credential. */
    const refusedAsWithoutAuth = async () => {
      const response = await t.post('storage_update_config', { storage: { name: 'old', secret: 's' } });
      expect([response.status, response.text.trim()]).toEqual([403, 'Bad auth']);
    };

    it('registers a storage with a one-character secret, stores it with scrypt and lets it log in', async () => {
      await refusedAsWithoutAuth();
      const response = await t.post('storage_update_config', {
        auth: storageAuth,
        storage: storage('old', { secret: 's' }),
      });
      expect(response.status).toBe(200);
      expect((await hashes()).storages.old).toMatch(/^scrypt-short\$ln=14,r=8,p=5\$/);
      await register();
      const login = { name: 'old', secret: 's' };
      expect((await t.post('storage_update_config', { storage: login })).status).toBe(200);
      // The machine went to the only storage, so the weak-secret storage serves its check-in.
      expect((await t.post('storage_ping_checkin', { storage: login, machine: { uuid: UUID } })).status).toBe(200);
      for (const secret of ['S', 's ', 'z'.repeat(30), '']) {
        expect((await t.post('storage_update_config', { storage: { ...login, secret } })).status).toBe(403);
      }
    }, 30_000);

    it('registers a machine with a short secret; it checks in, and a wrong one is refused', async () => {
      await registerStorage();
      await register({ secret: 'pw' });
      expect((await hashes()).machines[UUID]).toMatch(/^scrypt-short\$/);
      expect((await checkin(UUID, 'pw')).status).toBe(200);
      expect((await checkin(UUID, 'pW')).status).toBe(403);
      expect((await checkin(UUID, SECRET)).status).toBe(403);
    }, 30_000);

    it('costs a KDF whether the record is missing, holds a weak secret or a strong one', async () => {
      await registerStorage();
      await t.post('storage_update_config', { auth: storageAuth, storage: storage('old', { secret: 's' }) });
      const timed = async (name: string) => {
        const started = performance.now();
        const response = await t.post('storage_ping_checkin', {
          storage: { name, secret: 'x' },
          machine: { uuid: UUID },
        });
        expect([name, response.status]).toEqual([name, 403]);
        return performance.now() - started;
      };
      // Each pays one scrypt (tens of milliseconds at least); none answers at HMAC speed.
      for (const name of ['nobody', 'old', 'primary']) expect(await timed(name)).toBeGreaterThan(20);
    }, 30_000);

    it('re-hashes an imported hash of a short secret to scrypt, never to the fast format', async () => {
      await registerStorage();
      // python3: base64(hashlib.pbkdf2_hmac('sha256', b'hunter2', b'salty', 1000)), Django's layout.
      const imported = 'pbkdf2_sha256$1000$salty$iyQ7xtxsM2CNBt/1qlfUAoa9QuSQmOynBamelM++P98=';
      await t.api.ctx.db.transaction(async (tx) => {
        const store = new Store(tx);
        await store.update('storages', (await store.storageByName('primary'))!.id, { secret_hash: imported });
      });
      const login = { name: 'primary', secret: 'hunter2' };
      expect((await t.post('storage_update_config', { storage: { ...login, secret: 'hunter3' } })).status).toBe(403);
      expect((await hashes()).storages.primary).toBe(imported);
      expect((await t.post('storage_update_config', { storage: login })).status).toBe(200);
      const rehashed = (await hashes()).storages.primary!;
      expect(rehashed).toMatch(/^scrypt-short\$/);
      expect((await t.post('storage_update_config', { storage: login })).status).toBe(200);
      expect((await hashes()).storages.primary).toBe(rehashed);
    }, 30_000);
  });

  describe('secrets imported from the original', () => {
    // python3: base64(hashlib.pbkdf2_hmac('sha256', SECRET, b'importsalt', 1000)), Django's layout.
    const IMPORTED = 'pbkdf2_sha256$1000$importsalt$Kxfkx/WuBaIAGTmiUxPtvVVs4JonN1Gxo0S5feJeZbU=';

    it('verifies a legacy hash once, then stores a fast one', async () => {
      await registerStorage();
      await register();
      const hashOf = () =>
        t.api.ctx.db.transaction(async (tx) => (await new Store(tx).machineByUuid(UUID))!.secret_hash);
      await t.api.ctx.db.transaction(async (tx) => {
        const store = new Store(tx);
        await store.update('machines', (await store.machineByUuid(UUID))!.id, { secret_hash: IMPORTED });
      });
      expect((await checkin(UUID, 'x'.repeat(30))).status).toBe(403);
      expect(await hashOf()).toBe(IMPORTED);
      expect((await checkin()).status).toBe(200);
      expect(await hashOf()).toMatch(/^hmac-sha256\$/);
      expect((await checkin()).status).toBe(200);
    });
  });

  describe('storage assignment', () => {
    it('weights by available space and skips full storages unless all are full', async () => {
      await registerStorage('a', { space_available: 100 });
      await registerStorage('b', { space_available: 300 });
      await registerStorage('full', { space_available: 0 });
      const storageOf = async (uuid: string) =>
        t.api.ctx.db.transaction(async (tx) => {
          const store = new Store(tx);
          const found = await store.machineByUuid(uuid);
          return (await store.storageById(found!.storage_id))!.name;
        });
      // Storages are considered in name order: a (weight 100), b (300), full (0); total 400.
      const picks: string[] = [];
      for (const [i, random] of [0, 0.24, 0.26, 0.99].entries()) {
        const uuid = `9bef0a75-5a9b-43f7-a66a-7e8c6d7ad9${String(i).padStart(2, '0')}`;
        t.randoms.push(random);
        await register({ uuid });
        picks.push(await storageOf(uuid));
      }
      expect(picks).toEqual(['a', 'a', 'b', 'b']);

      for (const name of ['a', 'b']) {
        await t.post('storage_update_config', { storage: { name, secret: STORAGE_SECRET, space_available: 0 } });
      }
      t.randoms.push(0.9);
      await register({ uuid: OTHER_UUID });
      expect(await storageOf(OTHER_UUID)).toBe('full');
    });

    it('does not assign to unpublished or inactive storages', async () => {
      await registerStorage('hidden', { published: false });
      expect((await t.post('update_config', { auth: machineAuth, machine: machine() })).status).toBe(404);
      await registerStorage('off');
      await setActive(t.api.ctx, 'storage', 'off', false);
      expect((await t.post('update_config', { auth: machineAuth, machine: machine() })).status).toBe(404);
    });
  });
});
