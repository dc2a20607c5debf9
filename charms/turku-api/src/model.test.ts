// The turku-api charm in a simulated model (ModelSimulator: Juju's hook order, several units),
// with consumers that do what turku-agent and turku-storage do with the relation: read the
// application bag, read the granted secret, and (the storage) publish its unit bag and register
// at the real API with the credential. Then a second API unit without a database.
import { afterEach, beforeEach, expect, jest, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { AccessError, SecretNotFoundError, defineCharm, runCharm } from '../../../lib/charm/index.js';
import { parseCharmMeta } from '../../../lib/charm-pack/charm-meta.js';
import { ModelSimulator } from '../../../lib/charm-testing/simulator.js';
import { readAgentApi, readRegistrationSecret, writeStorageUnit } from '../../../lib/charm-interfaces/index.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { freePort } from '../../../tests/support/processes.js';
import { turkuApiCharm } from './charm.js';

jest.setTimeout(90_000);

const CHARM_DIR = fileURLToPath(new URL('..', import.meta.url));
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';

const probeMeta = parseCharmMeta(`
name: probe
summary: Reads a Turku API's registration credential as an agent or a storage would.
description: Test consumer.
requires:
  agent-api:
    interface: turku-agent-api
    limit: 1
  storage-api:
    interface: turku-storage-api
    limit: 1
`);

/** agent-api: reports the credential it can read; storage-api: publishes its bag and registers with it. */
const probe = defineCharm({
  async reconcile(ctx) {
    const name = `store-${ctx.juju.unit.split('/')[1]!}`;
    for (const endpoint of ['agent-api', 'storage-api'] as const) {
      const [relation] = await ctx.tools.relationIds(endpoint);
      if (relation === undefined) continue;
      if (endpoint === 'storage-api') {
        await ctx.tools.relationSet(
          relation,
          writeStorageUnit({
            'storage-name': name,
            'ssh-host': `${name}.example.com`,
            'ssh-port': 22,
            'ssh-user': 'turku-ping',
            'ssh-host-keys': [KEY],
            'space-total-mib': 953_869,
            'space-available-mib': 512_000,
          }),
        );
      }
      const bag = readAgentApi(
        await ctx.tools.relationGet(relation, await ctx.tools.relationRemoteApp(relation), { app: true }),
      );
      if (!bag.ok) {
        ctx.status.waiting('no credential yet');
        continue;
      }
      let content;
      try {
        content = await ctx.tools.secretGet({ id: bag.value['secret-id'] });
      } catch (error) {
        if (error instanceof SecretNotFoundError || error instanceof AccessError) {
          ctx.status.waiting('secret not readable yet');
          continue;
        }
        throw error;
      }
      const credential = readRegistrationSecret(content, endpoint === 'agent-api' ? 'machine_reg' : 'storage_reg');
      if (!credential.ok) throw new Error(credential.problems.join('; '));
      const auth = { name: credential.value['auth-name'], secret: credential.value['auth-secret'] };
      if (endpoint === 'agent-api') {
        ctx.status.active(`credential ${auth.name}`);
        continue;
      }
      const response = await fetch(`${bag.value['api-url']}/storage_update_config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth,
          storage: {
            name,
            secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4',
            ssh_ping_host: `${name}.example.com`,
            ssh_ping_port: 22,
            ssh_ping_user: 'turku-ping',
          },
        }),
      });
      ctx.status.active(`registered ${name}: HTTP ${response.status}`);
    }
  },
});

let roots: MachineRoots;
beforeEach(async () => {
  roots = await new MachineRoots().init();
});
afterEach(() => roots.cleanup());

test('consumers read the granted credentials and register; a second API unit without a database is blocked', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v1`;
  const sim = new ModelSimulator({ seed: 3 });
  const charm = turkuApiCharm(roots.hostFor);
  await sim.deploy(
    'turku-api',
    {
      meta: parseCharmMeta(await readFile(`${CHARM_DIR}/charmcraft.yaml`, 'utf8')),
      executor: { kind: 'in-process', run: (io) => runCharm(charm, io) },
    },
    { config: { port, 'external-url': url } },
  );
  const probeCharm = {
    meta: probeMeta,
    executor: { kind: 'in-process' as const, run: (io: Parameters<typeof runCharm>[1]) => runCharm(probe, io) },
  };
  await sim.deploy('storage', probeCharm);
  await sim.deploy('agent', probeCharm);
  await sim.integrate('storage:storage-api', 'turku-api:storages');
  await sim.integrate('agent:agent-api', 'turku-api:agents');
  await sim.settle();

  const agentsRelation = Object.values(sim.model.relations).find((r) =>
    r.ends.some((end) => end.endpoint === 'agents'),
  )!;
  expect(sim.workloadStatuses()).toEqual({
    'turku-api/0': `active: ${url} (SQLite); 0 machines; storages: store-0 500 GiB free`,
    'storage/0': 'active: registered store-0: HTTP 200',
    'agent/0': `active: credential juju agents:${agentsRelation.id}`,
  });

  await sim.addUnit('turku-api');
  await sim.settle();
  expect(sim.workloadStatuses()).toMatchObject({
    'turku-api/0': 'blocked: 2 units need a shared database: integrate with postgresql (database endpoint)',
    'turku-api/1':
      'blocked: 2 units need a shared database: integrate with postgresql (database endpoint); this unit does not serve until then',
  });
  expect(sim.model.units['turku-api/1']!.ports).toEqual([]);

  // Removing the agents relation removes its secret; the storages one stays.
  await sim.removeRelation('agent:agent-api', 'turku-api:agents');
  await sim.settle();
  expect(Object.values(sim.model.secrets).map((secret) => secret.label)).toEqual([
    expect.stringMatching(/^storages-registration-\d+$/),
  ]);
});
