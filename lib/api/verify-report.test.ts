import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../tests/support/api-harness.js';
import { StorageVerifyReportRequest, VERIFY_REPORT_LIMITS } from '../turku/protocol/api.js';
import { createAuth, fleetHealth, listSources, reassignMachine } from './admin/commands.js';
import { Store } from './store.js';
import { HEALTH_COUNTS_MAX_AGE_MS } from './views/health.js';
import { failedVerifyLine, shownText } from './verify-reports.js';

/**
 * [NEW] storage_verify_report on both backends (docs/api.md, "storage_verify_report"): who may
 * report, what is refused, and how the health turns CRITICAL on a failed verify and back.
 */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE_SECRET = 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4';

afterAll(stopPostgres);

const verify = (extra: Record<string, unknown> = {}) => ({
  source: 'etc',
  snapshot: 'etc-2024-12-15T06:00:00-ab12',
  checked_files: 12,
  checked_bytes: 34567,
  complete: false,
  problem_count: 0,
  problems: [],
  ...extra,
});
const FAILED = verify({
  problem_count: 3,
  problems: [
    { path: 'passwd', kind: 'content', detail: 'SHA-256 differs' },
    { path: 'evil\u001b[2Jname', kind: 'missing', detail: '' },
  ],
});

describe('the request schema', () => {
  const body = (v: unknown) => ({ storage: { name: 's', secret: 'x' }, machine: { uuid: UUID }, verify: v });

  it('takes a well-formed report and drops what it does not know', () => {
    const parsed = StorageVerifyReportRequest.parse(body({ ...verify(), contents: 'secret data' }));
    expect(parsed.verify).toEqual(verify());
  });

  it('refuses unbounded or inconsistent reports', () => {
    const tooMany = Array.from({ length: VERIFY_REPORT_LIMITS.problems + 1 }, () => ({
      path: 'x',
      kind: 'content',
      detail: '',
    }));
    for (const bad of [
      verify({ problem_count: 11, problems: tooMany }),
      verify({
        problem_count: 1,
        problems: [{ path: 'x'.repeat(VERIFY_REPORT_LIMITS.path + 1), kind: 'size', detail: '' }],
      }),
      verify({
        problem_count: 1,
        problems: [{ path: 'x', kind: 'size', detail: 'd'.repeat(VERIFY_REPORT_LIMITS.detail + 1) }],
      }),
      verify({ problem_count: 1, problems: [{ path: 'x', kind: 'rotten', detail: '' }] }),
      verify({ problem_count: 0, problems: [{ path: 'x', kind: 'size', detail: '' }] }),
      verify({ checked_bytes: -1 }),
      verify({ checked_files: 1.5 }),
      verify({ snapshot: '' }),
      verify({ source: 'x'.repeat(201) }),
      verify({ complete: 'yes' }),
      undefined,
    ]) {
      expect(StorageVerifyReportRequest.safeParse(body(bad)).success).toBe(false);
    }
  });
});

describe('shown text', () => {
  it('escapes control characters and bounds the length', () => {
    expect(shownText('a\u001b[2Jb\nc')).toBe('a\\x1b[2Jb\\x0ac');
    expect(shownText('x'.repeat(300))).toHaveLength(200);
    expect(
      failedVerifyLine({
        machine: UUID,
        unit_name: 'web/0',
        source: 'etc\n',
        snapshot: 's',
        problem_count: 1,
        date: new Date(0),
      }),
    ).toBe('<Verify: web/0 (9bef0a75) etc\\x0a s: 1 problem>');
  });
});

describe.each(BACKENDS)('storage_verify_report on %s', (backend) => {
  let t: TestApi;

  beforeEach(async () => {
    t = await startTestApi(backend);
    const storageAuth = await createAuth(t.api.ctx, 'storage_reg');
    const machineAuth = await createAuth(t.api.ctx, 'machine_reg');
    for (const name of ['primary', 'other']) {
      const storage = { name, secret: STORAGE_SECRET, ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u' };
      expect((await t.post('storage_update_config', { auth: storageAuth, storage })).status).toBe(200);
    }
    const machine = {
      uuid: UUID,
      secret: SECRET,
      unit_name: 'web/0',
      ssh_public_key: KEY,
      sources: { etc: { path: '/etc' } },
    };
    expect((await t.post('update_config', { auth: machineAuth, machine })).status).toBe(200);
  }, 30_000);
  afterEach(() => t.close());

  /** The storage the machine was given, and the one it was not. */
  const storages = async () => {
    const mine = await t.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      return (await store.storageById((await store.machineByUuid(UUID))!.storage_id))!.name;
    });
    return { mine, other: mine === 'primary' ? 'other' : 'primary' };
  };
  const post = (storage: string, v: unknown, uuid = UUID, secret = STORAGE_SECRET) =>
    t.post('storage_verify_report', { storage: { name: storage, secret }, machine: { uuid }, verify: v });
  // Without a count stamp (PostgreSQL) health answers from a reading up to HEALTH_COUNTS_MAX_AGE_MS old.
  const healthOf = async () => {
    if (t.api.ctx.db.countStamp === undefined) await sleep(HEALTH_COUNTS_MAX_AGE_MS);
    return (await t.post('health', {})).json() as { healthy: boolean; verify: unknown };
  };

  it('a failed verify turns the health CRITICAL, naming machine, source and snapshot, until one passes', async () => {
    const { mine } = await storages();
    expect((await healthOf()).verify).toEqual({ status: 'OK', failed: 0, lines: [] });
    const failed = await post(mine, FAILED);
    expect([failed.status, failed.text]).toEqual([200, '{}']);
    expect(await healthOf()).toMatchObject({
      healthy: true,
      verify: {
        status: 'CRITICAL',
        failed: 1,
        lines: ['<Verify: web/0 (9bef0a75) etc etc-2024-12-15T06:00:00-ab12: 3 problems>'],
      },
    });
    const nagios = await fleetHealth(t.api.ctx);
    expect(nagios.ok).toBe(false);
    expect(nagios.lines[0]).toMatch(/, 1 failed verifies$/);
    expect(nagios.lines).toContain('<Verify: web/0 (9bef0a75) etc etc-2024-12-15T06:00:00-ab12: 3 problems>');
    expect((await listSources(t.api.ctx))[0]!.verify).toBe(
      'FAILED 3 problems in etc-2024-12-15T06:00:00-ab12 2024-12-15T07:00:00.000Z',
    );
    expect(t.log.lines.join('\n')).toContain('verify of web/0 (9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d) source etc');
    // Moved to another storage, the machine starts from nothing there; moved back, the failure counts again.
    const { other } = await storages();
    await reassignMachine(t.api.ctx, UUID, other);
    expect((await healthOf()).verify).toMatchObject({ status: 'OK' });
    await reassignMachine(t.api.ctx, UUID, mine);
    expect((await healthOf()).verify).toMatchObject({ status: 'CRITICAL' });

    t.clock = new Date('2024-12-16T07:00:00Z');
    expect((await post(mine, verify({ snapshot: 'etc-2024-12-16' }))).status).toBe(200);
    expect((await healthOf()).verify).toEqual({ status: 'OK', failed: 0, lines: [] });
    expect((await listSources(t.api.ctx))[0]!.verify).toBe('ok etc-2024-12-16 2024-12-16T07:00:00.000Z');
    expect((await fleetHealth(t.api.ctx)).lines.join('\n')).not.toContain('Verify');
  }, 30_000);

  it('refuses a storage for a machine not assigned to it (403), bad credentials (403), an unknown source (400)', async () => {
    const { mine, other } = await storages();
    const notMine = await post(other, FAILED);
    expect([notMine.status, notMine.text]).toEqual([403, 'Machine not assigned to this storage\n']);
    expect((await post(mine, FAILED, '1c7e2f40-8d1b-4c5e-9a3f-2b6d8e0f1a23')).status).toBe(403);
    expect((await post(mine, FAILED, UUID, 'wrong')).text).toBe('Bad auth\n');
    // Authentication first: a malformed report from an outsider is still 403.
    expect((await post(mine, { nonsense: true }, UUID, 'wrong')).status).toBe(403);
    const unknown = await post(mine, verify({ source: 'nope' }));
    expect([unknown.status, unknown.text]).toEqual([400, 'Validation error: machine has no source "nope"\n']);
    const malformed = await post(mine, verify({ problem_count: -1 }));
    expect(malformed.status).toBe(400);
    expect((await t.post('storage_verify_report', { storage: { name: mine, secret: STORAGE_SECRET } })).status).toBe(
      400,
    );
    expect((await healthOf()).verify).toMatchObject({ status: 'OK' });
  });
});
