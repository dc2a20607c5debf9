import { addApplication, fixtureModel, toolSession } from '../fixtures.js';
import { type Model } from '../model.js';

function world(): Model {
  const model = fixtureModel();
  addApplication(model, 'api', {
    units: 2,
    charm: {
      config: {
        port: { type: 'int', default: 8080 },
        ratio: { type: 'float', default: 0.5 },
        debug: { type: 'boolean', default: false },
        name: { type: 'string' },
        token: { type: 'secret' },
        motd: { type: 'string', default: '' },
      },
    },
    config: { debug: true, token: 'secret:abc' },
  });
  return model;
}

describe('config-get', () => {
  test('[fidelity 13] JSON types follow option types; unset options without default are omitted', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(JSON.parse((await run('config-get', '--format=json')).stdout)).toEqual({
      port: 8080,
      ratio: 0.5,
      debug: true,
      token: 'secret:abc',
      motd: '',
    });
  });

  test('[fidelity 13] --all includes unset options as null; a key with --all is a usage error', async () => {
    const { run } = toolSession(world(), 'api/0');
    const all = JSON.parse((await run('config-get', '--all', '--format=json')).stdout) as Record<string, unknown>;
    expect(all['name']).toBeNull();
    expect(all['port']).toBe(8080);
    expect(await run('config-get', 'port', '--all')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ERROR cannot use argument --all together with key "port"\n',
    });
  });

  test('[fidelity 12] a missing or unset key prints null in JSON and exits 0', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(await run('config-get', '--format=json', 'name')).toEqual({ code: 0, stdout: 'null\n', stderr: '' });
    expect(await run('config-get', '--format=json', 'unknown')).toEqual({ code: 0, stdout: 'null\n', stderr: '' });
    expect((await run('config-get', '--format=json', 'port')).stdout).toBe('8080\n');
  });

  test('[fidelity 11] smart prints booleans True/False, JSON true/false, yaml true/false', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect((await run('config-get', 'debug')).stdout).toBe('True\n');
    expect((await run('config-get', '--format=json', 'debug')).stdout).toBe('true\n');
    expect((await run('config-get', '--format=yaml', 'debug')).stdout).toBe('true\n');
    expect((await run('config-get', '--format', 'xml')).code).toBe(2);
  });
});

describe('status-set / status-get', () => {
  test('[fidelity 16] only maintenance/blocked/waiting/active, one message argument', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/1');
    expect(await run('status-set', 'error', 'x')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ERROR invalid status "error", expected one of [maintenance blocked waiting active]\n',
    });
    expect(await run('status-set')).toMatchObject({
      code: 2,
      stderr: 'ERROR invalid args, require <status> [message]\n',
    });
    expect(await run('status-set', 'active', 'two', 'words')).toMatchObject({
      code: 2,
      stderr: 'ERROR unrecognized args: ["words"]\n',
    });
    expect(await run('status-set', 'active', '--', '-starts-with-dash')).toMatchObject({ code: 0 });
    expect(model.units['api/1']!.workloadStatus).toMatchObject({ status: 'active', message: '-starts-with-dash' });
  });

  test('[fidelity 16] --application by a non-leader exits 1; the leader sets the app status', async () => {
    const model = world();
    expect(await toolSession(model, 'api/1').run('status-set', '--application', 'active', 'x')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'ERROR this unit is not the leader\n',
    });
    expect(model.applications['api']!.status).toBeUndefined();
    expect((await toolSession(model, 'api/0').run('status-set', '--application', 'blocked', 'y')).code).toBe(0);
    expect(model.applications['api']!.status).toMatchObject({ status: 'blocked', message: 'y' });
  });

  test('status-set is immediate, appends to history each time, and marks the status as set by the charm', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/0');
    await run('status-set', 'maintenance', 'a');
    await run('status-set', 'maintenance', 'a');
    const unit = model.units['api/0']!;
    expect(unit.statusHistory).toHaveLength(2);
    expect(unit.statusSetByCharm).toBe(true);
    expect(unit.workloadStatus).toEqual({
      status: 'maintenance',
      message: 'a',
      data: {},
      since: '2026-01-01T00:00:00.000Z',
    });
  });

  test('status-get: smart word, JSON map, --include-data, --application for the leader only', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/0');
    await run('status-set', 'active', 'ready');
    expect((await run('status-get')).stdout).toBe('active\n');
    expect((await run('status-get', '--format=json')).stdout).toBe('{"status":"active"}\n');
    expect((await run('status-get', '--format=json', '--include-data')).stdout).toBe(
      '{"message":"ready","status":"active","status-data":{}}\n',
    );
    const app = JSON.parse((await run('status-get', '--application', '--format=json')).stdout) as {
      'application-status': { units: Record<string, unknown> };
    };
    expect(Object.keys(app['application-status'].units)).toEqual(['api/0', 'api/1']);
    expect(await toolSession(model, 'api/1').run('status-get', '--application')).toMatchObject({
      code: 1,
      stderr: 'ERROR finding application status: this unit is not the leader\n',
    });
  });
});

describe('application-version-set', () => {
  test('sets the version at once; no argument is a usage error', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/1');
    expect(await run('application-version-set')).toMatchObject({ code: 2, stderr: 'ERROR no version specified\n' });
    await run('application-version-set', '2.0.1');
    expect(model.applications['api']!.version).toBe('2.0.1');
  });
});
