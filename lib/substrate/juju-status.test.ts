import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { type CharmIo } from '../charm/runner.js';
import { parseCharmMeta } from '../charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../charm-testing/simulator.js';
import { unitsOf } from './driver.js';
import { parseJujuStatus, unitsInError } from './juju-status.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8'));
}

describe('parseJujuStatus on recorded Juju output', () => {
  it('reads a 3.6 status of our bundle: apps, relation objects, principals and the subordinate', () => {
    const status = parseJujuStatus(fixture('status-3.6-bundle.json'));
    expect(status.model).toBe('turku-it-1a2b3c4d');
    expect(Object.keys(status.applications).sort()).toEqual(['turku-agent', 'turku-api', 'turku-storage', 'ubuntu']);
    expect(status.applications['turku-api']).toEqual({
      name: 'turku-api',
      charm: 'local:turku-api-0',
      status: 'active',
      message: 'serving on :8000',
      subordinateTo: [],
      relations: { agents: ['turku-agent'], storages: ['turku-storage'], 'turku-peers': ['turku-api'] },
    });
    expect(status.applications['turku-agent']?.subordinateTo).toEqual(['ubuntu']);
    expect(status.applications['turku-agent']?.relations).toEqual({
      'juju-info': ['ubuntu'],
      'turku-api': ['turku-api'],
    });
    expect(status.applications['turku-storage']?.message).toBe('');
    expect(Object.keys(status.units)).toEqual([
      'turku-agent/0',
      'turku-api/0',
      'turku-storage/0',
      'turku-storage/1',
      'ubuntu/0',
    ]);
    expect(status.units['turku-api/0']).toEqual({
      name: 'turku-api/0',
      app: 'turku-api',
      workload: 'active',
      message: 'serving on :8000',
      agent: 'idle',
      machine: '0',
      address: '10.1.2.3',
      leader: true,
    });
    expect(status.units['turku-storage/1']).toMatchObject({ agent: 'executing', leader: false, machine: '2' });
    expect(status.units['turku-agent/0']).toEqual({
      name: 'turku-agent/0',
      app: 'turku-agent',
      workload: 'active',
      message: 'registered',
      agent: 'idle',
      machine: '3',
      address: '10.1.2.6',
      leader: true,
      principal: 'ubuntu/0',
    });
    expect(status.units['ubuntu/0']).not.toHaveProperty('principal');
    expect(unitsOf(status, 'turku-storage').map((u) => u.name)).toEqual(['turku-storage/0', 'turku-storage/1']);
    expect(unitsInError(status)).toEqual([]);
  });

  it('reads 3.0 relations given as lists of application names', () => {
    const status = parseJujuStatus(fixture('status-3.0-relation-names.json'));
    expect(status.model).toBe('legacy');
    expect(status.applications['turku-agent']?.relations).toEqual({
      'juju-info': ['ubuntu'],
      'turku-api': ['turku-api'],
    });
    expect(status.applications['turku-api']?.relations).toEqual({
      agents: ['turku-agent'],
      'turku-peers': ['turku-api'],
    });
    // The subordinate entry has no public-address of its own here: it takes the principal's.
    expect(status.units['turku-agent/0']).toMatchObject({
      workload: 'waiting',
      machine: '0',
      address: '10.0.0.7',
      principal: 'ubuntu/0',
    });
  });

  it('keeps error as the workload, reads an omitted leader as false, tolerates missing address', () => {
    const status = parseJujuStatus(fixture('status-unit-error.json'));
    expect(status.units['turku-storage/0']).toMatchObject({
      workload: 'error',
      message: 'hook failed: "install"',
      leader: false,
    });
    expect(status.units['turku-storage/1']).toMatchObject({
      workload: 'waiting',
      agent: 'allocating',
      machine: '1',
      address: '',
      leader: false,
    });
    expect(status.applications['turku-storage']?.relations).toEqual({});
    expect(unitsInError(status).map((u) => u.name)).toEqual(['turku-storage/0']);
  });

  it('collects one subordinate application from two principals', () => {
    const status = parseJujuStatus(fixture('status-subordinate-two-principals.json'));
    expect(status.applications['turku-agent']?.subordinateTo).toEqual(['turku-api', 'ubuntu']);
    expect(status.applications['turku-agent']?.relations).toEqual({ 'juju-info': ['turku-api', 'ubuntu'] });
    expect(unitsOf(status, 'turku-agent')).toEqual([
      {
        name: 'turku-agent/0',
        app: 'turku-agent',
        workload: 'active',
        message: 'registered',
        agent: 'executing',
        machine: '3',
        address: '10.1.2.6',
        leader: true,
        principal: 'ubuntu/0',
      },
      {
        name: 'turku-agent/1',
        app: 'turku-agent',
        workload: 'active',
        message: 'registered',
        agent: 'idle',
        machine: '0',
        address: '10.1.2.3',
        leader: false,
        principal: 'turku-api/0',
      },
    ]);
  });
});

describe('parseJujuStatus on odd input', () => {
  it('tolerates missing optional fields', () => {
    expect(parseJujuStatus({})).toEqual({ model: '', applications: {}, units: {} });
    const status = parseJujuStatus({
      model: { name: 'm' },
      applications: { a: { units: { 'a/0': { 'workload-status': { current: 'unknown' } } } }, b: {} },
    });
    expect(status.applications['b']).toEqual({
      name: 'b',
      charm: '',
      status: '',
      message: '',
      subordinateTo: [],
      relations: {},
    });
    expect(status.units['a/0']).toEqual({
      name: 'a/0',
      app: 'a',
      workload: 'unknown',
      message: '',
      agent: '',
      machine: '',
      address: '',
      leader: false,
    });
  });

  it('sorts units by number, not as text', () => {
    const unit = { 'workload-status': { current: 'active' } };
    const status = parseJujuStatus({ applications: { a: { units: { 'a/10': unit, 'a/2': unit, 'a/1': unit } } } });
    expect(Object.keys(status.units)).toEqual(['a/1', 'a/2', 'a/10']);
  });

  it('rejects a non-object with one line saying what it got', () => {
    expect(() => parseJujuStatus(null)).toThrow('juju status: expected a JSON object, got null');
    expect(() => parseJujuStatus([])).toThrow('juju status: expected a JSON object, got an array');
    expect(() => parseJujuStatus('ERROR model not found')).toThrow('juju status: expected a JSON object, got string');
  });

  it('rejects a unit (principal or subordinate) without workload-status, naming it', () => {
    expect(() => parseJujuStatus({ applications: { a: { units: { 'a/0': { 'juju-status': {} } } } } })).toThrow(
      'juju status: unit a/0 has no workload-status.current',
    );
    const principal = { 'workload-status': { current: 'active' }, subordinates: { 's/3': { leader: true } } };
    expect(() => parseJujuStatus({ applications: { a: { units: { 'a/0': principal } } } })).toThrow(
      'juju status: unit s/3 has no workload-status.current',
    );
  });
});

// The local driver feeds the simulator's status() to the same parser.
describe('parseJujuStatus on the simulator', () => {
  const noop = { kind: 'in-process' as const, run: (_io: CharmIo) => Promise.resolve(0) };
  const principal: SimCharm = {
    meta: parseCharmMeta('name: web\nsummary: s\ndescription: d\n'),
    executor: noop,
  };
  const subordinate: SimCharm = {
    meta: parseCharmMeta(
      'name: agent\nsummary: s\ndescription: d\nsubordinate: true\nrequires:\n  juju-info: {interface: juju-info, scope: container}\n',
    ),
    executor: noop,
  };

  it('gives units, principals, leaders, machines and relations', async () => {
    const sim = new ModelSimulator({ seed: 3 });
    await sim.deploy('web', principal, { numUnits: 2 });
    await sim.deploy('agent', subordinate);
    await sim.settle();
    await sim.integrate('agent:juju-info', 'web:juju-info');
    await sim.settle();
    const status = parseJujuStatus(sim.status());

    expect(Object.keys(status.units)).toEqual(['agent/0', 'agent/1', 'web/0', 'web/1']);
    const web = unitsOf(status, 'web');
    const agents = unitsOf(status, 'agent');
    expect(web.every((u) => u.principal === undefined && u.machine !== '')).toBe(true);
    expect(web.filter((u) => u.leader)).toHaveLength(1);
    expect(agents.filter((u) => u.leader)).toHaveLength(1);
    // Each agent sits beside exactly one web unit, on its machine.
    expect(agents.map((u) => u.principal).sort()).toEqual(['web/0', 'web/1']);
    for (const agent of agents) {
      const host = status.units[agent.principal ?? ''];
      expect(agent.machine).toBe(host?.machine);
      expect(agent.address).toBe(host?.address);
    }
    expect(status.applications['agent']?.subordinateTo).toEqual(['web']);
    expect(status.applications['agent']?.relations['juju-info']).toEqual(['web']);
    expect(status.applications['web']?.relations['juju-info']).toEqual(['agent']);
    expect(unitsInError(status)).toEqual([]);
  });
});
