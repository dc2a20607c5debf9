import { addApplication, fixtureModel, toolSession } from '../fixtures.js';

describe('state tools', () => {
  test('[fidelity 12] state-get prints "" for a missing key unless --strict (exit 1)', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const { run } = toolSession(model, 'api/0');
    expect(await run('state-get', '--format=json', 'nope')).toEqual({ code: 0, stdout: '""\n', stderr: '' });
    expect(await run('state-get', 'nope')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await run('state-get', '--strict', 'nope')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'ERROR "nope" not found\n',
    });
    expect((await run('state-get', '--format=json')).stdout).toBe('{}\n');
  });

  test('state is per unit, reads include this hook’s writes, and commits at the end', async () => {
    const model = fixtureModel();
    addApplication(model, 'api', { units: 2 });
    const first = toolSession(model, 'api/0');
    await first.run('state-set', 'a=1', 'b=2');
    await first.run('state-delete', 'b');
    expect((await first.run('state-get', '--format=json')).stdout).toBe('{"a":"1"}\n');
    expect(model.units['api/0']!.state).toEqual({});
    first.session.commit();
    expect(model.units['api/0']!.state).toEqual({ a: '1' });
    expect((await toolSession(model, 'api/1').run('state-get', '--format=json')).stdout).toBe('{}\n');
  });

  test('rollback discards state-set and state-delete', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    model.units['api/0']!.state = { keep: 'me' };
    const { run, session } = toolSession(model, 'api/0');
    await run('state-delete', 'keep');
    await run('state-set', 'new=1');
    session.rollback();
    session.commit();
    expect(model.units['api/0']!.state).toEqual({ keep: 'me' });
  });

  test('state-set stores an empty value as is', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const { run, session } = toolSession(model, 'api/0');
    await run('state-set', 'empty=');
    expect((await run('state-get', '--format=json')).stdout).toBe('{"empty":""}\n');
    session.commit();
    expect(model.units['api/0']!.state).toEqual({ empty: '' });
  });

  test('state-set --file - reads a map from stdin; errors exit 2', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const { runWithStdin, run, session } = toolSession(model, 'api/0');
    expect((await runWithStdin('{"x": "1", "y": "2"}', 'state-set', '--file', '-', 'y=3')).code).toBe(0);
    session.commit();
    expect(model.units['api/0']!.state).toEqual({ x: '1', y: '3' });
    expect((await run('state-set', 'novalue')).code).toBe(2);
    expect((await run('state-delete', 'a', 'b')).code).toBe(2);
    expect((await run('state-delete')).code).toBe(0);
  });
});
