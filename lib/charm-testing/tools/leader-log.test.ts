import { addApplication, fixtureModel, relate, relationEvent, toolSession } from '../fixtures.js';
import { type Model } from '../model.js';

function world(): Model {
  const model = fixtureModel();
  addApplication(model, 'api', { units: 2, endpoints: { db: 'requires' } });
  addApplication(model, 'pg', { endpoints: { db: 'provides' } });
  relate(model, 'api:db', 'pg:db');
  return model;
}

describe('is-leader', () => {
  test('[fidelity 11] smart True/False, JSON true/false', async () => {
    const model = world();
    expect((await toolSession(model, 'api/0').run('is-leader')).stdout).toBe('True\n');
    expect((await toolSession(model, 'api/1').run('is-leader')).stdout).toBe('False\n');
    expect((await toolSession(model, 'api/0').run('is-leader', '--format=json')).stdout).toBe('true\n');
    expect((await toolSession(model, 'api/1').run('is-leader', '--format=json')).stdout).toBe('false\n');
  });
});

describe('leader-get / leader-set', () => {
  test('[fidelity 19] leader-set by a non-leader exits 1 and changes nothing', async () => {
    const model = world();
    const result = await toolSession(model, 'api/1').run('leader-set', 'a=b');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'ERROR cannot write leadership settings: cannot write settings: not the leader\n',
    });
    expect(model.applications['api']!.leaderSettings).toEqual({});
    expect(model.applications['api']!.leaderSettingsVersion).toBe(0);
  });

  test('leader-set is immediate, bumps the version on net change only, and marks it seen by the leader', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/0');
    await run('leader-set', 'a=1', 'b=2');
    const app = model.applications['api']!;
    expect(app.leaderSettings).toEqual({ a: '1', b: '2' });
    expect(app.leaderSettingsVersion).toBe(1);
    expect(model.units['api/0']!.seenLeaderSettingsVersion).toBe(1);
    await run('leader-set', 'a=1');
    expect(app.leaderSettingsVersion).toBe(1);
    await run('leader-set', 'b=');
    expect(app.leaderSettings).toEqual({ a: '1' });
    expect(app.leaderSettingsVersion).toBe(2);
  });

  test('[fidelity 12] leader-get: map, value, null for a missing key; a key with = is a usage error', async () => {
    const model = world();
    model.applications['api']!.leaderSettings = { a: '1' };
    const { run } = toolSession(model, 'api/1');
    expect((await run('leader-get', '--format=json')).stdout).toBe('{"a":"1"}\n');
    expect((await run('leader-get', 'a')).stdout).toBe('1\n');
    expect(await run('leader-get', '--format=json', 'zz')).toEqual({ code: 0, stdout: 'null\n', stderr: '' });
    expect(await run('leader-get', 'a=b')).toMatchObject({ code: 2, stderr: 'ERROR invalid key "a=b"\n' });
  });
});

describe('juju-log', () => {
  test('levels, prefix in relation hooks, joined arguments, unknown level falls back to INFO', async () => {
    const model = world();
    const plain = toolSession(model, 'api/0', { kind: 'hook', name: 'install' });
    await plain.run('juju-log', '--log-level', 'WARNING', '--', 'disk', 'low');
    await plain.run('juju-log', '-l', 'LOUD', 'hi');
    await plain.run('juju-log', '--debug', 'dbg');
    const rel = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'joined', 'pg/0'));
    await rel.run('juju-log', 'joined');
    const lines = model.logs.filter((entry) => entry.source === 'juju-log');
    expect(lines.map((entry) => [entry.level, entry.message])).toEqual([
      ['WARNING', 'disk low'],
      ['WARNING', 'Specified log level of "LOUD" is not valid'],
      ['INFO', 'hi'],
      ['DEBUG', 'dbg'],
      ['INFO', 'db:0: joined'],
    ]);
    expect(lines[0]).toMatchObject({ unit: 'api/0', event: 'install' });
    expect(await plain.run('juju-log')).toMatchObject({ code: 2, stderr: 'ERROR no message specified\n' });
  });
});
