// The deployable bundle in the model simulator: bundles/turku.yaml with the three real charms
// (in-process, each unit on its own machine root, running the real Turku programs: turku-api
// serving on loopback, storages and agents registering with it over HTTP), a principal that
// publishes sources over backup-sources, and add-unit turku-storage.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { turkuAgentCharm } from '../../charms/turku-agent/src/charm.js';
import { turkuApiCharm } from '../../charms/turku-api/src/charm.js';
import { turkuStorageCharm } from '../../charms/turku-storage/src/charm.js';
import { type CharmDefinition, defineCharm, runCharm } from '../../lib/charm/index.js';
import { readStorageUnit } from '../../lib/charm-interfaces/index.js';
import { writeSources } from '../../lib/charm-interfaces/turku-sources.js';
import { parseBundle } from '../../lib/charm-testing/bundle.js';
import { parseCharmMeta } from '../../lib/charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../../lib/charm-testing/simulator.js';
import { expectSameFreeSpace } from '../support/free-space.js';
import { MachineRoots } from '../support/machines.js';
import { freePort } from '../support/processes.js';

jest.setTimeout(180_000);

const BUNDLE = fileURLToPath(new URL('../../bundles/turku.yaml', import.meta.url));
const charmcraft = (name: string) => fileURLToPath(new URL(`../../charms/${name}/charmcraft.yaml`, import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function inProcess(meta: string, definition: CharmDefinition<any, any>): SimCharm {
  return { meta: parseCharmMeta(meta), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}

/**
 * Charmhub's `ubuntu` charm: a principal with nothing but the implicit juju-info endpoint, on the
 * LTS releases it is published for.
 */
const ubuntu = inProcess(
  [
    'name: ubuntu',
    'summary: A pristine Ubuntu machine',
    'description: stand-in for charmhub ubuntu',
    'platforms:',
    ...['20.04', '22.04', '24.04'].map((release) => `  ubuntu@${release}:amd64:`),
    '',
  ].join('\n'),
  defineCharm({
    reconcile(ctx) {
      ctx.status.active('ready');
      return Promise.resolve();
    },
  }),
);

const WEBAPP_SOURCES = {
  'webapp-data': { path: '/srv/webapp', frequency: 'daily', retention: 'last 5 days' },
  'webapp-config': { path: '/etc/webapp' },
};

/** A principal that publishes its sources to the agent beside it (interface turku-sources). */
const webapp = inProcess(
  `name: webapp
summary: An application whose data Turku backs up
description: test principal publishing its sources
provides:
  backup-sources:
    interface: turku-sources
`,
  defineCharm({
    async reconcile(ctx) {
      for (const relation of await ctx.tools.relationIds('backup-sources')) {
        await ctx.tools.relationSet(relation, writeSources(WEBAPP_SOURCES));
      }
      ctx.status.active('serving');
    },
  }),
);

let roots: MachineRoots;
let sim: ModelSimulator;
let port: number;

beforeAll(async () => {
  roots = await new MachineRoots().init();
  port = await freePort();
  const charms: Record<string, SimCharm> = {
    'turku-api': {
      meta: parseCharmMeta(await readFile(charmcraft('turku-api'), 'utf8')),
      executor: { kind: 'in-process', run: (io) => runCharm(turkuApiCharm(roots.hostFor), io) },
    },
    'turku-storage': {
      meta: parseCharmMeta(await readFile(charmcraft('turku-storage'), 'utf8')),
      executor: { kind: 'in-process', run: (io) => runCharm(turkuStorageCharm(roots.hostFor), io) },
    },
    'turku-agent': {
      meta: parseCharmMeta(await readFile(charmcraft('turku-agent'), 'utf8')),
      executor: { kind: 'in-process', run: (io) => runCharm(turkuAgentCharm(roots.hostFor), io) },
    },
  };
  sim = new ModelSimulator({ seed: 7 });
  // The API listens on all addresses; the units reach it over loopback, as the simulated
  // addresses lead nowhere.
  const overlay = `applications:\n  turku-api:\n    options:\n      port: ${port}\n      external-url: http://127.0.0.1:${port}/v1\n`;
  await sim.deployBundle(
    BUNDLE,
    (charm) => {
      if (charm === 'ubuntu') return ubuntu;
      const name = /\/build\/(turku-[a-z]+)\.charm$/.exec(charm)?.[1];
      const found = name === undefined ? undefined : charms[name];
      if (found === undefined) throw new Error(`unexpected charm ${charm}`);
      return found;
    },
    [overlay],
  );
  await sim.settle();
  // An agent that registered before any storage had registered waits for the next hook; Juju
  // runs update-status every 5 minutes.
  await sim.updateStatus();
  await sim.settle();
});

afterAll(async () => {
  await roots?.cleanup();
});

function machineOf(unit: string): string {
  return sim.model.units[unit]!.machine;
}

async function action(
  unit: string,
  name: string,
  params: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const task = await sim.runAction(unit, name, params);
  if (task.status !== 'completed') throw new Error(`${name} on ${unit}: ${task.status}: ${task.message}`);
  return task.results;
}

describe('bundles/turku-ha.yaml', () => {
  it('is an overlay that makes two API units share a PostgreSQL database', async () => {
    const bundle = parseBundle(await readFile(BUNDLE, 'utf8'), {
      bundleDir: dirname(BUNDLE),
      overlays: [await readFile(join(dirname(BUNDLE), 'turku-ha.yaml'), 'utf8')],
    });
    expect(bundle.applications['turku-api']).toMatchObject({ numUnits: 2, options: { port: 8000 } });
    expect(bundle.applications['postgresql']).toMatchObject({ charm: 'postgresql', numUnits: 1 });
    expect(bundle.relations).toContainEqual(['turku-api:database', 'postgresql:database']);
    expect(bundle.relations).toHaveLength(4);
  });
});

describe('bundles/turku.yaml as Juju checks it', () => {
  it("asks a rootfs size for the storage units' backups that a default LXD pool's containers have", async () => {
    const bundle = parseBundle(await readFile(BUNDLE, 'utf8'), { bundleDir: dirname(BUNDLE) });
    const [pool, count, size] = bundle.applications['turku-storage']!.storage['backups']!.split(',');
    expect([pool, count]).toEqual(['rootfs', '1']);
    // Juju's rootfs provider refuses a root filesystem whose total size (df) is below the
    // requested size; a default LXD pool is at least 5 GiB, shared by every container in it.
    const mib = (text: string) => Number(/^(\d+)([MG])$/.exec(text)![1]) * (text.endsWith('G') ? 1024 : 1);
    expect(mib(size!)).toBeLessThanOrEqual(2048);
  });

  it('deploys every application on the default base, which each charm declares', () => {
    const bases = Object.fromEntries(Object.values(sim.model.applications).map((app) => [app.name, app.base]));
    expect(bases).toEqual({
      'turku-api': 'ubuntu@24.04',
      'turku-storage': 'ubuntu@24.04',
      'turku-agent': 'ubuntu@24.04',
      ubuntu: 'ubuntu@24.04',
    });
  });

  it('turku-agent attaches to a principal on any LTS from 20.04, and is refused one it does not declare', async () => {
    const principal = (name: string, base: string) =>
      inProcess(
        `name: ${name}\nsummary: s\ndescription: d\nplatforms:\n  ${base}:arm64:\n`,
        defineCharm({ reconcile: () => Promise.resolve() }),
      );
    const separate = new ModelSimulator({ seed: 3 });
    await separate.deploy('turku-agent', {
      meta: parseCharmMeta(await readFile(charmcraft('turku-agent'), 'utf8')),
      executor: { kind: 'in-process', run: () => Promise.resolve(0) },
    });
    for (const release of ['20.04', '22.04', '24.04']) {
      const name = `app-${release === '20.04' ? 'focal' : release === '22.04' ? 'jammy' : 'noble'}`;
      await separate.deploy(name, principal(name, `ubuntu@${release}`), { numUnits: 0 });
      await separate.integrate('turku-agent:juju-info', `${name}:juju-info`);
    }
    await separate.deploy('bionic', principal('bionic', 'ubuntu@18.04'), { numUnits: 0 });
    await expect(separate.integrate('turku-agent:juju-info', 'bionic:juju-info')).rejects.toThrow(
      "principal and subordinate applications' bases must match",
    );
  });
});

describe('bundles/turku.yaml in the model simulator', () => {
  it('deploys: every unit active, the API serving, both storages and the ubuntu machine registered', async () => {
    const statuses = sim.workloadStatuses();
    expect(Object.keys(statuses).sort()).toEqual([
      'turku-agent/0',
      'turku-api/0',
      'turku-storage/0',
      'turku-storage/1',
      'ubuntu/0',
    ]);
    for (const [name, status] of Object.entries(statuses))
      expect([name, status]).toEqual([name, expect.stringMatching(/^active: /)]);

    const health = await fetch(`http://127.0.0.1:${port}/v1/health`);
    expect(health.status).toBe(200);

    const storages = JSON.parse(String((await action('turku-api/0', 'list-storages'))['storages'])) as Array<{
      name: string;
    }>;
    expect(storages.map((s) => s.name).sort()).toEqual(['turku-storage-0', 'turku-storage-1']);
    const machines = JSON.parse(String((await action('turku-api/0', 'list-machines'))['machines'])) as Array<{
      unit_name: string;
    }>;
    expect(machines.map((m) => m.unit_name)).toEqual(['ubuntu/0']);

    // The agent beside ubuntu/0: the API's URL and credential in a 0600 file on that machine.
    const agentConfig = roots.path(machineOf('ubuntu/0'), '/etc/turku-agent/config.d/50-juju.json');
    expect((await stat(agentConfig)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(agentConfig, 'utf8'))).toMatchObject({
      api_url: `http://127.0.0.1:${port}/v1`,
      service_name: 'ubuntu',
      unit_name: 'ubuntu/0',
    });

    // Each storage unit: its layer of the workload config (0600: it holds its login secret).
    for (const unit of ['turku-storage/0', 'turku-storage/1']) {
      const file = roots.path(machineOf(unit), '/etc/turku-storage/config.d/50-juju.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({
        name: unit.replace('/', '-'),
        api_url: `http://127.0.0.1:${port}/v1`,
        snapshot_mode: 'link-dest',
      });
    }
    // The API unit: its settings, SQLite by default.
    const apiSettings = roots.path(machineOf('turku-api/0'), '/etc/turku-api/config.json');
    expect(JSON.parse(await readFile(apiSettings, 'utf8'))).toMatchObject({
      database_path: roots.path(machineOf('turku-api/0'), '/var/lib/turku-api/turku-api.db'),
    });
  });

  it('a principal that publishes sources gets an agent that writes them to sources.d and registers them', async () => {
    await sim.deploy('webapp', webapp);
    await sim.integrate('turku-agent:juju-info', 'webapp:juju-info');
    await sim.integrate('turku-agent:backup-sources', 'webapp:backup-sources');
    await sim.settle();

    const agent = Object.keys(sim.workloadStatuses()).find(
      (name) => name.startsWith('turku-agent/') && machineOf(name) === machineOf('webapp/0'),
    )!;
    expect(sim.workloadStatuses()[agent]).toMatch(/^active: /);
    const file = roots.path(machineOf('webapp/0'), '/etc/turku-agent/sources.d/webapp.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(WEBAPP_SOURCES);

    const sources = JSON.parse(String((await action('turku-api/0', 'list-sources'))['sources'])) as Array<{
      name: string;
      unit_name: string;
    }>;
    expect(
      sources
        .filter((s) => s.unit_name === 'webapp/0')
        .map((s) => s.name)
        .sort(),
    ).toEqual(['webapp-config', 'webapp-data']);
  });

  it('add-unit turku-storage: the new unit publishes its capacity and the API records it', async () => {
    const [added] = await sim.addUnit('turku-storage');
    await sim.settle();
    expect(sim.workloadStatuses()[added!]).toMatch(/^active: /);

    const relation = Object.values(sim.model.relations).find((r) => r.ends.some((end) => end.endpoint === 'storages'))!;
    const bag = readStorageUnit(relation.unitBags[added!] ?? {});
    if (!bag.ok) throw new Error(bag.problems.join('; '));
    expect(bag.value['storage-name']).toBe('turku-storage-2');
    expect(bag.value['space-total-mib']).toBeGreaterThan(0);

    const storages = JSON.parse(String((await action('turku-api/0', 'list-storages'))['storages'])) as Array<
      Record<string, unknown>
    >;
    const recorded = storages.find((s) => s['name'] === 'turku-storage-2');
    expect(recorded).toMatchObject({
      unit: 'turku-storage/2',
      registered: true,
      'space-total-mib': bag.value['space-total-mib'],
    });
    expectSameFreeSpace(Number(recorded!['space-available-mib']), bag.value['space-available-mib']);
  });
});
