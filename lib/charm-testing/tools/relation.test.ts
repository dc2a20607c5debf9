import { addApplication, fixtureModel, relate, relationEvent, toolSession } from '../fixtures.js';
import { type Model } from '../model.js';

/** api (db requirer, 2 units, leader api/0) related to pg (db provider, 2 units); api peers. */
function world(): Model {
  const model = fixtureModel();
  addApplication(model, 'api', { endpoints: { db: 'requires', peers: 'peers' }, units: 2 });
  addApplication(model, 'pg', { endpoints: { db: 'provides' }, units: 2 });
  relate(model, 'api:db', 'pg:db'); // 0
  relate(model, 'api:peers'); // 1
  return model;
}

describe('relation ids (-r)', () => {
  test('[fidelity 10] -r accepts N and endpoint:N', async () => {
    const model = world();
    model.relations[0]!.unitBags['pg/0'] = { k: 'v' };
    const { run } = toolSession(model, 'api/0');
    expect((await run('relation-get', '-r', '0', 'k', 'pg/0')).stdout).toBe('v\n');
    expect((await run('relation-get', '-r', 'db:0', 'k', 'pg/0')).stdout).toBe('v\n');
    expect((await run('relation-get', '--relation=db:0', 'k', 'pg/0')).stdout).toBe('v\n');
  });

  test('[fidelity 10] unknown id, wrong endpoint prefix and garbage are rejected with exit 2', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(await run('relation-get', '-r', 'db:99', '-', 'pg/0')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ERROR invalid value "db:99" for option -r: relation not found\n',
    });
    expect((await run('relation-get', '-r', 'peers:0', '-', 'pg/0')).stderr).toBe(
      'ERROR invalid value "peers:0" for option -r: relation not found\n',
    );
    expect(await run('relation-list', '-r', 'x')).toMatchObject({
      code: 2,
      stderr: 'ERROR invalid value "x" for option -r: invalid relation id\n',
    });
  });

  test('-r is required outside relation hooks', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(await run('relation-list')).toMatchObject({ code: 2, stderr: 'ERROR no relation id specified\n' });
    expect(await run('relation-get', '-r', '0')).toMatchObject({
      code: 2,
      stderr: 'ERROR no unit or application specified\n',
    });
  });
});

describe('relation-get', () => {
  test('[fidelity 12] a missing key prints null in JSON, exit 0; smart prints nothing', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(await run('relation-get', '--format=json', '-r', 'db:0', 'nope', 'pg/0')).toEqual({
      code: 0,
      stdout: 'null\n',
      stderr: '',
    });
    expect(await run('relation-get', '-r', 'db:0', 'nope', 'pg/0')).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('reads a whole bag with - or no key; in a relation hook defaults to the remote unit', async () => {
    const model = world();
    model.relations[0]!.unitBags['pg/1'] = { a: '1', b: 'two' };
    const { run } = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'changed', 'pg/1'));
    expect((await run('relation-get', '--format=json')).stdout).toBe('{"a":"1","b":"two"}\n');
    expect((await run('relation-get', '--format=json', '-', 'pg/1')).stdout).toBe('{"a":"1","b":"two"}\n');
    expect((await run('relation-get', '--format=yaml', 'b')).stdout).toBe('two\n');
  });

  test('[fidelity 26] with an empty JUJU_REMOTE_UNIT relation-get reads the remote application bag', async () => {
    const model = world();
    model.relations[0]!.appBags['pg'] = { url: 'postgres://x' };
    const { run } = toolSession(model, 'api/1', relationEvent(model, 'api/1', 0, 'changed', ''));
    expect((await run('relation-get', '--format=json')).stdout).toBe('{"url":"postgres://x"}\n');
    expect((await run('relation-get', 'url')).stdout).toBe('postgres://x\n');
  });

  test('--app with a unit name reads that unit’s application bag; an app name without --app fails', async () => {
    const model = world();
    model.relations[0]!.appBags['pg'] = { url: 'u' };
    const { run } = toolSession(model, 'api/0');
    expect((await run('relation-get', '-r', '0', '--app', 'url', 'pg/1')).stdout).toBe('u\n');
    expect((await run('relation-get', '-r', '0', '--app', 'url', 'pg')).stdout).toBe('u\n');
    expect((await run('relation-get', '-r', '0', 'url', 'pg')).code).toBe(1);
  });

  test('[fidelity 24] a non-leader reading its own app bag: permission denied in a regular relation, allowed in a peer relation', async () => {
    const model = world();
    model.relations[0]!.appBags['api'] = { mine: '1' };
    model.relations[1]!.appBags['api'] = { shared: '2' };
    const follower = toolSession(model, 'api/1');
    expect(await follower.run('relation-get', '-r', 'db:0', '--app', 'mine', 'api')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'ERROR permission denied\n',
    });
    expect((await follower.run('relation-get', '-r', 'peers:1', '--app', 'shared', 'api')).stdout).toBe('2\n');
    const leader = toolSession(model, 'api/0');
    expect((await leader.run('relation-get', '-r', 'db:0', '--app', 'mine', 'api')).stdout).toBe('1\n');
  });

  test('[fidelity 25] own unit bag and own app bag (leader) include uncommitted writes; remote reads are committed only', async () => {
    const model = world();
    const writer = toolSession(model, 'api/0');
    await writer.run('relation-set', '-r', 'db:0', 'k=v');
    await writer.run('relation-set', '-r', 'db:0', '--app', 'a=b');
    expect((await writer.run('relation-get', '-r', 'db:0', 'k', 'api/0')).stdout).toBe('v\n');
    expect((await writer.run('relation-get', '-r', 'db:0', '--app', 'a', 'api')).stdout).toBe('b\n');
    const reader = toolSession(model, 'pg/0');
    expect((await reader.run('relation-get', '-r', 'db:0', '--format=json', 'k', 'api/0')).stdout).toBe('null\n');
    expect((await reader.run('relation-get', '-r', 'db:0', '--app', '--format=json', 'a', 'api')).stdout).toBe(
      'null\n',
    );
    writer.session.commit();
    expect(model.relations[0]!.unitBags['api/0']).toEqual({ k: 'v' });
    expect(model.relations[0]!.appBags['api']).toEqual({ a: 'b' });
    // Remote reads are cached for the rest of the hook, a new hook sees the commit.
    expect((await reader.run('relation-get', '-r', 'db:0', '--format=json', 'k', 'api/0')).stdout).toBe('null\n');
    const later = toolSession(model, 'pg/0');
    expect((await later.run('relation-get', '-r', 'db:0', 'k', 'api/0')).stdout).toBe('v\n');
  });

  test('[fidelity 27] a departed unit’s bag stays readable with -r and its name', async () => {
    const model = world();
    model.relations[0]!.unitBags['pg/1'] = { last: 'words' };
    const view = model.units['api/0']!.relations[0]!;
    view.joined = ['pg/0'];
    view.departed = ['pg/1'];
    const { run } = toolSession(model, 'api/0');
    expect((await run('relation-get', '-r', 'db:0', 'last', 'pg/1')).stdout).toBe('words\n');
    expect((await run('relation-list', '-r', 'db:0', '--format=json')).stdout).toBe('["pg/0"]\n');
  });

  test('reading a unit that never entered the relation fails with exit 1', async () => {
    const { run } = toolSession(world(), 'api/0');
    const result = await run('relation-get', '-r', 'db:0', '-', 'pg/7');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ERROR .*settings not found\n$/);
  });
});

describe('relation-set', () => {
  test('[fidelity 22] key= deletes the key; values are stored as strings, unchanged', async () => {
    const model = world();
    model.relations[0]!.unitBags['api/0'] = { old: 'x', keep: 'y' };
    const { run, session } = toolSession(model, 'api/0');
    expect(await run('relation-set', '-r', 'db:0', 'old=', 'n=007', 'j={"a": 1}', 'sp= spaced ')).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    session.commit();
    expect(model.relations[0]!.unitBags['api/0']).toEqual({ keep: 'y', n: '007', j: '{"a": 1}', sp: ' spaced ' });
  });

  test('[fidelity 23] --app by a non-leader: cannot write relation settings, exit 1, nothing pending', async () => {
    const model = world();
    const { run, session } = toolSession(model, 'api/1');
    expect(await run('relation-set', '-r', 'db:0', '--app', 'a=b')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'ERROR cannot write relation settings\n',
    });
    session.commit();
    expect(model.relations[0]!.appBags['api']).toBeUndefined();
  });

  test('--file - reads a YAML/JSON map from stdin; pairs override the file; --format warns', async () => {
    const model = world();
    const { runWithStdin, run, session } = toolSession(model, 'api/0');
    const result = await runWithStdin(
      '{"a": "1", "b": "from-file", "n": 5}',
      'relation-set',
      '-r',
      'db:0',
      '--file',
      '-',
      'b=arg',
    );
    expect(result.code).toBe(0);
    const warned = await run('relation-set', '-r', 'db:0', '--format=json', 'c=3');
    expect(warned.code).toBe(0);
    expect(warned.stderr).toBe('--format flag deprecated for command "relation-set"');
    session.commit();
    expect(model.relations[0]!.unitBags['api/0']).toEqual({ a: '1', b: 'arg', n: '5', c: '3' });
  });

  test('malformed pairs and duplicate keys exit 2', async () => {
    const { run } = toolSession(world(), 'api/0');
    expect(await run('relation-set', '-r', '0', 'foo')).toMatchObject({
      code: 2,
      stderr: 'ERROR expected "key=value", got "foo"\n',
    });
    expect(await run('relation-set', '-r', '0', 'a=1', 'a=2')).toMatchObject({
      code: 2,
      stderr: 'ERROR key "a" specified more than once\n',
    });
  });

  test('a no-op write bumps no version', async () => {
    const model = world();
    model.relations[0]!.unitBags['api/0'] = { a: '1' };
    model.relations[0]!.unitBagVersion['api/0'] = 4;
    const { run, session } = toolSession(model, 'api/0');
    await run('relation-set', '-r', '0', 'a=2');
    await run('relation-set', '-r', '0', 'a=1');
    session.commit();
    expect(model.relations[0]!.unitBagVersion['api/0']).toBe(4);
  });
});

describe('relation-ids', () => {
  test('[fidelity 14] sorted endpoint:id strings, [] when none, defaulting to the hook endpoint', async () => {
    const model = world();
    addApplication(model, 'pg2', { endpoints: { db: 'provides' } });
    relate(model, 'api:db', 'pg2:db'); // 2
    const { run } = toolSession(model, 'api/0');
    expect((await run('relation-ids', '--format=json', 'db')).stdout).toBe('["db:0","db:2"]\n');
    expect((await run('relation-ids', 'db')).stdout).toBe('db:0\ndb:2\n');
    expect((await run('relation-ids', '--format=json', 'nothing')).stdout).toBe('[]\n');
    expect(await run('relation-ids')).toMatchObject({ code: 2, stderr: 'ERROR no relation name specified\n' });
    const inHook = toolSession(model, 'api/0', relationEvent(model, 'api/0', 1, 'changed', 'api/1'));
    expect((await inHook.run('relation-ids', '--format=json')).stdout).toBe('["peers:1"]\n');
  });

  test('[fidelity 14] excludes dead relations and the relation being broken; -r still works in broken', async () => {
    const model = world();
    addApplication(model, 'pg2', { endpoints: { db: 'provides' } });
    relate(model, 'api:db', 'pg2:db'); // 2
    model.relations[2]!.life = 'dead';
    model.units['api/0']!.relations[0]!.broken = true;
    const { run } = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'broken'));
    expect((await run('relation-ids', '--format=json')).stdout).toBe('[]\n');
    expect((await run('relation-list', '-r', 'db:0', '--format=json')).stdout).toBe('[]\n');
  });
});

describe('relation-list', () => {
  test('[fidelity 15] lists joined remote units, never the local unit; peers list the other peers', async () => {
    const model = world();
    const { run } = toolSession(model, 'api/0');
    expect((await run('relation-list', '-r', 'db:0', '--format=json')).stdout).toBe('["pg/0","pg/1"]\n');
    expect((await run('relation-list', '-r', 'peers:1', '--format=json')).stdout).toBe('["api/1"]\n');
    model.units['api/0']!.relations[1]!.joined.push('api/0');
    expect((await run('relation-list', '-r', 'peers:1', '--format=json')).stdout).toBe('["api/1"]\n');
    expect((await run('relation-list', '-r', 'db:0', '--app', '--format=json')).stdout).toBe('"pg"\n');
  });

  test('[fidelity 15] empty in created and broken; the departing unit is gone in its departed hook', async () => {
    const model = world();
    const created = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'created'));
    expect((await created.run('relation-list', '--format=json')).stdout).toBe('[]\n');
    const departed = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'departed', 'pg/1'));
    expect((await departed.run('relation-list', '--format=json')).stdout).toBe('["pg/0"]\n');
    const broken = toolSession(model, 'api/0', relationEvent(model, 'api/0', 0, 'broken'));
    expect((await broken.run('relation-list', '--format=json')).stdout).toBe('[]\n');
  });
});
