import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ensureAuth, listStorages } from '../../lib/api/admin/commands.js';
import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../support/api-harness.js';

/**
 * Requests recorded against the original Turku API, replayed in their recorded order against ours
 * on both backends: the statuses and bodies of its authentication refusals and of the 400s it
 * answers before authenticating. The fixture lines are copied verbatim from those recordings.
 */

interface Recorded {
  readonly label: string;
  readonly path: string;
  readonly request_content_type: string;
  readonly request_body: string;
  readonly status: number;
  readonly response_body: string;
}

const RECORDED: readonly Recorded[] = readFileSync(
  fileURLToPath(new URL('../fixtures/original-auth-replies.jsonl', import.meta.url)),
  'utf8',
)
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Recorded);

/** The registration credential the recordings use (a throwaway). */
const MACHINE_REGISTRATION = { name: 'Machine Registrations', secret: '9vA93QOWIQqVkiHwjIW35phG38xrZy' };
/** The storage the recordings' storage calls name (its secret is in the recorded successes). */
const PEER_STORAGE = {
  name: 'peer-storage',
  secret: 'peer-storage-secret-0123456789',
  ssh_ping_host: '127.0.0.1',
  ssh_ping_port: 12222,
  ssh_ping_user: 'root',
  space_available: 1000,
};

/**
 * Where ours answers differently on purpose: the original's entropy rule refuses this genuine
 * RFC 4122 UUID (spec §10 row 32); ours registers it, once the registration auth has passed.
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
    await ensureAuth(ctx, 'machine_reg', MACHINE_REGISTRATION.name, MACHINE_REGISTRATION.secret);
    const storageRegistration = 'storage-registration-secret-01';
    await ensureAuth(ctx, 'storage_reg', 'Storage Registrations', storageRegistration);
    const registered = await t.post('storage_update_config', {
      auth: { name: 'Storage Registrations', secret: storageRegistration },
      storage: PEER_STORAGE,
    });
    expect(registered.status).toBe(200);
  }, 30_000);
  afterEach(() => t.close());

  const replay = async (recorded: Recorded) => {
    const view = recorded.path.replace(/^\/v1\//, '');
    const response = await t.post(view, recorded.request_body, { 'Content-Type': recorded.request_content_type });
    return { label: recorded.label, status: response.status, body: response.text.trim() };
  };

  it('answers each recorded request with the original status and body', async () => {
    expect(RECORDED.map((recorded) => recorded.label)).toContain('storage_update_config new storage, no auth -> 403');
    for (const recorded of RECORDED) {
      const expected = DIVERGENCES[recorded.label] ?? { status: recorded.status, body: recorded.response_body };
      expect(await replay(recorded)).toEqual({ label: recorded.label, ...expected });
    }
  }, 60_000);

  it('refuses the recorded bodies without their auth with 403 before any shape rule', async () => {
    for (const recorded of RECORDED) {
      const body = JSON.parse(recorded.request_body) as Record<string, unknown>;
      if (!('auth' in body)) continue;
      delete body.auth;
      const response = await replay({ ...recorded, request_body: JSON.stringify(body) });
      expect(response).toEqual({ label: recorded.label, status: 403, body: 'Bad auth' });
    }
  }, 60_000);

  it('registers the recorded short-secret storage once it brings valid auth, and lists it as weak', async () => {
    const recorded = RECORDED.find((candidate) => candidate.label.startsWith('storage_update_config new storage'))!;
    const storage = (JSON.parse(recorded.request_body) as { storage: { name: string; secret: string } }).storage;
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
