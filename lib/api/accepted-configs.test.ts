import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../tests/support/api-harness.js';
import { acceptedRequest, bodyDigest, rememberAccepted } from './accepted-configs.js';
import { createAuth, setActive } from './admin/commands.js';
import { Store } from './store.js';

/** update_config bodies accepted before (docs/api.md, "update_config"): only validation is skipped. */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@primary';

afterAll(stopPostgres);

// On PostgreSQL a repeated body that changes nothing takes two statements (views/update-config.ts).
describe.each(BACKENDS)('accepted update_config bodies on %s', (backend) => {
  let t: TestApi;
  let body: Record<string, unknown>;

  beforeEach(async () => {
    t = await startTestApi(backend);
    const storageAuth = await createAuth(t.api.ctx, 'storage_reg');
    const storage = {
      name: 'primary',
      secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4',
      ssh_ping_host: 'primary.example.com',
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
      ssh_ping_host_keys: [HOST_KEY],
      space_total: 100,
      space_available: 50,
    };
    expect((await t.post('storage_update_config', { auth: storageAuth, storage })).status).toBe(200);
    const auth = await createAuth(t.api.ctx, 'machine_reg');
    body = {
      auth,
      machine: {
        uuid: UUID,
        secret: SECRET,
        unit_name: 'sql/2',
        ssh_public_key: KEY,
        sources: { etc: { path: '/etc' } },
      },
    };
  }, 30_000);
  afterEach(() => t.close());

  const sources = () =>
    t.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      return store.sourcesOfMachine((await store.machineByUuid(UUID))!.id);
    });

  it('digests equal bodies equally and different ones differently', () => {
    expect(bodyDigest({ a: 1, b: [2] })).toBe(bodyDigest({ a: 1, b: [2] }));
    expect(bodyDigest({ a: 1, b: [2] })).not.toBe(bodyDigest({ a: 1, b: [3] }));
    expect(bodyDigest({ secret: SECRET })).not.toContain(SECRET);
  });

  it('keeps the validated request without the secret, and gives it back only for the same digest', () => {
    rememberAccepted(t.api.ctx, UUID, 'digest-1', { secret: SECRET, unit_name: 'x' });
    expect(acceptedRequest(t.api.ctx, UUID, 'digest-1')).toEqual({ secret: undefined, unit_name: 'x' });
    expect(JSON.stringify(acceptedRequest(t.api.ctx, UUID, 'digest-1'))).not.toContain(SECRET);
    expect(acceptedRequest(t.api.ctx, UUID, 'digest-2')).toBeUndefined();
  });

  it('answers a repeated body as before, and still refuses a wrong secret or an inactive machine', async () => {
    expect((await t.post('update_config', body)).text).toBe('{}');
    const first = await sources();
    t.clock = new Date(t.clock.getTime() + 60_000);
    expect((await t.post('update_config', body)).text).toBe('{}');
    expect(await sources()).toEqual(first);
    const checkedIn = await t.api.ctx.db.transaction((tx) => new Store(tx).machineByUuid(UUID));
    expect(checkedIn?.date_checked_in).toEqual(t.clock);
    // A machine the admin unpublished since is published again.
    await t.api.ctx.db.transaction((tx) => new Store(tx).update('machines', checkedIn!.id, { published: false }));
    expect((await t.post('update_config', body)).text).toBe('{}');
    expect((await t.api.ctx.db.transaction((tx) => new Store(tx).machineByUuid(UUID)))?.published).toBe(true);
    // A source the admin unpublished since is published again: the stored rows are compared as always.
    await t.api.ctx.db.transaction((tx) => new Store(tx).update('sources', first[0]!.id, { published: false }));
    expect((await t.post('update_config', body)).text).toBe('{}');
    expect((await sources())[0]!.published).toBe(true);
    const machine = body.machine as Record<string, unknown>;
    const wrong = await t.post('update_config', { ...body, machine: { ...machine, secret: 'x'.repeat(30) } });
    expect([wrong.status, wrong.text.trim()]).toEqual([403, 'Bad auth']);
    await setActive(t.api.ctx, 'machine', UUID, false);
    const inactive = await t.post('update_config', body);
    expect([inactive.status, inactive.text.trim()]).toEqual([403, 'Bad auth']);
  });

  it('validates a changed body again', async () => {
    expect((await t.post('update_config', body)).text).toBe('{}');
    const machine = body.machine as Record<string, unknown>;
    const changed = { ...body, machine: { ...machine, sources: { etc: { path: '/etc', frequency: 'at 2am' } } } };
    const response = await t.post('update_config', changed);
    expect(response.status).toBe(400);
    expect(response.text).toMatch(/^Validation error: source "etc": frequency/);
  });
});
