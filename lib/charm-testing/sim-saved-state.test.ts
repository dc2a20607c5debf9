import { describe, expect, it } from '@jest/globals';

import type { InProcessCharm } from '../charm/runner.js';
import { parseCharmMeta } from '../charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from './simulator.js';

const DB = `
name: db
summary: s
description: d
provides:
  db: {interface: db}
storage:
  data: {type: filesystem, location: /srv/data}
config:
  options:
    size: {type: int, default: 1}
actions:
  hello:
    params:
      who: {type: string}
`;
const APP = `
name: app
summary: s
description: d
requires:
  db: {interface: db}
`;

/** Sets status from config and writes its unit name to every db relation: state worth carrying over. */
function charm(yaml: string): SimCharm {
  const run: InProcessCharm = async (io) => {
    const tool = (name: string, args: string[]) => io.runner.run(name, args);
    if (io.env['JUJU_ACTION_NAME'] === 'hello') {
      const params = JSON.parse((await tool('action-get', ['--format=json'])).stdout) as Record<string, string>;
      await tool('action-set', [`greeting=hello ${params['who'] ?? ''}`]);
      return 0;
    }
    const relations = JSON.parse((await tool('relation-ids', ['db', '--format=json'])).stdout) as string[];
    for (const relation of relations) await tool('relation-set', ['-r', relation, `unit=${io.env['JUJU_UNIT_NAME']}`]);
    const config = JSON.parse((await tool('config-get', ['--format=json'])).stdout) as Record<string, number>;
    await tool('status-set', ['active', `size ${config['size'] ?? '-'}`]);
    return 0;
  };
  return { meta: parseCharmMeta(yaml), executor: { kind: 'in-process', run } };
}

async function deployed(): Promise<ModelSimulator> {
  const sim = new ModelSimulator({ seed: 5 });
  await sim.deploy('db', charm(DB), { numUnits: 2, storage: { data: 1 }, config: { size: 3 } });
  await sim.deploy('app', charm(APP));
  await sim.integrate('app:db', 'db:db');
  await sim.settle();
  return sim;
}

describe('saving and loading a simulator', () => {
  it('a new simulator loaded from JSON has the same status and goes on from there', async () => {
    const before = await deployed();
    const text = JSON.stringify(before.saveState());
    const after = new ModelSimulator({ seed: 9 });
    const charms: Record<string, SimCharm> = { db: charm(DB), app: charm(APP) };
    after.loadState(JSON.parse(text) as ReturnType<ModelSimulator['saveState']>, (app) => charms[app.name]!.executor);

    expect(after.status()).toEqual(before.status());
    expect(after.model.relations).toEqual(before.model.relations);

    // Settling straight away runs nothing: every agent's state came along.
    const ran = after.history.length;
    await after.settle();
    expect(after.history.length).toBe(ran);

    // A further change works as on the original: a new unit (numbered on), config, an action.
    expect(await after.addUnit('db')).toEqual(['db/2']);
    await after.config('db', { size: 4 });
    await after.settle();
    expect(after.workloadStatuses()['db/2']).toBe('active: size 4');
    expect(after.model.units['db/2']?.storage).toEqual(['data/2']);
    const task = await after.runAction('db/0', 'hello', { who: 'you' });
    expect([task.status, task.results['greeting']]).toEqual(['completed', 'hello you']);
    expect(Number(task.id)).toBeGreaterThan(0);
  });

  it('a task that was running when saved is aborted on load', async () => {
    const sim = await deployed();
    const saved = sim.saveState();
    saved.model.tasks['99'] = {
      id: '99',
      unit: 'db/0',
      name: 'hello',
      params: {},
      status: 'running',
      message: '',
      results: {},
      log: [],
    };
    const loaded = new ModelSimulator();
    loaded.loadState(saved, () => charm(DB).executor);
    expect(loaded.model.tasks['99']?.status).toBe('aborted');
  });
});
