// turku-storage in a simulated model: several units (leader and non-leaders alike publish only
// their own unit bag), attached storage, add-unit, and the shared-name guard. The API side is a
// small stand-in charm that does what the turku-api leader does on `storages` (secret + app bag);
// the storages register with a real turku-api.
import { jest } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';

import { listStorages } from '../../../lib/api/admin/commands.js';
import { defineCharm, runCharm } from '../../../lib/charm/index.js';
import {
  readStorageUnit,
  storageApiSecretContent,
  type StorageUnitBag,
  writeStorageApi,
} from '../../../lib/charm-interfaces/index.js';
import { parseCharmMeta } from '../../../lib/charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../../../lib/charm-testing/simulator.js';
import { expectSameFreeSpace } from '../../../tests/support/free-space.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { startApiWorld, storageCharm, type ApiWorld } from './__tests__/fixtures.js';

jest.setTimeout(120_000);

const API_META = `
name: turku-api
summary: stand-in for the turku-api charm's storages endpoint
description: test double
provides:
  storages:
    interface: turku-storage-api
`;

/** The leader shares the credential as a secret granted on each relation, and the URL. */
function apiStandIn(world: ApiWorld): SimCharm {
  const definition = defineCharm({
    async reconcile(ctx) {
      if (!(await ctx.tools.isLeader())) return;
      for (const relation of await ctx.tools.relationIds('storages')) {
        const key = `secret-${relation.replace(':', '-')}`;
        let id = (await ctx.tools.stateGet())[key];
        if (id === undefined) {
          id = await ctx.tools.secretAdd(storageApiSecretContent(world.credential));
          await ctx.tools.secretGrant(id, relation);
          await ctx.tools.stateSet({ [key]: id });
        }
        await ctx.tools.relationSet(relation, writeStorageApi({ 'api-url': world.api.url, 'secret-id': id }), {
          app: true,
        });
      }
    },
  });
  return { meta: parseCharmMeta(API_META), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}

let roots: MachineRoots;
let world: ApiWorld;
let sim: ModelSimulator;

beforeAll(async () => {
  roots = await new MachineRoots().init();
  world = await startApiWorld();
  sim = new ModelSimulator({ seed: 3 });
  await sim.deploy('turku-api', apiStandIn(world));
  await sim.deploy('turku-storage', await storageCharm(roots), { numUnits: 2 });
  await sim.integrate('turku-storage:turku-api', 'turku-api:storages');
  await sim.settle();
});

afterAll(async () => {
  await world?.api.close();
  await roots?.cleanup();
});

function relation() {
  return Object.values(sim.model.relations).find((r) => r.ends.some((end) => end.endpoint === 'storages'))!;
}

function unitBag(unit: string): StorageUnitBag {
  const read = readStorageUnit(relation().unitBags[unit] ?? {});
  if (!read.ok) throw new Error(`${unit}: ${read.problems.join('; ')}`);
  return read.value;
}

async function registered(name: string) {
  return (await listStorages(world.api.api.ctx)).find((row) => row.name === name);
}

test('leader and non-leader each register and publish their own unit bag; no application data', async () => {
  const units = ['turku-storage/0', 'turku-storage/1'];
  const leader = sim.model.applications['turku-storage']!.leader;
  expect(units).toContain(leader);
  for (const unit of units) {
    expect(sim.workloadStatuses()[unit]).toMatch(/^active: turku-storage-\d: .* free on 1 volume$/);
    const bag = unitBag(unit);
    expect(bag['storage-name']).toBe(unit.replace('/', '-'));
    // Each on its own machine, with its own address and host keys.
    expect(bag['ssh-host']).toBe(sim.model.machines[sim.model.units[unit]!.machine]!.address);
    const row = await registered(bag['storage-name']);
    expect(row).toMatchObject({ space_total_mib: bag['space-total-mib'] });
    expectSameFreeSpace(Number(row!.space_available_mib), bag['space-available-mib']);
  }
  expect(unitBag(units[0]!)['ssh-host-keys']).not.toEqual(unitBag(units[1]!)['ssh-host-keys']);
  expect(relation().appBags['turku-storage'] ?? {}).toEqual({});
});

test('attaching a backups storage makes it a volume', async () => {
  const [id] = await sim.attachStorage('turku-storage/1', 'backups', 1);
  await sim.settle();
  const machine = sim.model.units['turku-storage/1']!.machine;
  const written = JSON.parse(
    await readFile(roots.path(machine, '/etc/turku-storage/config.d/50-juju.json'), 'utf8'),
  ) as {
    volumes: Record<string, { path: string }>;
  };
  expect(written.volumes).toEqual({
    [id!.replace('/', '-')]: { path: roots.path(machine, `/srv/turku-storage/${id}`) },
  });
  expect(sim.workloadStatuses()['turku-storage/1']).toMatch(/free on 1 volume$/);
});

test('add-unit: the new unit publishes its capacity and the API records it', async () => {
  const [unit] = await sim.addUnit('turku-storage');
  await sim.settle();
  const bag = unitBag(unit!);
  expect(await registered(bag['storage-name'])).toMatchObject({ space_total_mib: bag['space-total-mib'] });
});

test('one storage-name for several units is blocked; {unit} makes each unit its own', async () => {
  await sim.config('turku-storage', { 'storage-name': 'primary' });
  await sim.settle();
  expect(sim.workloadStatuses()['turku-storage/0']).toBe(
    'blocked: storage-name: "primary" would be the name of all 3 units; add {unit} or leave it empty',
  );
  await sim.config('turku-storage', { 'storage-name': 'primary-{unit}' });
  await sim.settle();
  for (const n of [0, 1, 2]) {
    expect(unitBag(`turku-storage/${n}`)['storage-name']).toBe(`primary-${n}`);
    expect(await registered(`primary-${n}`)).toBeDefined();
  }
});

test('a unit being removed takes its timers away', async () => {
  const machine = sim.model.units['turku-storage/2']!.machine;
  const cron = roots.path(machine, '/etc/cron.d');
  expect((await readdir(cron)).length).toBeGreaterThan(0);
  await sim.removeUnit('turku-storage/2');
  await sim.settle();
  expect(await readdir(cron)).toEqual([]);
});
