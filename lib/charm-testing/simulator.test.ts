import { type CharmIo } from '../charm/runner.js';
import { parseCharmMeta } from '../charm-pack/charm-meta.js';
import { type ConfigValue, type Secret, emptyRelationView } from './model.js';
import { type HistoryEntry, ModelSimulator, type SimCharm, SimulatorError } from './simulator.js';

type Handler = (io: CharmIo) => Promise<number | void> | number | void;

/** An in-process charm: `handlers[event]` (hook name or `action:<name>`) or `handlers['*']`. */
function charm(yaml: string, handlers: Record<string, Handler> = {}): SimCharm {
  return {
    meta: parseCharmMeta(yaml),
    executor: {
      kind: 'in-process',
      run: async (io) => {
        const event = io.env['JUJU_HOOK_NAME'] || `action:${io.env['JUJU_ACTION_NAME'] ?? ''}`;
        const handler = handlers[event] ?? handlers['*'];
        const code = handler === undefined ? 0 : await handler(io);
        return typeof code === 'number' ? code : 0;
      },
    },
  };
}

const STORE = `
name: store
summary: s
description: d
peers:
  store-peers: {interface: store-peers}
provides:
  backup: {interface: backup}
storage:
  backups: {type: filesystem, location: /srv/backups}
`;

const API = `
name: api
summary: s
description: d
peers:
  api-peers: {interface: api-peers}
requires:
  backup: {interface: backup}
provides:
  registration: {interface: backup-registration}
config:
  options:
    port: {type: int, default: 8080}
    debug: {type: boolean}
    name: {type: string}
actions:
  write:
    params:
      key: {type: string}
      value: {type: string}
      app: {type: boolean, default: false}
      rel: {type: string}
  backup-now:
    params:
      tag: {type: string}
      retries: {type: integer, default: 3}
    required: [tag]
  strict:
    params:
      tag: {type: string}
    additionalProperties: false
`;

const AGENT = `
name: agent
summary: s
description: d
subordinate: true
requires:
  juju-info: {interface: juju-info, scope: container}
  registration: {interface: backup-registration, limit: 1}
peers:
  agent-peers: {interface: agent-peers}
`;

/** `event(remote)` for relation hooks, plain event otherwise. */
function label(entry: HistoryEntry): string {
  const remote = entry.env['JUJU_REMOTE_UNIT'];
  return remote ? `${entry.event}(${remote})` : entry.event;
}

/** The unit's events (labelled), from history entry `since` on. */
function eventsOf(sim: ModelSimulator, unit: string, since = 0): string[] {
  return sim.history
    .slice(since)
    .filter((h) => h.unit === unit)
    .map(label);
}

/** Writes `key=value` into relation `rel` (unit bag, or app bag with app=true) from an action. */
const writeHandler: Handler = async (io) => {
  const out = await io.runner.run('action-get', ['--format=json']);
  const params = JSON.parse(out.stdout) as { key: string; value: string; app: boolean; rel: string };
  const args = ['-r', params.rel, ...(params.app ? ['--app'] : []), `${params.key}=${params.value}`];
  const result = await io.runner.run('relation-set', args);
  return result.code;
};

async function apiAndStore(seed = 1): Promise<{ sim: ModelSimulator; rel: number }> {
  const sim = new ModelSimulator({ seed });
  await sim.deploy('api', charm(API, { 'action:write': writeHandler }), { numUnits: 2 });
  await sim.deploy('store', charm(STORE));
  await sim.settle();
  const rel = await sim.integrate('api:backup', 'store:backup');
  await sim.settle();
  return { sim, rel };
}

describe('setup ordering', () => {
  test('[fidelity 32] storage-attached -> install -> relation-created -> leader hook -> config-changed -> start; joined only after start', async () => {
    const sim = new ModelSimulator({ seed: 7 });
    await sim.deploy('store', charm(STORE), { numUnits: 2 });
    await sim.settle();
    expect(eventsOf(sim, 'store/0')).toEqual([
      'backups-storage-attached',
      'install',
      'store-peers-relation-created',
      'leader-elected',
      'config-changed',
      'start',
      'store-peers-relation-joined(store/1)',
      'store-peers-relation-changed(store/1)',
    ]);
    expect(eventsOf(sim, 'store/1')).toEqual([
      'backups-storage-attached',
      'install',
      'store-peers-relation-created',
      'leader-settings-changed',
      'config-changed',
      'start',
      'store-peers-relation-joined(store/0)',
      'store-peers-relation-changed(store/0)',
    ]);
  });

  test('[fidelity 33] only the leader gets leader-elected; every non-leader gets leader-settings-changed', async () => {
    const sim = new ModelSimulator({ seed: 3 });
    await sim.deploy('api', charm(API), { numUnits: 4 });
    await sim.settle();
    const leaderHooks = sim.history.filter((h) => h.event.startsWith('leader-'));
    expect(leaderHooks.filter((h) => h.event === 'leader-elected').map((h) => h.unit)).toEqual(['api/0']);
    expect(
      leaderHooks
        .filter((h) => h.event === 'leader-settings-changed')
        .map((h) => h.unit)
        .sort(),
    ).toEqual(['api/1', 'api/2', 'api/3']);
  });

  test('[fidelity 58] Juju sets maintenance/installing before install and unknown after start unless the charm set a status', async () => {
    const sim = new ModelSimulator();
    let statusInInstall = '';
    await sim.deploy(
      'api',
      charm(API, {
        install: async (io) => {
          statusInInstall = (await io.runner.run('status-get', ['--format=json', '--include-data'])).stdout;
        },
      }),
    );
    await sim.deploy(
      'store',
      charm(STORE, {
        'backups-storage-attached': async (io) => void (await io.runner.run('status-set', ['waiting', 'preparing'])),
      }),
    );
    await sim.settle();
    expect(JSON.parse(statusInInstall)).toMatchObject({ status: 'maintenance', message: 'installing charm software' });
    const api = sim.model.units['api/0']!;
    expect(api.statusHistory.map((s) => s.status)).toEqual(['waiting', 'maintenance', 'unknown']);
    expect(api.workloadStatus.status).toBe('unknown');
    const store = sim.model.units['store/0']!;
    expect(store.statusHistory.some((s) => s.message === 'installing charm software')).toBe(false);
    expect(store.workloadStatus).toMatchObject({ status: 'waiting', message: 'preparing' });
  });
});

describe('relations', () => {
  test('[fidelity 34] created -> joined -> changed per remote unit; joined immediately followed by changed', async () => {
    const { sim } = await apiAndStore();
    const storeRel = eventsOf(sim, 'store/0').filter((e) => e.startsWith('backup-'));
    expect(storeRel).toEqual([
      'backup-relation-created',
      'backup-relation-joined(api/0)',
      'backup-relation-changed(api/0)',
      'backup-relation-joined(api/1)',
      'backup-relation-changed(api/1)',
    ]);
    for (const unit of ['api/0', 'api/1']) {
      expect(eventsOf(sim, unit).filter((e) => e.startsWith('backup-'))).toEqual([
        'backup-relation-created',
        'backup-relation-joined(store/0)',
        'backup-relation-changed(store/0)',
      ]);
    }
  });

  test('[fidelity 21] entering a relation writes private-address, ingress-address and egress-subnets', async () => {
    const seen: Record<string, string> = {};
    const sim = new ModelSimulator();
    await sim.deploy(
      'api',
      charm(API, {
        'backup-relation-changed': async (io) => {
          const out = await io.runner.run('relation-get', ['--format=json', '-', io.env['JUJU_REMOTE_UNIT'] ?? '']);
          Object.assign(seen, JSON.parse(out.stdout));
        },
      }),
    );
    await sim.deploy('store', charm(STORE));
    await sim.settle();
    const rel = await sim.integrate('api', 'store');
    await sim.settle();
    const address = sim.model.machines[sim.model.units['store/0']!.machine]!.address;
    expect(seen).toEqual({ 'private-address': address, 'ingress-address': address, 'egress-subnets': `${address}/32` });
    expect(Object.keys(sim.model.relations[rel]!.unitBags['api/0']!).sort()).toEqual([
      'egress-subnets',
      'ingress-address',
      'private-address',
    ]);
  });

  test('[fidelity 35] remote units in sorted order and app-level changed before new joins', async () => {
    const sim = new ModelSimulator({ seed: 5 });
    await sim.deploy('api', charm(API, { 'action:write': writeHandler }), { numUnits: 3 });
    await sim.deploy('store', charm(STORE, { 'action:write': writeHandler }));
    await sim.settle();
    const rel = await sim.integrate('api:backup', 'store:backup');
    // Before store's units are up to join, the store leader writes its app bag (test: directly).
    sim.model.relations[rel]!.appBags['store'] = { url: 'x' };
    sim.model.relations[rel]!.appBagVersion['store'] = 1;
    await sim.settle();
    for (const unit of ['api/0', 'api/1', 'api/2']) {
      expect(eventsOf(sim, unit).filter((e) => e.startsWith('backup-'))).toEqual([
        'backup-relation-created',
        'backup-relation-changed',
        'backup-relation-joined(store/0)',
        'backup-relation-changed(store/0)',
      ]);
    }
    expect(eventsOf(sim, 'store/0').filter((e) => e.includes('joined'))).toEqual([
      'backup-relation-joined(api/0)',
      'backup-relation-joined(api/1)',
      'backup-relation-joined(api/2)',
    ]);
  });

  test('[fidelity 36] a unit-bag commit gives observers one changed naming the writer; an app-bag commit one app-level changed; the writer none', async () => {
    const { sim, rel } = await apiAndStore();
    const before = sim.history.length;
    await sim.runAction('api/1', 'write', { key: 'k', value: 'v', rel: `backup:${rel}` });
    await sim.settle();
    expect(sim.history.slice(before).map((h) => `${h.unit} ${label(h)}`)).toEqual([
      'api/1 action:write',
      'store/0 backup-relation-changed(api/1)',
    ]);
    const mid = sim.history.length;
    await sim.runAction('api/0', 'write', { key: 'url', value: 'u', app: true, rel: `backup:${rel}` });
    await sim.settle();
    const after = sim.history.slice(mid);
    expect(after.map((h) => `${h.unit} ${label(h)}`)).toEqual([
      'api/0 action:write',
      'store/0 backup-relation-changed',
    ]);
    expect(after[1]!.env['JUJU_REMOTE_APP']).toBe('api');
    expect(after[1]!.env['JUJU_REMOTE_UNIT']).toBe('');
  });

  test('[fidelity 36] a peer app-bag write by the leader reaches every other peer, not the leader', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API, { 'action:write': writeHandler }), { numUnits: 3 });
    await sim.settle();
    const peer = Object.values(sim.model.relations).find((r) => r.peer)!.id;
    const before = sim.history.length;
    await sim.runAction('api/0', 'write', { key: 'k', value: 'v', app: true, rel: `api-peers:${peer}` });
    await sim.settle();
    const changed = sim.history.slice(before).filter((h) => h.event === 'api-peers-relation-changed');
    expect(changed.map((h) => h.unit).sort()).toEqual(['api/1', 'api/2']);
    expect(changed.every((h) => h.env['JUJU_REMOTE_UNIT'] === '')).toBe(true);
  });

  test('[fidelity 37] an application that never wrote its app bag causes no app-level changed', async () => {
    const { sim } = await apiAndStore();
    const appLevel = sim.history.filter(
      (h) => h.event.endsWith('-relation-changed') && h.env['JUJU_REMOTE_UNIT'] === '',
    );
    expect(appLevel).toEqual([]);
  });

  test('[fidelity 38] several unprocessed commits coalesce into one changed; a commit without net change triggers nothing', async () => {
    const { sim, rel } = await apiAndStore();
    const relation = sim.model.relations[rel]!;
    // Two commits by api/0 land before store/0 gets to run anything.
    relation.unitBags['api/0'] = { ...relation.unitBags['api/0'], a: '1' };
    relation.unitBagVersion['api/0'] = (relation.unitBagVersion['api/0'] ?? 0) + 1;
    relation.unitBags['api/0'] = { ...relation.unitBags['api/0'], a: '2' };
    relation.unitBagVersion['api/0'] += 1;
    let seen = '';
    sim.model.applications['store']!.executor = {
      kind: 'in-process',
      run: async (io) => {
        if (io.env['JUJU_HOOK_NAME'] === 'backup-relation-changed')
          seen = (await io.runner.run('relation-get', ['a', 'api/0'])).stdout;
        return 0;
      },
    };
    const before = sim.history.length;
    await sim.settle();
    expect(sim.history.slice(before).map((h) => `${h.unit} ${label(h)}`)).toEqual([
      'store/0 backup-relation-changed(api/0)',
    ]);
    expect(seen.trim()).toBe('2');
    // Writing the same value again is no net change: nobody hears about it.
    await sim.runAction('api/0', 'write', { key: 'a', value: '2', rel: `backup:${rel}` });
    const mid = sim.history.length;
    await sim.settle();
    expect(sim.history.slice(mid)).toEqual([]);
  });

  test('[fidelity 39] a lone unit gets no peer joined; peers are never broken, even when a unit leaves', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API));
    await sim.settle();
    expect(eventsOf(sim, 'api/0').some((e) => e.startsWith('api-peers-relation-joined'))).toBe(false);
    expect(eventsOf(sim, 'api/0')).toContain('api-peers-relation-created');
    await sim.addUnit('api');
    await sim.settle();
    expect(eventsOf(sim, 'api/0')).toContain('api-peers-relation-joined(api/1)');
    await sim.removeUnit('api/1');
    await sim.settle();
    expect(eventsOf(sim, 'api/0')).toContain('api-peers-relation-departed(api/1)');
    expect(sim.history.some((h) => h.event === 'api-peers-relation-broken')).toBe(false);
  });

  test('[fidelity 40] [fidelity 4] remove-relation: departed per remote unit (departing = remote unit) then broken on both sides, no changed', async () => {
    const { sim, rel } = await apiAndStore();
    const before = sim.history.length;
    await sim.removeRelation('api:backup', 'store:backup');
    await sim.settle();
    const after = sim.history.slice(before);
    expect(eventsOf(sim, 'store/0', before)).toEqual([
      'backup-relation-departed(api/0)',
      'backup-relation-departed(api/1)',
      'backup-relation-broken',
    ]);
    for (const unit of ['api/0', 'api/1']) {
      expect(eventsOf(sim, unit, before)).toEqual(['backup-relation-departed(store/0)', 'backup-relation-broken']);
    }
    expect(after.some((h) => h.event.endsWith('-changed'))).toBe(false);
    for (const h of after.filter((e) => e.event.endsWith('-departed')))
      expect(h.env['JUJU_DEPARTING_UNIT']).toBe(h.env['JUJU_REMOTE_UNIT']);
    expect(sim.model.relations[rel]).toBeUndefined();
  });

  // Juju's relation state tracker does not reload remote application names when the unit agent
  // restarts (worker/uniter/relation/statetracker.go): relation-broken then has JUJU_REMOTE_APP=''.
  test('[fidelity 3] after a unit agent restart, relation-broken runs with an empty JUJU_REMOTE_APP', async () => {
    const { sim } = await apiAndStore();
    await sim.restartAgent('api/1');
    const before = sim.history.length;
    await sim.removeRelation('api:backup', 'store:backup');
    await sim.settle();
    const broken = sim.history.slice(before).filter((h) => h.event === 'backup-relation-broken');
    expect(Object.fromEntries(broken.map((h) => [h.unit, h.env['JUJU_REMOTE_APP']]))).toEqual({
      'api/0': 'store',
      'api/1': '',
      'store/0': 'api',
    });
    // A relation made after the restart is learnt with its name again.
    await sim.integrate('api:backup', 'store:backup');
    await sim.settle();
    const mid = sim.history.length;
    await sim.removeRelation('api:backup', 'store:backup');
    await sim.settle();
    const again = sim.history.slice(mid).find((h) => h.unit === 'api/1' && h.event === 'backup-relation-broken');
    expect(again?.env['JUJU_REMOTE_APP']).toBe('store');
    await expect(sim.restartAgent('nope/0')).rejects.toThrow(SimulatorError);
  });

  test('[fidelity 41] [fidelity 4] remove-unit: departed* -> broken* -> stop -> storage-detaching -> remove; others see departing = leaving unit', async () => {
    const sim = new ModelSimulator({ seed: 2 });
    await sim.deploy('api', charm(API), { numUnits: 1 });
    await sim.deploy('store', charm(STORE), { numUnits: 2 });
    await sim.integrate('api', 'store');
    await sim.settle();
    const before = sim.history.length;
    await sim.removeUnit('store/1');
    await sim.settle();
    const after = sim.history.slice(before);
    // Relations are left in id order (the peer relation was created at deploy, first).
    expect(eventsOf(sim, 'store/1', before)).toEqual([
      'store-peers-relation-departed(store/0)',
      'backup-relation-departed(api/0)',
      'backup-relation-broken',
      'stop',
      'backups-storage-detaching',
      'remove',
    ]);
    for (const h of after.filter((e) => e.unit === 'store/1' && e.event.endsWith('-departed')))
      expect(h.env['JUJU_DEPARTING_UNIT']).toBe('store/1');
    const others = after.filter((h) => h.unit !== 'store/1');
    expect(others.map((h) => `${h.unit} ${label(h)}`).sort()).toEqual([
      'api/0 backup-relation-departed(store/1)',
      'store/0 store-peers-relation-departed(store/1)',
    ]);
    for (const h of others) expect(h.env['JUJU_DEPARTING_UNIT']).toBe('store/1');
    expect(sim.model.units['store/1']).toBeUndefined();
    expect(sim.removedUnits['store/1']!.workloadStatus.status).toBe('terminated');
  });

  test('[fidelity 46] unit numbers and relation ids are never reused', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API), { numUnits: 2 });
    await sim.deploy('store', charm(STORE));
    await sim.settle();
    await sim.removeUnit('api/1');
    await sim.settle();
    expect(await sim.addUnit('api')).toEqual(['api/2']);
    const first = await sim.integrate('api', 'store');
    await sim.settle();
    await sim.removeRelation('api', 'store');
    await sim.settle();
    const second = await sim.integrate('api', 'store');
    expect(second).toBeGreaterThan(first);
    expect(Object.keys(sim.model.relations).map(Number)).not.toContain(first);
  });

  test('integrate refuses what juju integrate refuses', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API));
    await sim.deploy('store', charm(STORE));
    await sim.deploy('agent', charm(AGENT));
    await sim.deploy('api2', charm(API.replace('name: api', 'name: api2')));
    await expect(sim.integrate('api:registration', 'store')).rejects.toThrow('no relations found');
    await expect(sim.integrate('api:juju-info', 'store:juju-info')).rejects.toThrow('no relations found');
    await expect(sim.integrate('nope', 'store')).rejects.toThrow('application "nope" not found');
    await sim.integrate('api', 'store');
    await expect(sim.integrate('store:backup', 'api:backup')).rejects.toThrow(
      'relation store:backup api:backup already exists',
    );
    await sim.integrate('agent:registration', 'api:registration');
    await expect(sim.integrate('agent:registration', 'api2:registration')).rejects.toThrow(
      'establishing a new relation for agent:registration would exceed its maximum relation limit of 1',
    );
    const principal = charm(
      `name: web\nsummary: s\ndescription: d\nrequires:\n  logs: {interface: logs, scope: container}\n`,
    );
    await sim.deploy('web', principal);
    await sim.deploy(
      'logger',
      charm(`name: logger\nsummary: s\ndescription: d\nprovides:\n  logs: {interface: logs}\n`),
    );
    await expect(sim.integrate('web', 'logger')).rejects.toThrow(
      'container scoped relation requires at least one subordinate application',
    );
  });
});

describe('bases', () => {
  const subordinate = (platforms: string) =>
    charm(
      `name: sub\nsummary: s\ndescription: d\nsubordinate: true\nrequires:\n  host: {interface: juju-info, scope: container}\nplatforms:\n${platforms}`,
    );
  const principal = (name: string, platforms: string) =>
    charm(`name: ${name}\nsummary: s\ndescription: d\nplatforms:\n${platforms}`);

  test("a subordinate attaches only to a principal whose charm shares a base with it (Juju's rule and message)", async () => {
    const sim = new ModelSimulator({ seed: 5 });
    await sim.deploy('sub', subordinate('  ubuntu@22.04:amd64:\n  ubuntu@24.04:amd64:\n  ubuntu@24.04:arm64:\n'));
    await sim.deploy('focal', principal('focal', '  ubuntu@20.04:amd64:\n'));
    await sim.deploy('noble', principal('noble', '  ubuntu@24.04:arm64:\n'));
    // Only the OS and release count (a matching architecture is not required to relate).
    await expect(sim.integrate('sub:host', 'focal:juju-info')).rejects.toThrow(
      new SimulatorError("principal and subordinate applications' bases must match"),
    );
    expect(Object.values(sim.model.relations).filter((r) => !r.peer)).toEqual([]);
    await sim.integrate('sub:host', 'noble:juju-info');
    await sim.settle();
    expect(Object.keys(sim.model.units).sort()).toEqual(['focal/0', 'noble/0', 'sub/0']);
    expect(sim.model.units['sub/0']?.principal).toBe('noble/0');
    // A charm declaring no base at all is not checked (test charms, legacy metadata).
    await sim.deploy('plain', charm('name: plain\nsummary: s\ndescription: d\n'));
    await sim.integrate('sub:host', 'plain:juju-info');
  });

  test('deploy takes the charm first base, or a requested one it declares; status shows it', async () => {
    const sim = new ModelSimulator({ seed: 5 });
    const multi = '  ubuntu@24.04:amd64:\n  ubuntu@22.04:amd64:\n';
    await sim.deploy('first', principal('first', multi));
    await sim.deploy('jammy', principal('jammy', multi), { base: 'ubuntu@22.04' });
    await expect(sim.deploy('focal', principal('focal', multi), { base: 'ubuntu@20.04' })).rejects.toThrow(
      new SimulatorError(
        'base "ubuntu@20.04" not supported by charm, the charm supported bases are: ubuntu@24.04, ubuntu@22.04',
      ),
    );
    expect(sim.model.applications['focal']).toBeUndefined();
    await sim.settle();
    const apps = (sim.status() as { applications: Record<string, { base: unknown }> }).applications;
    expect(apps['first']?.base).toEqual({ name: 'ubuntu', channel: '24.04' });
    expect(apps['jammy']?.base).toEqual({ name: 'ubuntu', channel: '22.04' });
  });

  test("a bundle's default-base applies to every application, an application's base: overrides it", async () => {
    const sim = new ModelSimulator({ seed: 5 });
    const charms: Record<string, SimCharm> = {
      './a.charm': principal('a', '  ubuntu@24.04:amd64:\n  ubuntu@22.04:amd64:\n'),
      './b.charm': principal('b', '  ubuntu@22.04:amd64:\n'),
    };
    const bundle = (bBase: string) =>
      `default-base: ubuntu@24.04\napplications:\n  a: {charm: ./a.charm, num_units: 1}\n  b: {charm: ./b.charm, num_units: 1${bBase}}\n`;
    const resolve = (path: string) => charms[`./${path.split('/').pop()!}`]!;
    await expect(sim.deployBundle(bundle(''), resolve)).rejects.toThrow(
      'base "ubuntu@24.04" not supported by charm, the charm supported bases are: ubuntu@22.04',
    );
    const other = new ModelSimulator({ seed: 5 });
    await other.deployBundle(bundle(', base: ubuntu@22.04'), resolve);
    expect([other.model.applications['a']?.base, other.model.applications['b']?.base]).toEqual([
      'ubuntu@24.04',
      'ubuntu@22.04',
    ]);
  });
});

describe('leadership, config, upgrade', () => {
  test('[fidelity 42] removing the leader: one remaining unit gets leader-elected, the others leader-settings-changed', async () => {
    const sim = new ModelSimulator({ seed: 11 });
    await sim.deploy('api', charm(API), { numUnits: 3 });
    await sim.settle();
    const before = sim.history.length;
    await sim.removeUnit('api/0');
    await sim.settle();
    const after = sim.history.slice(before);
    const leader = sim.model.applications['api']!.leader!;
    expect(['api/1', 'api/2']).toContain(leader);
    expect(after.filter((h) => h.event === 'leader-elected').map((h) => h.unit)).toEqual([leader]);
    const other = leader === 'api/1' ? 'api/2' : 'api/1';
    expect(after.filter((h) => h.event === 'leader-settings-changed').map((h) => h.unit)).toEqual([other]);
  });

  test('[fidelity 42] a leader change: new leader leader-elected, the others (old leader too) leader-settings-changed', async () => {
    const sim = new ModelSimulator({ seed: 4 });
    await sim.deploy('api', charm(API), { numUnits: 3 });
    await sim.settle();
    const before = sim.history.length;
    const leader = await sim.changeLeader('api');
    await sim.settle();
    expect(leader).not.toBe('api/0');
    const after = sim.history.slice(before);
    expect(after.filter((h) => h.event === 'leader-elected').map((h) => h.unit)).toEqual([leader]);
    expect(
      after
        .filter((h) => h.event === 'leader-settings-changed')
        .map((h) => h.unit)
        .sort(),
    ).toEqual(['api/0', 'api/1', 'api/2'].filter((u) => u !== leader));
  });

  test('[fidelity 44] a config change runs config-changed once per unit (rapid changes coalesce); types parsed; unknown option refused', async () => {
    const seen: string[] = [];
    const sim = new ModelSimulator();
    await sim.deploy(
      'api',
      charm(API, {
        'config-changed': async (io) =>
          void seen.push((await io.runner.run('config-get', ['--format=json'])).stdout.trim()),
      }),
      { numUnits: 2 },
    );
    await sim.settle();
    const before = sim.history.length;
    await sim.config('api', { port: '9090' });
    await sim.config('api', { debug: 'True', name: 'x' });
    await sim.settle();
    expect(
      sim.history
        .slice(before)
        .map((h) => `${h.unit} ${h.event}`)
        .sort(),
    ).toEqual(['api/0 config-changed', 'api/1 config-changed']);
    expect(JSON.parse(seen[seen.length - 1]!)).toEqual({ port: 9090, debug: true, name: 'x' });
    await expect(sim.config('api', { nope: '1' })).rejects.toThrow('unknown option "nope"');
    await expect(sim.config('api', { port: 'abc' })).rejects.toThrow(SimulatorError);
    const mid = sim.history.length;
    await sim.config('api', { port: 9090 });
    await sim.settle();
    expect(sim.history.length).toBe(mid);
    await sim.resetConfig('api', ['port']);
    await sim.settle();
    expect(sim.history.slice(mid).map((h) => h.event)).toEqual(['config-changed', 'config-changed']);
    expect(sim.model.applications['api']!.config).toEqual({ debug: true, name: 'x' });
  });

  test('[fidelity 43] [fidelity 59] upgrade runs upgrade-charm -> config-changed on every unit, no relation hooks; state-set data survives', async () => {
    const states: string[] = [];
    const handlers: Record<string, Handler> = {
      install: async (io) => void (await io.runner.run('state-set', [`who=${io.env['JUJU_UNIT_NAME'] ?? ''}`])),
      'upgrade-charm': async (io) => void states.push((await io.runner.run('state-get', ['who'])).stdout.trim()),
    };
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API, handlers), { numUnits: 2 });
    await sim.deploy('store', charm(STORE));
    await sim.integrate('api', 'store');
    await sim.settle();
    const before = sim.history.length;
    await sim.upgrade('api', charm(API, handlers));
    await sim.settle();
    const after = sim.history.slice(before);
    expect(after.filter((h) => h.unit === 'api/0').map((h) => h.event)).toEqual(['upgrade-charm', 'config-changed']);
    expect(after.filter((h) => h.unit === 'api/1').map((h) => h.event)).toEqual([
      'upgrade-charm',
      'config-changed',
      'leader-settings-changed',
    ]);
    expect(after.some((h) => h.event.includes('-relation-'))).toBe(false);
    expect(states.sort()).toEqual(['api/0', 'api/1']);
    expect(sim.status()).toMatchObject({ applications: { api: { 'charm-rev': 1 } } });
  });
});

describe('machines and subordinates', () => {
  test('[fidelity 45] at most one event per machine at a time; machines run concurrently; a seed fixes the order', async () => {
    const run = async (seed: number): Promise<{ order: string[]; perMachine: number; overall: number }> => {
      const active = new Map<string, number>();
      let perMachine = 0;
      let overall = 0;
      const slow: Handler = async (io) => {
        const machine = io.env['JUJU_MACHINE_ID'] ?? '';
        active.set(machine, (active.get(machine) ?? 0) + 1);
        perMachine = Math.max(perMachine, active.get(machine)!);
        overall = Math.max(
          overall,
          [...active.values()].reduce((a, b) => a + b, 0),
        );
        await new Promise((resolve) => setTimeout(resolve, 1));
        active.set(machine, active.get(machine)! - 1);
      };
      const sim = new ModelSimulator({ seed });
      await sim.deploy('api', charm(API, { '*': slow }), { numUnits: 3 });
      await sim.deploy('store', charm(STORE, { '*': slow }), { to: ['1'] });
      await sim.deploy('agent', charm(AGENT, { '*': slow }));
      await sim.integrate('agent:juju-info', 'api:juju-info');
      await sim.settle();
      expect(sim.maxRunningPerMachine['1']).toBe(1);
      return { order: sim.history.map((h) => `${h.unit} ${h.event}`), perMachine, overall };
    };
    const a = await run(1);
    const b = await run(1);
    expect(a.perMachine).toBe(1);
    expect(a.overall).toBeGreaterThan(1);
    expect(b.order).toEqual(a.order);
    const others = await Promise.all([2, 3, 4, 5].map(async (seed) => (await run(seed)).order.join('\n')));
    expect(others.some((order) => order !== a.order.join('\n'))).toBe(true);
  });

  test('[fidelity 47] [fidelity 48] subordinate: no units until related, then one per principal unit on its machine; implicit side runs no hooks', async () => {
    const remoteLists: Record<string, string> = {};
    const sim = new ModelSimulator({ seed: 9 });
    await sim.deploy('api', charm(API, { '*': () => 0 }), { numUnits: 2 });
    await sim.deploy(
      'agent',
      charm(AGENT, {
        'juju-info-relation-changed': async (io) => {
          remoteLists[io.env['JUJU_UNIT_NAME'] ?? ''] = (
            await io.runner.run('relation-list', ['--format=json'])
          ).stdout.trim();
        },
      }),
    );
    await sim.settle();
    expect(Object.keys(sim.model.units).filter((u) => u.startsWith('agent/'))).toEqual([]);
    await expect(
      sim.deploy('agent2', charm(AGENT.replace('name: agent', 'name: agent2')), { numUnits: 1 }),
    ).rejects.toThrow('subordinate application must be deployed without units');
    const apiBefore = sim.history.filter((h) => h.unit.startsWith('api/')).length;
    const rel = await sim.integrate('agent:juju-info', 'api:juju-info');
    await sim.settle();
    const agents = Object.values(sim.model.units).filter((u) => u.app === 'agent');
    expect(agents.map((u) => [u.name, u.principal, u.machine]).sort()).toEqual([
      ['agent/0', 'api/0', sim.model.units['api/0']!.machine],
      ['agent/1', 'api/1', sim.model.units['api/1']!.machine],
    ]);
    expect(sim.history.filter((h) => h.unit.startsWith('api/')).length).toBe(apiBefore);
    expect(eventsOf(sim, 'agent/1')).toEqual([
      'install',
      'agent-peers-relation-created',
      'juju-info-relation-created',
      'leader-settings-changed',
      'config-changed',
      'start',
      'agent-peers-relation-joined(agent/0)',
      'agent-peers-relation-changed(agent/0)',
      'juju-info-relation-joined(api/1)',
      'juju-info-relation-changed(api/1)',
    ]);
    expect(sim.history.filter((h) => h.unit === 'agent/0').every((h) => h.env['JUJU_PRINCIPAL_UNIT'] === 'api/0')).toBe(
      true,
    );
    expect(JSON.parse(remoteLists['agent/0']!)).toEqual(['api/0']);
    expect(JSON.parse(remoteLists['agent/1']!)).toEqual(['api/1']);
    // The implicit provider side entered scope (its address is in its bag) without any hook.
    expect(sim.model.relations[rel]!.unitBags['api/0']).toHaveProperty('private-address');
    // Scaling the principal brings a new subordinate unit along.
    await sim.addUnit('api');
    await sim.settle();
    expect(sim.model.units['agent/2']).toMatchObject({
      principal: 'api/2',
      machine: sim.model.units['api/2']!.machine,
    });
  });

  test('[fidelity 49] removing the principal unit or the relation removes subordinates; remove-unit of a subordinate is refused', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API), { numUnits: 2 });
    await sim.deploy('agent', charm(AGENT));
    await sim.integrate('agent:juju-info', 'api:juju-info');
    await sim.settle();
    await expect(sim.removeUnit('agent/0')).rejects.toThrow(
      'unit "agent/0" is a subordinate, to remove use remove-relation. Note: this will remove all units of "agent"',
    );
    const before = sim.history.length;
    await sim.removeUnit('api/1');
    await sim.settle();
    const sub = sim.history.slice(before).filter((h) => h.unit === 'agent/1');
    expect(sub.map(label)).toEqual([
      'agent-peers-relation-departed(agent/0)',
      'juju-info-relation-departed(api/1)',
      'juju-info-relation-broken',
      'stop',
      'remove',
    ]);
    expect(sub[1]!.env['JUJU_DEPARTING_UNIT']).toBe('agent/1');
    expect(sim.model.units['agent/1']).toBeUndefined();
    await sim.removeRelation('agent:juju-info', 'api:juju-info');
    await sim.settle();
    expect(Object.keys(sim.model.units)).toEqual(['api/0']);
    expect(
      sim.history
        .filter((h) => h.unit === 'agent/0')
        .map((h) => h.event)
        .slice(-3),
    ).toEqual(['juju-info-relation-broken', 'stop', 'remove']);
  });
});

describe('errors and actions', () => {
  test('[fidelity 29] a failed hook shows error, blocks other hooks but not actions; resolve re-runs it with the same env', async () => {
    let fail = true;
    const sim = new ModelSimulator();
    await sim.deploy(
      'api',
      charm(API, {
        'config-changed': () => (fail ? 1 : 0),
        'action:backup-now': () => 0,
      }),
    );
    await sim.settle();
    expect(eventsOf(sim, 'api/0').slice(-1)).toEqual(['config-changed']);
    const unitStatus = (): unknown =>
      (sim.status() as { applications: { api: { units: Record<string, unknown> } } }).applications.api.units['api/0'];
    expect(unitStatus()).toMatchObject({
      'workload-status': { current: 'error', message: 'hook failed: "config-changed"' },
      'juju-status': { current: 'idle' },
    });
    await sim.config('api', { port: 1 });
    await sim.settle();
    expect(eventsOf(sim, 'api/0').slice(-1)).toEqual(['config-changed']);
    const task = await sim.runAction('api/0', 'backup-now', { tag: 'x' });
    expect(task.status).toBe('completed');
    fail = false;
    const failedEnv = sim.history[sim.history.length - 2]!.env;
    await sim.resolve('api/0');
    await sim.settle();
    const retried = sim.history.find((h, i) => i > sim.history.length - 4 && h.event === 'config-changed')!;
    expect(retried.env).toEqual(failedEnv);
    expect(eventsOf(sim, 'api/0').slice(-2)).toEqual(['config-changed', 'start']);
    expect(unitStatus()).toMatchObject({ 'workload-status': { current: 'unknown' } });
    await expect(sim.resolve('api/0')).rejects.toThrow('unit "api/0" is not in an error state');
  });

  test('[fidelity 29] resolve --no-retry skips the failed hook', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API, { install: () => 1 }));
    await sim.settle();
    expect(eventsOf(sim, 'api/0')).toEqual(['install']);
    await sim.resolve('api/0', { noRetry: true });
    await sim.settle();
    expect(eventsOf(sim, 'api/0')).toEqual([
      'install',
      'api-peers-relation-created',
      'leader-elected',
      'config-changed',
      'start',
    ]);
  });

  test('[fidelity 50] params validated at enqueue (invalid: throws, no task), defaults inserted, additionalProperties as declared', async () => {
    let got = '';
    const sim = new ModelSimulator();
    await sim.deploy(
      'api',
      charm(API, {
        'action:backup-now': async (io) => void (got = (await io.runner.run('action-get', ['--format=json'])).stdout),
      }),
      {
        numUnits: 2,
      },
    );
    await sim.settle();
    await expect(sim.runAction('api/0', 'backup-now', {})).rejects.toThrow(/validation failed/);
    await expect(sim.runAction('api/0', 'strict', { tag: 'a', other: 1 })).rejects.toThrow(
      /additional property "other"/,
    );
    await expect(sim.runAction('api/0', 'nope', {})).rejects.toThrow('action "nope" not defined on unit "api/0"');
    expect(Object.keys(sim.model.tasks)).toEqual([]);
    const task = await sim.runAction('api/leader', 'backup-now', { tag: 'a', extra: true });
    expect(task).toMatchObject({
      id: '1',
      unit: 'api/0',
      status: 'completed',
      params: { tag: 'a', extra: true, retries: 3 },
    });
    expect(JSON.parse(got)).toEqual({ tag: 'a', extra: true, retries: 3 });
    expect(sim.history[sim.history.length - 1]!.env['JUJU_ACTION_UUID']).toBe('1');
  });

  test('[fidelity 51] CLI params are YAML-coerced unless string-args', async () => {
    const sim = new ModelSimulator();
    await sim.deploy('api', charm(API, { 'action:write': () => 0 }));
    await sim.settle();
    await expect(sim.runAction('api/0', 'write', ['key=k', 'value=v', 'app=yes', 'rel=x'])).resolves.toMatchObject({
      params: { app: true },
    });
    await expect(
      sim.runAction('api/0', 'write', ['key=k', 'value=v', 'app=yes', 'rel=x'], { stringArgs: true }),
    ).rejects.toThrow(/validation failed/);
    await expect(
      sim.runAction('api/0', 'write', ['key=007', 'value=on', 'rel=x', 'a.b=1'], { stringArgs: true }),
    ).resolves.toMatchObject({
      params: { key: '007', value: 'on', a: { b: '1' } },
    });
  });
});

describe('secrets and storage', () => {
  function ownedSecret(sim: ModelSimulator, rel?: number): Secret {
    const secret: Secret = {
      id: 'd0000000000000000000',
      owner: { kind: 'application', app: 'api' },
      label: 'reg',
      revisions: [
        { revision: 1, content: { token: 'a' } },
        { revision: 2, content: { token: 'b' } },
      ],
      grants: [{ app: 'store', ...(rel === undefined ? {} : { relationId: rel }) }],
      consumers: { 'store/0': { tracked: 1, notifiedRevision: 1, label: 'mine' } },
      removeNotified: [],
    };
    sim.model.secrets[secret.id] = secret;
    return secret;
  }

  test('[fidelity 56] trackers get secret-changed; when no consumer tracks an old revision the owner leader gets secret-remove', async () => {
    const { sim } = await apiAndStore();
    const secret = ownedSecret(sim);
    const before = sim.history.length;
    await sim.settle();
    const changed = sim.history.slice(before);
    expect(changed.map((h) => `${h.unit} ${h.event}`)).toEqual(['store/0 secret-changed']);
    expect(changed[0]!.env).toMatchObject({ JUJU_SECRET_ID: `secret:${secret.id}`, JUJU_SECRET_LABEL: 'mine' });
    secret.consumers['store/0']!.tracked = 2; // the consumer refreshed
    const mid = sim.history.length;
    await sim.settle();
    const removed = sim.history.slice(mid);
    expect(removed.map((h) => `${h.unit} ${h.event}`)).toEqual(['api/0 secret-remove']);
    expect(removed[0]!.env).toMatchObject({ JUJU_SECRET_REVISION: '1', JUJU_SECRET_LABEL: 'reg' });
    const end = sim.history.length;
    await sim.settle();
    expect(sim.history.length).toBe(end);
  });

  // Juju 3.1.7+: owners track revisions like consumers (the secrets manager facade's
  // getConsumedRevision), so a revision the owner still tracks is not obsolete, and a non-leader
  // of the owning application that read the secret gets secret-changed with the owner's label.
  test('[fidelity 56] owners track too: their tracked revision is kept; a non-leader of the owning app gets secret-changed', async () => {
    const { sim } = await apiAndStore();
    const secret = ownedSecret(sim);
    secret.consumers = {
      'api/0': { tracked: 1, notifiedRevision: 1 },
      'api/1': { tracked: 1, notifiedRevision: 1 },
    };
    const before = sim.history.length;
    await sim.settle();
    const events = sim.history.slice(before);
    // api/0, the leader, manages the secret: no secret-changed; no secret-remove while it tracks 1.
    expect(events.map((h) => `${h.unit} ${h.event}`)).toEqual(['api/1 secret-changed']);
    expect(events[0]!.env).toMatchObject({ JUJU_SECRET_LABEL: 'reg' });
    secret.consumers['api/1']!.tracked = 2;
    const mid = sim.history.length;
    await sim.settle();
    expect(sim.history.length).toBe(mid);
    secret.consumers['api/0']!.tracked = 2; // the leader read it back with --refresh
    await sim.settle();
    expect(sim.history.slice(mid).map((h) => `${h.unit} ${h.event}`)).toEqual(['api/0 secret-remove']);
  });

  test('[fidelity 57] removing a relation revokes the grants scoped to it', async () => {
    const { sim, rel } = await apiAndStore();
    const secret = ownedSecret(sim, rel);
    secret.grants.push({ app: 'store' });
    await sim.removeRelation('api', 'store');
    expect(secret.grants).toEqual([{ app: 'store' }]);
  });

  test('add-storage fires storage-attached during normal operation', async () => {
    const sim = new ModelSimulator();
    const multi = STORE.replace('location: /srv/backups}', 'location: /srv/backups, multiple: {range: 1-3}}');
    await sim.deploy('store', charm(multi));
    await sim.settle();
    const ids = await sim.attachStorage('store/0', 'backups', 2);
    await sim.settle();
    expect(ids).toEqual(['backups/1', 'backups/2']);
    expect(
      sim.history.slice(-2).map((h) => [h.event, h.env['JUJU_STORAGE_ID'], h.env['JUJU_STORAGE_LOCATION']]),
    ).toEqual([
      ['backups-storage-attached', 'backups/1', '/srv/backups/backups/1'],
      ['backups-storage-attached', 'backups/2', '/srv/backups/backups/2'],
    ]);
    await expect(sim.attachStorage('store/0', 'backups', 1)).rejects.toThrow(/cannot exceed 3/);
  });
});

describe('substrate hooks', () => {
  test('add-unit gives the new unit the storage the application was deployed with', async () => {
    const sim = new ModelSimulator();
    const multi = STORE.replace('location: /srv/backups}', 'location: /srv/backups, multiple: {range: 0-3}}');
    await sim.deploy('store', charm(multi), { storage: { backups: 2 } });
    const [added] = await sim.addUnit('store');
    await sim.settle();
    expect(sim.model.units['store/0']!.storage).toHaveLength(2);
    expect(sim.model.units[added!]!.storage).toHaveLength(2);
  });

  test('machine addresses come from machineAddress, and prepareMachine runs before any hook there', async () => {
    const prepared: string[] = [];
    const sim = new ModelSimulator({
      machineAddress: (number) => `192.0.2.${number + 50}`,
      prepareMachine: async (machine) => {
        prepared.push(`${machine.id}=${machine.address} before ${sim.history.length} events`);
        await Promise.resolve();
      },
    });
    await sim.deploy('store', charm(STORE), { numUnits: 2 });
    await sim.settle();
    expect(Object.values(sim.model.machines).map((m) => m.address)).toEqual(['192.0.2.50', '192.0.2.51']);
    // Called for every event (idempotence is the substrate's): the first call per machine comes first.
    const first = (id: string) => prepared.find((line) => line.startsWith(`${id}=`));
    expect(first('0')).toMatch(/^0=192\.0\.2\.50 before [01] events$/);
    expect(first('1')).toMatch(/^1=192\.0\.2\.51 before [01] events$/);
    expect(prepared).toHaveLength(sim.history.length);
  });
});

describe('status and bundles', () => {
  test('status() is shaped like juju status --format json', async () => {
    const sim = new ModelSimulator({ name: 'test-x' });
    await sim.deploy(
      'api',
      charm(API, {
        start: async (io) => {
          await io.runner.run('status-set', ['active', 'ready']);
          await io.runner.run('open-port', ['8080/tcp']);
        },
      }),
      { numUnits: 2 },
    );
    await sim.deploy('agent', charm(AGENT));
    await sim.integrate('agent:juju-info', 'api:juju-info');
    await sim.integrate('agent:registration', 'api:registration');
    await sim.settle();
    const status = sim.status() as Record<string, Record<string, Record<string, unknown>>>;
    expect(status['model']).toEqual({ name: 'test-x', type: 'iaas', version: '3.6.12' });
    const api = status['applications']!['api'] as Record<string, unknown>;
    expect(api).toMatchObject({
      charm: 'local:api-0',
      'charm-rev': 0,
      exposed: false,
      base: { name: 'ubuntu', channel: '24.04' },
      'application-status': { current: 'active' },
    });
    expect(api['relations']).toEqual({
      'api-peers': [{ 'related-application': 'api', interface: 'api-peers', scope: 'global' }],
      registration: [{ 'related-application': 'agent', interface: 'backup-registration', scope: 'global' }],
      'juju-info': [{ 'related-application': 'agent', interface: 'juju-info', scope: 'container' }],
    });
    const units = api['units'] as Record<string, Record<string, unknown>>;
    expect(units['api/0']).toMatchObject({
      leader: true,
      machine: '0',
      'public-address': '10.0.0.1',
      'open-ports': ['8080/tcp'],
      'workload-status': { current: 'active', message: 'ready' },
    });
    expect(units['api/1']).not.toHaveProperty('leader');
    expect(Object.keys(units['api/0']!['subordinates'] as object)).toEqual(['agent/0']);
    const agent = status['applications']!['agent'] as Record<string, unknown>;
    expect(agent['subordinate-to']).toEqual(['api']);
    expect(agent).not.toHaveProperty('units');
  });

  test('deployBundle: relations exist at deploy, so relation-created runs in setup and joins after start', async () => {
    const sim = new ModelSimulator();
    const charms: Record<string, SimCharm> = { api: charm(API), store: charm(STORE), agent: charm(AGENT) };
    const bundle = `
applications:
  api: {charm: ./api.charm, num_units: 2, options: {port: 9000}}
  store: {charm: ./store.charm, num_units: 1, to: ["api/0"], storage: {backups: "rootfs,1,10G"}}
  agent: {charm: ./agent.charm}
relations:
  - ["agent:juju-info", "api:juju-info"]
  - ["api:backup", "store:backup"]
`;
    await sim.deployBundle(bundle, (path) => charms[path.replace(/^.*\//, '').replace('.charm', '')]!);
    await sim.settle();
    expect(eventsOf(sim, 'api/1').slice(0, 6)).toEqual([
      'install',
      'api-peers-relation-created',
      'backup-relation-created',
      'leader-settings-changed',
      'config-changed',
      'start',
    ]);
    expect(eventsOf(sim, 'api/1').slice(6)).toContain('backup-relation-joined(store/0)');
    expect(sim.model.units['store/0']!.machine).toBe(sim.model.units['api/0']!.machine);
    expect(Object.values(sim.model.units).filter((u) => u.app === 'agent')).toHaveLength(2);
    expect(sim.model.applications['api']!.config).toEqual({ port: 9000 });
    const badSub = `applications:\n  api: {charm: ./api.charm, num_units: 1}\n  agent: {charm: ./agent.charm, num_units: 1}\n`;
    await expect(
      new ModelSimulator().deployBundle(badSub, (path) => charms[path.replace(/^.*\//, '').replace('.charm', '')]!),
    ).rejects.toThrow('application "agent" is subordinate but has non-zero num_units');
  });
});

test('relation views start empty and are filled as hooks are delivered', async () => {
  const { sim, rel } = await apiAndStore();
  const view = sim.model.units['store/0']!.relations[rel]!;
  expect({ ...emptyRelationView(), ...view }).toMatchObject({
    created: true,
    joined: ['api/0', 'api/1'],
    broken: false,
  });
  const config: Record<string, ConfigValue> = { port: 1 };
  await sim.config('api', config);
});

describe('more operations', () => {
  test('[fidelity 4] when the application goes, its units depart as themselves; the other side sees the remote unit departing', async () => {
    const { sim } = await apiAndStore();
    const before = sim.history.length;
    await sim.removeApplication('api');
    await sim.settle();
    const after = sim.history.slice(before);
    const departed = after.filter((h) => h.event === 'backup-relation-departed');
    expect(departed.length).toBe(4);
    for (const h of departed) {
      const local = h.unit.startsWith('api/');
      expect(h.env['JUJU_DEPARTING_UNIT']).toBe(local ? h.unit : h.env['JUJU_REMOTE_UNIT']);
    }
    expect(eventsOf(sim, 'store/0', before)).toEqual([
      'backup-relation-departed(api/0)',
      'backup-relation-departed(api/1)',
      'backup-relation-broken',
    ]);
    expect(sim.model.applications['api']).toBeUndefined();
    expect(Object.keys(sim.model.units)).toEqual(['store/0']);
    expect(Object.values(sim.model.relations).filter((r) => !r.peer)).toEqual([]);
  });

  test('[fidelity 45] a parallel action runs without the machine lock; an ordinary one waits for it', async () => {
    const parallelApi = API.replace('  strict:\n', '  peek:\n    parallel: true\n  slow:\n    params: {}\n  strict:\n');
    const observe = async (action: 'peek' | 'slow'): Promise<boolean> => {
      let actionRunning = false;
      let seenDuringHook = false;
      const sim = new ModelSimulator({ seed: 1 });
      const act: Handler = async () => {
        actionRunning = true;
        await new Promise((resolve) => setTimeout(resolve, 20));
        actionRunning = false;
      };
      await sim.deploy('api', charm(parallelApi, { 'action:peek': act, 'action:slow': act }));
      await sim.deploy(
        'store',
        charm(STORE, {
          'update-status': async () => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            seenDuringHook ||= actionRunning;
          },
        }),
        { to: ['0'] },
      );
      await sim.settle();
      await sim.updateStatus();
      const task = await sim.runAction('api/0', action);
      expect(task.status).toBe('completed');
      return seenDuringHook;
    };
    expect(await observe('peek')).toBe(true);
    expect(await observe('slow')).toBe(false);
  });

  test('deploy checks config and storage, places units with --to, and refuses duplicates', async () => {
    const sim = new ModelSimulator();
    await expect(sim.deploy('api', charm(API), { config: { port: 'x' } })).rejects.toThrow(
      'option "port" expected int, got "x"',
    );
    await expect(sim.deploy('api', charm(API), { config: { nope: 1 } })).rejects.toThrow('unknown option "nope"');
    await sim.deploy('api', charm(API), { config: { port: '9000' }, numUnits: 2 });
    await expect(sim.deploy('api', charm(API))).rejects.toThrow(
      'cannot add application "api": application already exists',
    );
    await expect(sim.deploy('store', charm(STORE), { storage: { backups: 2 } })).rejects.toThrow(/at most 1 instances/);
    await sim.deploy('store', charm(STORE), { to: ['api/1'] });
    await sim.addUnit('store', 1, { to: ['lxd:0'] });
    expect(sim.model.units['store/0']!.machine).toBe(sim.model.units['api/1']!.machine);
    expect(sim.model.units['store/1']!.machine).toMatch(/^0\/lxd\/\d+$/);
    expect(sim.model.applications['api']!.config).toEqual({ port: 9000 });
    await expect(sim.removeUnit('api/7')).rejects.toThrow('removing unit api/7 failed: unit "api/7" does not exist');
  });

  test('settle refuses to loop forever when charms keep answering changes with changes', async () => {
    let n = 0;
    const chatty: Handler = async (io) => {
      if (
        io.env['JUJU_HOOK_NAME'] === 'api-peers-relation-changed' ||
        io.env['JUJU_HOOK_NAME'] === 'api-peers-relation-joined'
      ) {
        n += 1;
        await io.runner.run('relation-set', [`n=${n}`]);
      }
    };
    const sim = new ModelSimulator({ maxEvents: 200 });
    await sim.deploy('api', charm(API, { '*': chatty }), { numUnits: 2 });
    await expect(sim.settle()).rejects.toThrow('settle did not converge after 200 events');
  });
});

describe('registration credential flow (docs/charm-runtime.md, "Secrets") through the hook tools', () => {
  const REG_API = `
name: api
summary: s
description: d
provides:
  registration: {interface: backup-registration}
actions:
  rotate: {}
`;
  const REG_AGENT = `
name: reg
summary: s
description: d
requires:
  registration: {interface: backup-registration}
`;

  async function setup(): Promise<{ sim: ModelSimulator; reads: string[]; results: string[] }> {
    const reads: string[] = [];
    const results: string[] = [];
    const api = charm(REG_API, {
      'registration-relation-created': async (io) => {
        if ((await io.runner.run('is-leader', ['--format=json'])).stdout.trim() !== 'true') return;
        const uri = (await io.runner.run('secret-add', ['--label', 'registration', 'token=one'])).stdout.trim();
        await io.runner.run('secret-grant', ['-r', io.env['JUJU_RELATION_ID'] ?? '', uri]);
        await io.runner.run('relation-set', ['-r', io.env['JUJU_RELATION_ID'] ?? '', '--app', `secret-id=${uri}`]);
      },
      'action:rotate': async (io) => {
        const info = JSON.parse((await io.runner.run('secret-ids', ['--format=json'])).stdout) as string[];
        await io.runner.run('secret-set', [info[0]!, 'token=two']);
      },
      'secret-remove': async (io) => {
        results.push(`${io.env['JUJU_UNIT_NAME'] ?? ''} remove ${io.env['JUJU_SECRET_REVISION'] ?? ''}`);
        await io.runner.run('secret-remove', [
          io.env['JUJU_SECRET_ID'] ?? '',
          '--revision',
          io.env['JUJU_SECRET_REVISION'] ?? '',
        ]);
      },
    });
    const agent = charm(REG_AGENT, {
      'registration-relation-changed': async (io) => {
        if (io.env['JUJU_REMOTE_UNIT'] !== '') return;
        const uri = (
          await io.runner.run('relation-get', ['--app', 'secret-id', io.env['JUJU_REMOTE_APP'] ?? ''])
        ).stdout.trim();
        const got = await io.runner.run('secret-get', [uri, '--label', 'registration', '--format=json']);
        reads.push(`${io.env['JUJU_UNIT_NAME'] ?? ''} ${got.code === 0 ? got.stdout.trim() : `exit ${got.code}`}`);
      },
      'secret-changed': async (io) => {
        const got = await io.runner.run('secret-get', [
          '--label',
          io.env['JUJU_SECRET_LABEL'] ?? '',
          '--refresh',
          '--format=json',
        ]);
        reads.push(`${io.env['JUJU_UNIT_NAME'] ?? ''} changed ${got.stdout.trim()}`);
      },
    });
    const sim = new ModelSimulator({ seed: 6 });
    await sim.deploy('api', api, { numUnits: 2 });
    await sim.deploy('reg', agent, { numUnits: 2 });
    await sim.integrate('api', 'reg');
    await sim.settle();
    return { sim, reads, results };
  }

  test('[fidelity 56] consumers read, get secret-changed after a rotation, refresh; then the owner leader gets secret-remove for revision 1', async () => {
    const { sim, reads, results } = await setup();
    expect(reads.sort()).toEqual(['reg/0 {"token":"one"}', 'reg/1 {"token":"one"}']);
    reads.length = 0;
    const task = await sim.runAction('api/leader', 'rotate');
    expect(task.status).toBe('completed');
    await sim.settle();
    expect(reads.sort()).toEqual(['reg/0 changed {"token":"two"}', 'reg/1 changed {"token":"two"}']);
    expect(results).toEqual(['api/0 remove 1']);
    const secret = Object.values(sim.model.secrets)[0]!;
    expect(secret.revisions.map((r) => r.revision)).toEqual([2]);
  });

  test('[fidelity 57] remove-relation revokes the relation-scoped grant: the consumer can no longer read', async () => {
    const { sim } = await setup();
    const secret = Object.values(sim.model.secrets)[0]!;
    expect(secret.grants.length).toBeGreaterThan(0);
    await sim.removeRelation('api:registration', 'reg:registration');
    expect(secret.grants).toEqual([]);
    await sim.settle();
    let code = -1;
    sim.model.applications['reg']!.executor = {
      kind: 'in-process',
      run: async (io) => {
        code = (await io.runner.run('secret-get', [`secret:${secret.id}`])).code;
        return 0;
      },
    };
    await sim.updateStatus();
    await sim.settle();
    expect(code).toBe(1);
  });
});

test('[fidelity 32] [fidelity 35] add-unit: the new unit sets up, then app-level changed and sorted joins; existing units see it join', async () => {
  const { sim, rel } = await apiAndStore(3);
  await sim.addUnit('store');
  await sim.settle();
  await sim.runAction('api/0', 'write', { key: 'url', value: 'u', app: true, rel: `backup:${rel}` });
  await sim.settle();
  const before = sim.history.length;
  const [name] = await sim.addUnit('api');
  await sim.settle();
  expect(name).toBe('api/2');
  const peer = Object.values(sim.model.relations).find((r) => r.peer && r.ends[0]!.app === 'api')!.id;
  const own = eventsOf(sim, 'api/2', before);
  expect(own.slice(0, 6)).toEqual(
    peer < rel
      ? [
          'install',
          'api-peers-relation-created',
          'backup-relation-created',
          'leader-settings-changed',
          'config-changed',
          'start',
        ]
      : [
          'install',
          'backup-relation-created',
          'api-peers-relation-created',
          'leader-settings-changed',
          'config-changed',
          'start',
        ],
  );
  expect(own.filter((e) => e.startsWith('backup-'))).toEqual([
    'backup-relation-created',
    'backup-relation-joined(store/0)',
    'backup-relation-changed(store/0)',
    'backup-relation-joined(store/1)',
    'backup-relation-changed(store/1)',
  ]);
  expect(own.filter((e) => e.startsWith('api-peers-relation-j'))).toEqual([
    'api-peers-relation-joined(api/0)',
    'api-peers-relation-joined(api/1)',
  ]);
  for (const unit of ['api/0', 'api/1']) {
    expect(eventsOf(sim, unit, before)).toEqual([
      'api-peers-relation-joined(api/2)',
      'api-peers-relation-changed(api/2)',
    ]);
  }
  for (const unit of ['store/0', 'store/1']) {
    expect(eventsOf(sim, unit, before)).toEqual(['backup-relation-joined(api/2)', 'backup-relation-changed(api/2)']);
  }
});

test('[fidelity 48] an explicit container-scoped endpoint on the principal: each principal unit sees only its own subordinate', async () => {
  const WEB = `
name: web
summary: s
description: d
provides:
  sources: {interface: turku-sources}
`;
  const SUB = `
name: sub
summary: s
description: d
subordinate: true
requires:
  juju-info: {interface: juju-info, scope: container}
  sources: {interface: turku-sources, scope: container}
`;
  const lists: Record<string, string> = {};
  const listing: Handler = async (io) => {
    if (io.env['JUJU_HOOK_NAME'] === 'sources-relation-changed') {
      lists[io.env['JUJU_UNIT_NAME'] ?? ''] = (await io.runner.run('relation-list', ['--format=json'])).stdout.trim();
    }
  };
  const sim = new ModelSimulator({ seed: 8 });
  await sim.deploy('web', charm(WEB, { '*': listing }), { numUnits: 2 });
  await sim.deploy('sub', charm(SUB, { '*': listing }));
  await sim.integrate('sub:juju-info', 'web:juju-info');
  await sim.integrate('sub:sources', 'web:sources');
  await sim.settle();
  expect(Object.keys(sim.model.units).filter((u) => u.startsWith('sub/'))).toHaveLength(2);
  const partner = (u: string): string => Object.values(sim.model.units).find((x) => x.principal === u)!.name;
  expect(lists).toEqual({
    'web/0': JSON.stringify([partner('web/0')]),
    'web/1': JSON.stringify([partner('web/1')]),
    [partner('web/0')]: '["web/0"]',
    [partner('web/1')]: '["web/1"]',
  });
  // Dropping juju-info keeps the subordinates: the sources relation still attaches them.
  await sim.removeRelation('sub:juju-info', 'web:juju-info');
  await sim.settle();
  expect(Object.keys(sim.model.units).filter((u) => u.startsWith('sub/'))).toHaveLength(2);
  await sim.removeRelation('sub:sources', 'web:sources');
  await sim.settle();
  expect(Object.keys(sim.model.units).filter((u) => u.startsWith('sub/'))).toEqual([]);
});
