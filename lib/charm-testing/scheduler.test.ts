import { addApplication, addTask, addUnit, fixtureModel, relate } from './fixtures.js';
import { type Model, type Relation } from './model.js';
import { type AgentState, newAgentState, nextDecision } from './scheduler.js';

/** Takes (and claims) decisions until the unit is idle; returns `event(remote)` labels. */
function drain(model: Model, agent: AgentState, unit: string, limit = 30): string[] {
  const out: string[] = [];
  for (let i = 0; i < limit; i += 1) {
    const decision = nextDecision(model, agent, unit);
    if (decision === undefined) return out;
    decision.claim();
    const { event } = decision;
    if (event.kind === 'action') {
      model.tasks[event.taskId]!.status = 'completed';
      out.push(`action:${event.name}`);
    } else out.push(event.remoteUnit ? `${event.name}(${event.remoteUnit})` : event.name);
  }
  throw new Error('unit never went idle');
}

/** api (2 units) <-> store (1 unit), fully joined and up to date. */
function joinedModel(): { model: Model; rel: Relation; agent: AgentState } {
  const model = fixtureModel();
  addApplication(model, 'api', { units: 2, endpoints: { backup: 'requires' } });
  addApplication(model, 'store', { units: 1, endpoints: { backup: 'provides' } });
  const rel = relate(model, 'api:backup', 'store:backup');
  for (const unit of Object.values(model.units)) {
    const view = unit.relations[rel.id]!;
    for (const remote of view.joined) view.seenUnitVersion[remote] = rel.unitBagVersion[remote] ?? 0;
  }
  const agent = newAgentState();
  agent.configPending = false;
  return { model, rel, agent };
}

function bump(rel: Relation, unit: string, data: Record<string, string>): void {
  rel.unitBags[unit] = { ...rel.unitBags[unit], ...data };
  rel.unitBagVersion[unit] = (rel.unitBagVersion[unit] ?? 0) + 1;
}

test('an idle, up-to-date unit has nothing to run', () => {
  const { model, agent } = joinedModel();
  expect(nextDecision(model, agent, 'store/0')).toBeUndefined();
});

test('[fidelity 38] several unprocessed commits coalesce into one relation-changed', () => {
  const { model, rel, agent } = joinedModel();
  bump(rel, 'api/1', { a: '1' });
  bump(rel, 'api/1', { a: '2' });
  bump(rel, 'api/1', { a: '3' });
  expect(drain(model, agent, 'store/0')).toEqual(['backup-relation-changed(api/1)']);
  expect(model.units['store/0']!.relations[rel.id]!.seenUnitVersion['api/1']).toBe(3);
});

test('[fidelity 35] within a relation: departed -> app-level changed -> joined+changed -> unit changed, units sorted', () => {
  const { model, rel, agent } = joinedModel();
  // api/1 went away, api/2 and api/3 entered scope, api/0 wrote, and the api leader wrote app data.
  delete model.units['api/1'];
  for (let i = 0; i < 2; i += 1) {
    const unit = addUnit(model, 'api');
    rel.unitBags[unit.name] = { 'private-address': '10.0.0.9' };
    rel.unitBagVersion[unit.name] = 1;
    unit.relations[rel.id] = {
      created: true,
      joined: [],
      departed: [],
      seenUnitVersion: {},
      seenAppVersion: {},
      broken: false,
    };
  }
  bump(rel, 'api/0', { k: 'v' });
  rel.appBags['api'] = { url: 'u' };
  rel.appBagVersion['api'] = 1;
  const events = drain(model, agent, 'store/0');
  expect(events).toEqual([
    'backup-relation-departed(api/1)',
    'backup-relation-changed',
    'backup-relation-joined(api/2)',
    'backup-relation-changed(api/2)',
    'backup-relation-joined(api/3)',
    'backup-relation-changed(api/3)',
    'backup-relation-changed(api/0)',
  ]);
  const view = model.units['store/0']!.relations[rel.id]!;
  expect(view).toMatchObject({ joined: ['api/0', 'api/2', 'api/3'], departed: ['api/1'] });
});

test('docs/charm-runtime.md, "Which hook runs next" priority: follow-ups, upgrade, leadership, secrets, actions, storage, relations, update-status', () => {
  const { model, rel, agent } = joinedModel();
  const unit = model.units['api/0']!;
  agent.upgradePending = true;
  agent.leaderElectedPending = true;
  agent.updateStatusPending = true;
  addTask(model, 'api/0', 'backup-now');
  model.storage['backups/0'] = {
    id: 'backups/0',
    name: 'backups',
    kind: 'filesystem',
    location: '/srv',
    unit: 'api/0',
  };
  unit.storage.push('backups/0');
  bump(rel, 'store/0', { k: 'v' });
  expect(drain(model, agent, 'api/0')).toEqual([
    'upgrade-charm',
    'config-changed',
    'leader-elected',
    'action:backup-now',
    'backups-storage-attached',
    'backup-relation-changed(store/0)',
    'update-status',
  ]);
});

test('[fidelity 29] a unit in error runs only queued actions', () => {
  const { model, rel, agent } = joinedModel();
  const unit = model.units['store/0']!;
  unit.error = { hook: 'install', env: {} };
  bump(rel, 'api/0', { k: 'v' });
  agent.updateStatusPending = true;
  addTask(model, 'store/0', 'list');
  expect(drain(model, agent, 'store/0')).toEqual(['action:list']);
  delete unit.error;
  expect(drain(model, agent, 'store/0')).toEqual(['backup-relation-changed(api/0)', 'update-status']);
});

test('[fidelity 32] a fresh unit: install -> relation-created -> leader-settings-changed -> config-changed -> start -> joins', () => {
  const { model, rel } = joinedModel();
  const fresh = addUnit(model, 'api');
  Object.assign(fresh, { installed: false, started: false, seenLeaderSettingsVersion: -1 });
  const agent = newAgentState();
  expect(drain(model, agent, fresh.name)).toEqual([
    'install',
    'backup-relation-created',
    'leader-settings-changed',
    'config-changed',
    'start',
    'backup-relation-joined(store/0)',
    'backup-relation-changed(store/0)',
  ]);
  // Entering scope wrote the address keys into its bag.
  expect(Object.keys(rel.unitBags[fresh.name]!).sort()).toEqual([
    'egress-subnets',
    'ingress-address',
    'private-address',
  ]);
});

test('[fidelity 34] a dying relation: departed per remote unit then broken, never changed', () => {
  const { model, rel, agent } = joinedModel();
  bump(rel, 'api/0', { k: 'v' });
  rel.life = 'dying';
  expect(drain(model, agent, 'store/0')).toEqual([
    'backup-relation-departed(api/0)',
    'backup-relation-departed(api/1)',
    'backup-relation-broken',
  ]);
  const departed = nextDecision(model, { ...newAgentState(), configPending: false }, 'api/0');
  expect(departed?.event).toMatchObject({
    name: 'backup-relation-departed',
    remoteUnit: 'store/0',
    departingUnit: 'store/0',
  });
});
