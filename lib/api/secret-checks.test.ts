import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../tests/support/api-harness.js';
import { createAuth } from './admin/commands.js';
import { secretTransaction } from './secret-checks.js';
import { hashSecret } from './secrets.js';

/**
 * Slow secret work (scrypt for a weak secret) runs outside the database transaction: on SQLite,
 * where transactions run one at a time, an ordinary machine's check-in must not wait for it.
 */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';

afterAll(stopPostgres);

describe.each(BACKENDS)('secret checks on %s', (backend) => {
  let t: TestApi;

  beforeEach(async () => {
    t = await startTestApi(backend);
  }, 30_000);
  afterEach(() => t.close());

  it('runs the slow work between rounds, outside the transaction, and writes only in the last round', async () => {
    const rounds: string[] = [];
    const weakHash = await hashSecret('pw');
    const result = await secretTransaction(t.api.ctx.db, async (store, checks) => {
      rounds.push('begin');
      await store.insert('filter_sets', {
        name: `round ${rounds.length}`,
        filters: [],
        comment: null,
        active: true,
        date_added: t.clock,
      });
      const verified = checks.verify('pw', weakHash);
      rounds.push('verified');
      const stored = checks.hash('pw');
      rounds.push('hashed');
      return { ok: verified.ok, stored };
    });
    expect(rounds).toEqual(['begin', 'begin', 'verified', 'begin', 'verified', 'hashed']);
    expect(result.ok).toBe(true);
    expect(result.stored).toMatch(/^scrypt-short\$/);
    // The aborted rounds were rolled back.
    const sets = await t.api.ctx.db.transaction((tx) => tx.all<{ name: string }>('SELECT name FROM filter_sets'));
    expect(sets.map((set) => set.name)).toEqual(['round 4']);
  }, 30_000);

  it('answers a strong secret at once, in one round', async () => {
    const strongHash = await hashSecret(SECRET);
    let rounds = 0;
    await secretTransaction(t.api.ctx.db, (_store, checks) => {
      rounds++;
      expect(checks.verify(SECRET, strongHash)).toEqual({ ok: true, rehash: false });
      expect(checks.hash(SECRET)).toMatch(/^hmac-sha256\$/);
      return Promise.resolve();
    });
    expect(rounds).toBe(1);
  });

  it('serves an ordinary check-in while a weak-secret login is still hashing', async () => {
    const machineAuth = await createAuth(t.api.ctx, 'machine_reg');
    const storageAuth = await createAuth(t.api.ctx, 'storage_reg');
    const storage = { name: 'old', secret: 's', ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u' };
    expect((await t.post('storage_update_config', { auth: storageAuth, storage })).status).toBe(200);
    const machine = { uuid: UUID, secret: SECRET, unit_name: 'sql/2', ssh_public_key: KEY };
    expect((await t.post('update_config', { auth: machineAuth, machine })).status).toBe(200);

    const finished: string[] = [];
    const slow = Promise.all(
      [1, 2, 3].map(() =>
        t
          .post('storage_ping_checkin', { storage: { name: 'old', secret: 's' }, machine: { uuid: UUID } })
          .then((response) => finished.push(`weak ${response.status}`)),
      ),
    );
    // Let the weak logins reach their scrypt, then check in with an ordinary secret.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const checkin = await t.post('agent_ping_checkin', { machine: { uuid: UUID, secret: SECRET } });
    finished.push(`strong ${checkin.status}`);
    await slow;
    expect(finished[0]).toBe('strong 200');
    expect(finished.slice(1)).toEqual(['weak 200', 'weak 200', 'weak 200']);
  }, 30_000);
});
