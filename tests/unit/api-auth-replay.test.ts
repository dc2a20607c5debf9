import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ensureAuth, listStorages } from '../../lib/api/admin/commands.js';
import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../support/api-harness.js';
import {
  PEER_STORAGE,
  RECORDED_MACHINE_AUTH,
  RECORDINGS,
  STORAGE_AUTH,
  viewOf,
  type Recording,
} from '../support/original-api-recordings.js';

/**
 * Requests recorded against the original Turku API, replayed in their recorded order against ours
 * on both backends: the statuses and bodies of its authentication refusals and of the 400s it
 * answers before authenticating (tests/unit/original-api-contract.test.ts replays every recording
 * on one backend for the shapes of the replies).
 */

/** The recordings of update_config and of refused logins: where authentication decides the answer. */
const RECORDED = RECORDINGS.filter(
  (recorded) =>
    recorded.request_body !== null &&
    (viewOf(recorded) === 'update_config' || (recorded.status === 403 && viewOf(recorded) !== 'health')),
);

/**
 * Where ours answers differently on purpose: the original's entropy rule refuses this genuine RFC
 * 4122 UUID (docs/api.md, "Where this API differs from the original on purpose"); ours registers
 * it, once the registration auth has passed.
 */
const DIVERGENCES: Readonly<Record<string, { status: number; body: string }>> = {
  'update_config low-entropy uuid -> 400': { status: 200, body: '{}' },
};

afterAll(stopPostgres);

describe.each(BACKENDS)('recorded replies of the original API, replayed on %s', (backend) => {
  let t: TestApi;

  beforeEach(async () => {
    t = await startTestApi(backend);
    const ctx = t.api.ctx;
    await ensureAuth(ctx, 'machine_reg', RECORDED_MACHINE_AUTH.name, RECORDED_MACHINE_AUTH.secret);
    await ensureAuth(ctx, 'storage_reg', STORAGE_AUTH.name, STORAGE_AUTH.secret);
    const registered = await t.post('storage_update_config', { auth: STORAGE_AUTH, storage: PEER_STORAGE });
    expect(registered.status).toBe(200);
  }, 30_000);
  afterEach(() => t.close());

  const replay = async (recorded: Recording) => {
    const response = await t.post(viewOf(recorded), recorded.request_body!, {
      'Content-Type': recorded.request_content_type!,
    });
    return { label: recorded.label, status: response.status, body: response.text.trim() };
  };

  it('answers each recorded request with the original status and body', async () => {
    // 8 update_config recordings and the 4 refused logins of the other views.
    expect(RECORDED).toHaveLength(12);
    expect(RECORDED.map((recorded) => recorded.label)).toContain('storage_update_config new storage, no auth -> 403');
    for (const recorded of RECORDED) {
      const expected = DIVERGENCES[recorded.label] ?? { status: recorded.status, body: recorded.response_body };
      expect(await replay(recorded)).toEqual({ label: recorded.label, ...expected });
    }
  }, 60_000);

  it('refuses the recorded bodies without their auth with 403 before any shape rule', async () => {
    for (const recorded of RECORDED) {
      const body = JSON.parse(recorded.request_body!) as Record<string, unknown>;
      if (!('auth' in body)) continue;
      delete body.auth;
      const response = await replay({ ...recorded, request_body: JSON.stringify(body) });
      expect(response).toEqual({ label: recorded.label, status: 403, body: 'Bad auth' });
    }
  }, 60_000);

  it('registers the recorded short-secret storage once it brings valid auth, and lists it as weak', async () => {
    const recorded = RECORDED.find((candidate) => candidate.label.startsWith('storage_update_config new storage'))!;
    const storage = (JSON.parse(recorded.request_body!) as { storage: { name: string; secret: string } }).storage;
    expect(storage.secret).toBe('s');
    await ensureAuth(t.api.ctx, 'storage_reg', 'Old Storages', 'old-registration-secret-0001');
    const response = await t.post('storage_update_config', {
      auth: { name: 'Old Storages', secret: 'old-registration-secret-0001' },
      storage: { ...storage, ssh_ping_host: 'old.example.com', ssh_ping_port: 22, ssh_ping_user: 'turku-ping' },
    });
    expect([response.status, response.text]).toEqual([200, '{"machines":{}}']);
    expect((await replay(recorded)).status).toBe(200);
    const rows = await listStorages(t.api.ctx);
    expect(rows.map((row) => [row.name, row.weak_secret])).toEqual([
      ['peer-storage', false],
      [storage.name, true],
    ]);
  }, 30_000);
});
