import { randomUUID } from 'node:crypto';

import { afterAll, expect, it } from '@jest/globals';

import { startTestApi, stopPostgres } from '../../tests/support/api-harness.js';
import { createAuth } from './admin/commands.js';
import { Store } from './store.js';

/**
 * Two API units over one PostgreSQL, as `juju add-unit turku-api` makes them: the same agent
 * registering through both at once ends up as one machine with one set of sources, and either
 * unit can go away without losing anything.
 */

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE = { name: 'primary', secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4' };

afterAll(stopPostgres);

it('serves the same agents from two units, racing registrations included', async () => {
  const first = await startTestApi('postgres');
  const second = await startTestApi('postgres', {}, { databaseUrl: first.databaseUrl! });
  try {
    const machineAuth = await createAuth(first.api.ctx, 'machine_reg');
    const storageAuth = await createAuth(second.api.ctx, 'storage_reg');
    const storage = await first.post('storage_update_config', {
      auth: storageAuth,
      storage: { ...STORAGE, ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'turku-ping', space_available: 1 },
    });
    expect(storage.status).toBe(200);

    const agents = Array.from({ length: 20 }, (_, i) => ({
      uuid: randomUUID(),
      secret: `secret-of-agent-number-${String(i).padStart(4, '0')}`,
      unit_name: `app/${i}`,
      ssh_public_key: KEY,
      sources: { etc: { path: '/etc' }, home: { path: '/home', frequency: 'hourly' } },
    }));
    // Each agent's registration reaches both units at the same moment.
    const responses = await Promise.all(
      agents.flatMap((machine) => [
        first.post('update_config', { auth: machineAuth, machine }),
        second.post('update_config', { auth: machineAuth, machine }),
      ]),
    );
    expect(responses.map((response) => response.status)).toEqual(responses.map(() => 200));
    const counts = await first.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      return [await store.count('machines'), await store.count('sources')];
    });
    expect(counts).toEqual([20, 40]);

    await first.close();
    for (const agent of agents) {
      const checkin = await second.post('agent_ping_checkin', { machine: { uuid: agent.uuid, secret: agent.secret } });
      expect(checkin.status).toBe(200);
    }
    const listed = await second.post('storage_update_config', { storage: STORAGE });
    expect(Object.keys((listed.json() as { machines: object }).machines).sort()).toEqual(
      agents.map((agent) => agent.uuid).sort(),
    );
  } finally {
    await first.close();
    await second.close();
  }
}, 60_000);
