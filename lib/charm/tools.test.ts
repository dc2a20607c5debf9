// HookTools against the fake Juju (lib/charm-testing): the fake parses the same argv the real
// tools get, so these tests cover argument building, output parsing and error mapping together.
// A recording pass-through runner is used only to look at the argv we sent.
import { existsSync } from 'node:fs';
import { type JujuActionContext, type JujuHookContext, readJujuContext } from './context.js';
import {
  AccessError,
  ArgvLimitError,
  HookToolError,
  NotInActionError,
  RelationNotFoundError,
  SecretNotFoundError,
  ToolUsageError,
} from './errors.js';
import { type HookToolRunner } from './runner.js';
import { flattenActionResults } from './action-results.js';
import { MAX_ARG_BYTES } from './argv-limits.js';
import { normaliseSecretId } from './secret-args.js';
import { HookTools } from './tools.js';
import { type CharmEvent } from '../charm-testing/events.js';
import { addApplication, fixtureModel, relate } from '../charm-testing/fixtures.js';
import { type Model, type Relation } from '../charm-testing/model.js';
import { createHookSession } from '../charm-testing/session.js';

// --- a small model: api (2 units, api/0 leader) related to store (1 unit), api peers -----------

/** A relation of api and store over `registration`, every unit bag already holding an address. */
function relateRegistration(model: Model): Relation {
  const relation = relate(model, 'api:registration', 'store:registration');
  withAddresses(relation);
  return relation;
}

function withAddresses(relation: Relation): void {
  for (const member of Object.keys(relation.unitBags)) {
    relation.unitBags[member] = { 'private-address': '10.1.2.3' };
    relation.unitBagVersion[member] = 1;
  }
}

function world() {
  const model = fixtureModel();
  const endpoints = (role: 'provides' | 'requires', name: string) => ({
    registration: { role, interface: 'turku', scope: 'global' as const },
    peers: { role: 'peers' as const, interface: `${name}-peers`, scope: 'global' as const },
  });
  const storage = { backups: { type: 'filesystem' as const, range: { min: 0, max: null } } };
  const api = addApplication(model, 'api', {
    units: 2,
    endpoints: endpoints('provides', 'api'),
    charm: {
      storage,
      config: {
        port: { type: 'int', default: 8443 },
        name: { type: 'string' },
        ratio: { type: 'float', default: 0.5 },
      },
    },
  });
  addApplication(model, 'store', { endpoints: endpoints('requires', 'store'), charm: { storage } });
  const registration = relateRegistration(model);
  const peers = relate(model, 'api:peers');
  withAddresses(peers);
  return { model, api, registration, peers };
}

interface Call {
  tool: string;
  args: readonly string[];
  stdin: string | undefined;
}

/** A hook on `unitName` with HookTools over the fake; `calls` records what was sent. */
function hook(
  model: Model,
  unitName: string,
  event: CharmEvent = { kind: 'hook', name: 'update-status' },
  now?: () => number,
) {
  const session = createHookSession(model, unitName, event);
  const calls: Call[] = [];
  const runner: HookToolRunner = {
    run: (tool, args, stdin) => {
      calls.push({ tool, args, stdin });
      return session.runner.run(tool, args, stdin);
    },
  };
  const context = readJujuContext(session.env) as JujuHookContext | JujuActionContext;
  const tools = new HookTools(runner, context, now ? { now } : {});
  return { tools, calls, session, context };
}

// --- relations ----------------------------------------------------------------------------------

describe('relations', () => {
  test('[fidelity 14] relation-ids: sorted endpoint:id list, [] when none; exact argv', async () => {
    const { model } = world();
    relateRegistration(model);
    const { tools, calls } = hook(model, 'api/0');
    expect(await tools.relationIds('registration')).toEqual(['registration:0', 'registration:2']);
    expect(await tools.relationIds('database')).toEqual([]);
    expect(calls[0]).toEqual({ tool: 'relation-ids', args: ['--format=json', 'registration'], stdin: undefined });
  });

  test('relation-ids and relation-list are cached for the hook', async () => {
    const { model } = world();
    const { tools } = hook(model, 'api/0');
    expect(await tools.relationList('registration:0')).toEqual(['store/0']);
    expect(await tools.relationIds('registration')).toEqual(['registration:0']);
    // Test code is omnipotent: change the model behind the hook's back.
    model.units['api/0']!.relations[0]!.joined = [];
    relateRegistration(model);
    expect(await tools.relationList('registration:0')).toEqual(['store/0']);
    expect(await tools.relationIds('registration')).toEqual(['registration:0']);
    const fresh = hook(model, 'api/0').tools;
    expect(await fresh.relationList('registration:0')).toEqual([]);
  });

  test('[fidelity 15] relation-list never lists the local unit; --app gives the remote application', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/1');
    expect(await tools.relationList('peers:1')).toEqual(['api/0']);
    expect(await tools.relationRemoteApp('registration:0')).toBe('store');
    expect(calls.map((call) => call.args)).toEqual([
      ['--format=json', '-r', 'peers:1'],
      ['--format=json', '-r', 'registration:0', '--app'],
    ]);
  });

  test('relation-get reads remote unit and app bags; -r ep:N and the target are always explicit', async () => {
    const { model, registration } = world();
    registration.appBags['store'] = { name: 'store-a' };
    registration.unitBags['store/0'] = { 'private-address': '10.1.2.12', host: 'store0' };
    const { tools, calls } = hook(model, 'api/0');
    expect(await tools.relationGet('registration:0', 'store/0')).toEqual({
      'private-address': '10.1.2.12',
      host: 'store0',
    });
    expect(await tools.relationGet('registration:0', 'store', { app: true })).toEqual({ name: 'store-a' });
    expect(calls.map((call) => call.args)).toEqual([
      ['--format=json', '-r', 'registration:0', '-', 'store/0'],
      ['--format=json', '-r', 'registration:0', '--app', '-', 'store'],
    ]);
  });

  test('remote bags are cached for the hook (a bare numeric id hits the same cache)', async () => {
    const { model, registration } = world();
    registration.unitBags['store/0'] = { host: 'old' };
    const { tools, calls } = hook(model, 'api/0');
    expect(await tools.relationGet('registration:0', 'store/0')).toEqual({ host: 'old' });
    registration.unitBags['store/0'] = { host: 'new' };
    expect(await tools.relationGet(0, 'store/0')).toEqual({ host: 'old' });
    expect(calls).toHaveLength(1);
  });

  test('[fidelity 25] relation-set sends a JSON object on stdin and own-bag reads see the write at once', async () => {
    const { model, registration } = world();
    const { tools, calls, session } = hook(model, 'api/0');
    expect(await tools.relationGet('registration:0', 'api', { app: true })).toEqual({});
    await tools.relationSet(
      'registration:0',
      { 'api-url': 'https://10.0.0.1:8443/', 'odd "value"': 'a b=c\n' },
      { app: true },
    );
    expect(calls[1]).toEqual({
      tool: 'relation-set',
      args: ['-r', 'registration:0', '--app', '--file', '-'],
      stdin: JSON.stringify({ 'api-url': 'https://10.0.0.1:8443/', 'odd "value"': 'a b=c\n' }),
    });
    // The own-bag cache was dropped: this read goes to the tool and sees the pending write.
    expect(await tools.relationGet('registration:0', 'api', { app: true })).toEqual({
      'api-url': 'https://10.0.0.1:8443/',
      'odd "value"': 'a b=c\n',
    });
    expect(registration.appBags['api']).toBeUndefined();
    session.commit();
    expect(registration.appBags['api']).toEqual({ 'api-url': 'https://10.0.0.1:8443/', 'odd "value"': 'a b=c\n' });
  });

  test('[fidelity 22] relation-set with "" deletes the key; unit bag writes keep the address keys', async () => {
    const { model, registration } = world();
    registration.unitBags['api/0'] = { 'private-address': '10.1.2.10', host: 'api0', stale: 'x' };
    const { tools, session } = hook(model, 'api/0');
    await tools.relationSet('registration:0', { stale: '', port: '8443' });
    expect(await tools.relationGet('registration:0', 'api/0')).toEqual({
      'private-address': '10.1.2.10',
      host: 'api0',
      port: '8443',
    });
    session.commit();
    expect(registration.unitBags['api/0']).toEqual({ 'private-address': '10.1.2.10', host: 'api0', port: '8443' });
  });

  test('relation-set rejects non-string values and empty keys before calling the tool', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/0');
    const bad = { port: 8443 } as unknown as Record<string, string>;
    await expect(tools.relationSet('registration:0', bad)).rejects.toThrow(
      'relation-set: value of "port" must be a string, got number',
    );
    await expect(tools.relationSet('registration:0', { '': 'x' })).rejects.toThrow('relation-set: empty key');
    expect(calls).toEqual([]);
  });

  test('[fidelity 23] relation-set --app by a non-leader is an AccessError', async () => {
    const { model } = world();
    const { tools } = hook(model, 'api/1');
    const failure = tools.relationSet('registration:0', { a: 'b' }, { app: true });
    await expect(failure).rejects.toBeInstanceOf(AccessError);
    await expect(failure).rejects.toMatchObject({
      message: 'ERROR cannot write relation settings',
      code: 1,
      tool: 'relation-set',
    });
  });

  test('[fidelity 24] a non-leader reading its own app bag: AccessError in a regular relation, allowed in a peer relation', async () => {
    const { model, peers } = world();
    peers.appBags['api'] = { shared: 'yes' };
    const { tools } = hook(model, 'api/1');
    await expect(tools.relationGet('registration:0', 'api', { app: true })).rejects.toThrow(
      new AccessError('relation-get', [], 1, '', '', 'ERROR permission denied'),
    );
    expect(await tools.relationGet('peers:1', 'api', { app: true })).toEqual({ shared: 'yes' });
  });

  test('[fidelity 10] an unknown relation id or a wrong endpoint prefix is a RelationNotFoundError', async () => {
    const { model } = world();
    const { tools } = hook(model, 'api/0');
    await expect(tools.relationList('registration:99')).rejects.toBeInstanceOf(RelationNotFoundError);
    await expect(tools.relationGet('peers:0', 'store/0')).rejects.toMatchObject({
      name: 'RelationNotFoundError',
      code: 2,
      message: 'ERROR invalid value "peers:0" for option -r: relation not found',
    });
  });

  test('[fidelity 27] a departed unit stays readable with -r and its name', async () => {
    const { model, registration } = world();
    registration.unitBags['store/0'] = { host: 'gone' };
    const view = model.units['api/0']!.relations[0]!;
    view.joined = [];
    view.departed = ['store/0'];
    const { tools } = hook(model, 'api/0');
    expect(await tools.relationList('registration:0')).toEqual([]);
    expect(await tools.relationGet('registration:0', 'store/0')).toEqual({ host: 'gone' });
  });
});

// --- config, status, version ------------------------------------------------------------------

describe('config and status', () => {
  test('[fidelity 13] config-get: typed values, unset options without default omitted; cached', async () => {
    const { model, api } = world();
    api.config = { ratio: 0.25 };
    const { tools, calls } = hook(model, 'api/0');
    expect(await tools.configGet()).toEqual({ port: 8443, ratio: 0.25 });
    api.config = { name: 'changed' };
    expect(await tools.configGet()).toEqual({ port: 8443, ratio: 0.25 });
    expect(calls).toEqual([{ tool: 'config-get', args: ['--format=json'], stdin: undefined }]);
  });

  test('status-set passes the message after "--" so it may start with "-"', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/0');
    await tools.statusSet('blocked', '-x is not a valid port');
    expect(calls[0]!.args).toEqual(['blocked', '--', '-x is not a valid port']);
    expect(model.units['api/0']!.workloadStatus).toMatchObject({
      status: 'blocked',
      message: '-x is not a valid port',
    });
    expect(await tools.statusGet()).toEqual({ status: 'blocked', message: '-x is not a valid port', data: {} });
  });

  test('[fidelity 16] status-set --application by a non-leader is an AccessError; the leader may', async () => {
    const { model, api } = world();
    await expect(hook(model, 'api/1').tools.statusSet('active', 'x', { application: true })).rejects.toMatchObject({
      name: 'AccessError',
      message: 'ERROR this unit is not the leader',
    });
    const leader = hook(model, 'api/0').tools;
    await leader.statusSet('waiting', 'for storage', { application: true });
    expect(api.status).toMatchObject({ status: 'waiting', message: 'for storage' });
    const appStatus = await leader.applicationStatusGet();
    expect(appStatus).toMatchObject({ status: 'waiting', message: 'for storage' });
    expect(Object.keys(appStatus.units).sort()).toEqual(['api/0', 'api/1']);
  });

  test('application-version-set', async () => {
    const { model, api } = world();
    await hook(model, 'api/0').tools.applicationVersionSet('1.2.3');
    expect(api.version).toBe('1.2.3');
  });

  test('[fidelity 9] a malformed argv is a ToolUsageError carrying the tool, args, exit 2 and the ERROR line', async () => {
    const { model } = world();
    const failure = hook(model, 'api/0').tools.run('config-get', ['--bogus']);
    await expect(failure).rejects.toBeInstanceOf(ToolUsageError);
    await expect(failure).rejects.toMatchObject({
      tool: 'config-get',
      args: ['--bogus'],
      code: 2,
      message: 'ERROR option provided but not defined: --bogus',
    });
  });
});

// --- actions and logging ----------------------------------------------------------------------

describe('actions and logging', () => {
  test('[fidelity 17] action tools outside an action are NotInActionError', async () => {
    const { model } = world();
    const { tools } = hook(model, 'api/0');
    await expect(tools.actionGet()).rejects.toBeInstanceOf(NotInActionError);
    await expect(tools.actionSet({ a: '1' })).rejects.toBeInstanceOf(NotInActionError);
    await expect(tools.actionLog('x')).rejects.toMatchObject({ message: 'ERROR not running an action', code: 1 });
    await expect(tools.actionFail('x')).rejects.toBeInstanceOf(NotInActionError);
  });

  test('action-get returns the params; action-set sends flattened dotted keys', async () => {
    const { model } = world();
    model.tasks['1'] = {
      id: '1',
      unit: 'api/0',
      name: 'backup-now',
      params: { tag: 'x', retries: 3 },
      status: 'pending',
      message: '',
      results: {},
      log: [],
    };
    const { tools, calls } = hook(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: '1' });
    expect(await tools.actionGet()).toEqual({ tag: 'x', retries: 3 });
    await tools.actionSet({ snapshot: { id: 'snap-1', size: 42 }, ok: true });
    expect(calls[1]!.args).toEqual(['snapshot.id=snap-1', 'snapshot.size=42', 'ok=true']);
    await tools.actionLog('-starting');
    expect(model.tasks['1'].log).toEqual(['-starting']);
  });

  test('flattenActionResults: nested maps to dotted keys, arrays as JSON, null skipped, bad keys refused', () => {
    expect(flattenActionResults({ a: { b: { c: 'd' } }, list: [1, 'x'], none: null, n: 0 })).toEqual([
      'a.b.c=d',
      'list=[1,"x"]',
      'n=0',
    ]);
    expect(() => flattenActionResults({ Bad: 'x' })).toThrow('action result key "Bad"');
    expect(() => flattenActionResults({ a: { b_c: 'x' } })).toThrow('action result key "a.b_c"');
    expect(() => flattenActionResults({ stdout: 'x' })).toThrow('action result key "stdout": "stdout" is reserved');
  });

  // Juju's action-set checks every dot-separated segment against the reserved names, not only
  // the first (jujuc/action-set.go, docs/charm-runtime.md).
  test.each([
    [{ a: { stdout: 'x' } }, 'a.stdout'],
    [{ a: { b: { stderr: 'x' } } }, 'a.b.stderr'],
    [{ 'stdout-encoding': { x: '1' } }, 'stdout-encoding'],
    [{ log: { 'stderr-encoding': 'utf8' } }, 'log.stderr-encoding'],
  ])('a reserved name is refused as any segment: %j', (results, key) => {
    expect(() => flattenActionResults(results)).toThrow(`action result key "${key}"`);
    expect(() => flattenActionResults(results)).toThrow('is reserved by Juju');
  });

  test('names that merely contain a reserved word are fine', () => {
    expect(flattenActionResults({ 'stdout-lines': { 'my-stderr': '1' } })).toEqual(['stdout-lines.my-stderr=1']);
  });
});

// --- the argv limits --------------------------------------------------------------------------

describe('argv limits (Linux MAX_ARG_STRLEN: 128 KiB per argument, NUL included)', () => {
  function actionHook() {
    const { model } = world();
    model.tasks['1'] = {
      id: '1',
      unit: 'api/0',
      name: 'backup-now',
      params: {},
      status: 'pending',
      message: '',
      results: {},
      log: [],
    };
    const { tools, calls } = hook(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: '1' });
    return { model, tools, calls };
  }

  test('an action result over the limit is refused before anything is set, naming the key', async () => {
    const { tools, calls } = actionHook();
    const big = 'x'.repeat(MAX_ARG_BYTES);
    const refused = tools.actionSet({ count: '3', sources: big });
    await expect(refused).rejects.toBeInstanceOf(ArgvLimitError);
    await expect(tools.actionSet({ count: '3', sources: big })).rejects.toThrow(
      /action result "sources" is \d+ bytes, over the 131072 Linux allows one argument; return a bounded result/,
    );
    expect(calls.filter((call) => call.tool === 'action-set')).toEqual([]);
  });

  test('the limit counts UTF-8 bytes and the NUL: the largest value that fits is sent', async () => {
    const { tools, calls } = actionHook();
    // `k=`, the value and the NUL: exactly 128 KiB.
    const value = 'x'.repeat(MAX_ARG_BYTES - 3);
    await tools.actionSet({ k: value });
    expect(calls.filter((call) => call.tool === 'action-set').map((call) => call.args)).toEqual([[`k=${value}`]]);
    // One byte more (an "é" is two bytes) is refused.
    await expect(tools.actionSet({ k: `${value.slice(1)}é` })).rejects.toBeInstanceOf(ArgvLimitError);
  });

  test('many results go out in several action-set calls, each far below ARG_MAX, all of them set', async () => {
    const { tools, calls } = actionHook();
    const results = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`part-${i}`, 'y'.repeat(20_000)]));
    await tools.actionSet(results);
    const sets = calls.filter((call) => call.tool === 'action-set');
    expect(sets.length).toBeGreaterThan(1);
    for (const call of sets) expect(call.args.join(' ').length).toBeLessThanOrEqual(256 * 1024);
    expect(sets.flatMap((call) => call.args)).toEqual(Object.entries(results).map(([k, v]) => `${k}=${v}`));
  });

  test('action-fail cuts a huge message (marked) so the failure still reaches Juju', async () => {
    const { tools, calls } = actionHook();
    await tools.actionFail(`restore failed: ${'z'.repeat(500_000)}`);
    const sent = calls.find((call) => call.tool === 'action-fail')!.args[1]!;
    expect(Buffer.byteLength(sent)).toBeLessThanOrEqual(16 * 1024);
    expect(sent).toMatch(/^restore failed: z+ \[\.\.\. truncated\]$/);
  });

  test('any other tool call with an argument over the limit throws ArgvLimitError without running', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/0');
    await expect(tools.statusSet('active', 'm'.repeat(MAX_ARG_BYTES))).rejects.toThrow(
      /^status-set: argument 3 is 131073 bytes; Linux refuses an argument over 131072 bytes \(MAX_ARG_STRLEN\)$/,
    );
    expect(calls).toEqual([]);
  });

  test('juju-log: level flag, "--" before the message, long messages split into chunks', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/0');
    await tools.jujuLog('-dash first', 'WARNING');
    expect(calls[0]!.args).toEqual(['--log-level', 'WARNING', '--', '-dash first']);
    await tools.jujuLog('x'.repeat(5000));
    const lines = model.logs.filter((entry) => entry.source === 'juju-log');
    expect(lines.map((entry) => [entry.level, entry.message.length])).toEqual([
      ['WARNING', 11],
      ['INFO', 4096],
      ['INFO', 904],
    ]);
  });
});

// --- leadership -------------------------------------------------------------------------------

describe('leadership', () => {
  test('is-leader is trusted for at most 30 s', async () => {
    const { model, api } = world();
    let now = 1_000_000;
    const { tools, calls } = hook(model, 'api/0', undefined, () => now);
    expect(await tools.isLeader()).toBe(true);
    api.leader = 'api/1';
    now += 29_000;
    expect(await tools.isLeader()).toBe(true);
    now += 2_000;
    expect(await tools.isLeader()).toBe(false);
    expect(calls.filter((call) => call.tool === 'is-leader')).toHaveLength(2);
    expect(calls[0]!.args).toEqual(['--format=json']);
  });

  test('a "not the leader" refusal drops the cached is-leader answer', async () => {
    const { model, api } = world();
    const { tools } = hook(model, 'api/0');
    expect(await tools.isLeader()).toBe(true);
    api.leader = 'api/1';
    await expect(tools.relationSet('registration:0', { a: 'b' }, { app: true })).rejects.toBeInstanceOf(AccessError);
    expect(await tools.isLeader()).toBe(false);
  });

  test('[fidelity 19] leader-set by a non-leader is an AccessError and changes nothing; leader-get by anyone', async () => {
    const { model, api } = world();
    await hook(model, 'api/0').tools.leaderSet({ token: 'abc' });
    expect(api.leaderSettings).toEqual({ token: 'abc' });
    const follower = hook(model, 'api/1').tools;
    await expect(follower.leaderSet({ token: 'evil' })).rejects.toBeInstanceOf(AccessError);
    expect(api.leaderSettings).toEqual({ token: 'abc' });
    expect(await follower.leaderGet()).toEqual({ token: 'abc' });
  });
});

// --- network, ports, state --------------------------------------------------------------------

describe('network, ports and state', () => {
  test('[fidelity 60] open-port is transactional: opened-ports shows committed ports only', async () => {
    const { model } = world();
    const first = hook(model, 'api/0');
    await first.tools.openPort(8443);
    await first.tools.openPort({ from: 1000, to: 2000, protocol: 'udp' });
    expect(first.calls.map((call) => call.args)).toEqual([['8443/tcp'], ['1000-2000/udp']]);
    expect(await first.tools.openedPorts()).toEqual([]);
    first.session.commit();
    const second = hook(model, 'api/0');
    expect((await second.tools.openedPorts()).sort()).toEqual(['1000-2000/udp', '8443/tcp']);
    await second.tools.closePort('1000-2000/udp');
    second.session.commit();
    expect(await hook(model, 'api/0').tools.openedPorts()).toEqual(['8443/tcp']);
  });

  test('unit-get and network-get return addresses (cached)', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/0');
    const address = await tools.unitGet('private-address');
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await tools.unitGet('private-address')).toBe(address);
    const network = await tools.networkGet('registration');
    expect(network['ingress-addresses']).toContain(address);
    expect(network['bind-addresses'][0]?.addresses[0]?.value).toBe(address);
    await tools.networkGet('registration');
    expect(calls.map((call) => call.tool)).toEqual(['unit-get', 'network-get']);
  });

  test("state-set via stdin, state-get sees the hook's writes, state-delete; committed at the end", async () => {
    const { model } = world();
    model.units['api/0']!.state = { old: '1' };
    const { tools, calls, session } = hook(model, 'api/0');
    await tools.stateSet({ 'last-backup': '2026-01-01', nested: '{"a":1}' });
    await tools.stateDelete('old');
    expect(calls[0]).toEqual({
      tool: 'state-set',
      args: ['--file', '-'],
      stdin: '{"last-backup":"2026-01-01","nested":"{\\"a\\":1}"}',
    });
    expect(await tools.stateGet()).toEqual({ 'last-backup': '2026-01-01', nested: '{"a":1}' });
    expect(model.units['api/0']!.state).toEqual({ old: '1' });
    session.commit();
    expect(model.units['api/0']!.state).toEqual({ 'last-backup': '2026-01-01', nested: '{"a":1}' });
  });
});

// --- secrets ----------------------------------------------------------------------------------

describe('secrets', () => {
  test('[fidelity 53] secret-add by the leader: URI usable at once, content never in argv, temp file removed', async () => {
    const { model } = world();
    const { tools, calls, session } = hook(model, 'api/0');
    const uri = await tools.secretAdd(
      { token: 'hunter2-very-secret' },
      { label: 'registration-0', description: 'agents' },
    );
    expect(uri).toMatch(/^secret:[0-9a-v]{20}$/);
    const add = calls[0]!;
    expect(add.args.slice(0, 4)).toEqual(['--label', 'registration-0', '--description', 'agents']);
    expect(add.args[4]).toBe('--file');
    expect(add.args.join(' ')).not.toContain('hunter2');
    expect(existsSync(add.args[5]!)).toBe(false);
    expect(await tools.secretGet({ id: uri })).toEqual({ token: 'hunter2-very-secret' });
    expect(Object.keys(model.secrets)).toEqual([]);
    session.commit();
    expect(Object.keys(model.secrets)).toEqual([normaliseSecretId(uri)]);
  });

  test('[fidelity 53] an application-owned secret-add by a non-leader is an AccessError', async () => {
    const { model } = world();
    await expect(hook(model, 'api/1').tools.secretAdd({ token: 'abc' })).rejects.toBeInstanceOf(AccessError);
  });

  test('secret-get of an unknown secret is a SecretNotFoundError; refresh with peek is refused', async () => {
    const { model } = world();
    const { tools } = hook(model, 'api/0');
    await expect(tools.secretGet({ id: 'secret:aaaaaaaaaaaaaaaaaaaa' })).rejects.toBeInstanceOf(SecretNotFoundError);
    await expect(tools.secretGet({ label: 'x' }, { refresh: true, peek: true })).rejects.toThrow(
      'use refresh or peek, not both',
    );
  });

  test('[fidelity 54] grant over the relation lets the remote unit read; secret-set makes a new revision', async () => {
    const { model } = world();
    const owner = hook(model, 'api/0');
    const uri = await owner.tools.secretAdd({ token: 'one' }, { label: 'reg' });
    await owner.tools.secretGrant(uri, 'registration:0');
    expect(owner.calls[1]!.args).toEqual(['-r', 'registration:0', uri]);
    owner.session.commit();

    const consumer = hook(model, 'store/0');
    expect(await consumer.tools.secretGet({ id: uri, label: 'registration' })).toEqual({ token: 'one' });
    expect(consumer.calls[0]!.args).toEqual([uri, '--label', 'registration', '--format=json']);
    consumer.session.commit();

    const rotate = hook(model, 'api/0');
    await rotate.tools.secretSet(uri, { content: { token: 'two' } });
    expect(rotate.calls[0]!.args.join(' ')).not.toContain('two');
    rotate.session.commit();
    const info = await hook(model, 'api/0').tools.secretInfoGet({ label: 'reg' });
    expect(info).toMatchObject({ id: normaliseSecretId(uri), revision: 2, label: 'reg', owner: 'application' });

    const later = hook(model, 'store/0').tools;
    expect(await later.secretGet({ label: 'registration' })).toEqual({ token: 'one' });
    expect(await later.secretGet({ label: 'registration' }, { refresh: true })).toEqual({ token: 'two' });
  });

  test('secret-ids lists owned secrets ([] when none); revoke and remove build their argv', async () => {
    const { model } = world();
    expect(await hook(model, 'api/0').tools.secretIds()).toEqual([]);
    const owner = hook(model, 'api/0');
    const uri = await owner.tools.secretAdd({ token: 'one' });
    await owner.tools.secretGrant(uri, 'registration:0');
    owner.session.commit();
    const ids = await hook(model, 'api/0').tools.secretIds();
    expect(ids.map(normaliseSecretId)).toEqual([normaliseSecretId(uri)]);
    const cleanup = hook(model, 'api/0');
    await cleanup.tools.secretRevoke(uri, { relation: 'registration:0' });
    await cleanup.tools.secretRemove(uri, { revision: 1 });
    expect(cleanup.calls.map((call) => call.args)).toEqual([
      [uri, '-r', 'registration:0'],
      [uri, '--revision', '1'],
    ]);
  });
});

// --- storage, goal state ----------------------------------------------------------------------

describe('storage and goal state', () => {
  test('[fidelity 20] storage-get without -s outside a storage hook is a ToolUsageError', async () => {
    const { model } = world();
    await expect(hook(model, 'api/0').tools.storageGet()).rejects.toMatchObject({
      name: 'ToolUsageError',
      message: 'ERROR no storage instance specified',
    });
  });

  test('storage-list, storage-get -s and storage-add', async () => {
    const { model } = world();
    model.storage['backups/0'] = {
      id: 'backups/0',
      name: 'backups',
      kind: 'filesystem',
      location: '/srv/backups/0',
      unit: 'api/0',
    };
    model.units['api/0']!.storage = ['backups/0'];
    const { tools, calls, session } = hook(model, 'api/0');
    expect(await tools.storageList()).toEqual(['backups/0']);
    expect(await tools.storageGet('backups/0')).toEqual({ kind: 'filesystem', location: '/srv/backups/0' });
    await tools.storageAdd({ backups: 2 });
    expect(calls.map((call) => call.args)).toEqual([
      ['--format=json'],
      ['--format=json', '-s', 'backups/0'],
      ['backups=2'],
    ]);
    await expect(tools.storageAdd({ backups: 0 })).rejects.toThrow('must be a positive integer');
    session.commit();
    expect(model.units['api/0']!.storage.length).toBeGreaterThanOrEqual(1);
  });

  test('goal-state lists the units and relations Juju intends (cached)', async () => {
    const { model } = world();
    const { tools, calls } = hook(model, 'api/0');
    const goal = await tools.goalState();
    expect(Object.keys(goal.units).sort()).toEqual(['api/0', 'api/1']);
    expect(Object.keys(goal.relations)).toContain('registration');
    await tools.goalState();
    expect(calls).toHaveLength(1);
  });
});

test('a HookToolError keeps the tool output for diagnosis', async () => {
  const { model } = world();
  const error = await hook(model, 'api/0')
    .tools.run('relation-get', ['-r', 'registration:0', '-', 'nobody/9'])
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HookToolError);
  expect(error).toMatchObject({ code: 1, stderr: expect.stringContaining('settings not found') });
});

// --- output parsing against canned tool output (shapes the fake never prints) --------------------

describe('tool output shapes', () => {
  const context = readJujuContext({
    JUJU_DISPATCH_PATH: 'hooks/update-status',
    JUJU_UNIT_NAME: 'api/0',
    JUJU_MODEL_NAME: 'm',
    JUJU_MODEL_UUID: 'u',
    JUJU_VERSION: '3.6.12',
  }) as JujuHookContext;

  /** HookTools whose every tool exits 0 printing `stdout`. */
  function printing(stdout: string): HookTools {
    return new HookTools({ run: () => Promise.resolve({ code: 0, stdout, stderr: '' }) }, context);
  }

  test('output of the wrong shape is a HookToolError naming the tool, the path and what was wrong', async () => {
    const error = await printing('"yes"')
      .isLeader()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookToolError);
    expect(error).toMatchObject({
      tool: 'is-leader',
      args: ['--format=json'],
      code: 0,
      stdout: '"yes"',
      message: 'ERROR is-leader printed unexpected output: (root): expected a boolean, got a string',
    });
  });

  test('text that is not JSON is a HookToolError too', async () => {
    await expect(printing('True\n').isLeader()).rejects.toMatchObject({
      tool: 'is-leader',
      message: 'ERROR is-leader printed invalid JSON',
    });
  });

  test('null or nothing is the empty answer where Juju prints it for "none", an error elsewhere', async () => {
    expect(await printing('null\n').relationIds('db')).toEqual([]);
    expect(await printing('').secretIds()).toEqual([]);
    expect(await printing('null').relationGet('db:1', 'store/0')).toEqual({});
    expect(await printing('null').configGet()).toEqual({});
    await expect(printing('null').unitGet('private-address')).rejects.toThrow(
      'ERROR unit-get printed unexpected output: (root): expected a string, got null',
    );
    await expect(printing('').isLeader()).rejects.toThrow('expected a boolean, got null');
  });

  test('nested errors are named by their dotted path', async () => {
    const appStatus = JSON.stringify({
      'application-status': { status: 'active', units: { 'api/0': { status: 3 } } },
    });
    await expect(printing(appStatus).applicationStatusGet()).rejects.toThrow(
      'application-status.units.api/0.status: expected a string, got a number',
    );
    await expect(printing('{"port": null}').configGet()).rejects.toThrow(
      'port: expected a string, number or boolean, got null',
    );
    await expect(
      printing('{"secret:abc": {"revision": "2", "owner": "application"}}').secretInfoGet({ id: 'abc' }),
    ).rejects.toThrow(
      'secret-info-get printed unexpected output: secret:abc.revision: expected a number, got a string',
    );
    await expect(printing('[["db:1"]]').relationIds('db')).rejects.toThrow('0: expected a string, got an array');
  });

  test('an error never quotes the output values (secret content)', async () => {
    const error = await printing('{"token": "s3cr3t", "n": 7}')
      .secretGet({ id: 'abc' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookToolError);
    expect((error as Error).message).toBe(
      'ERROR secret-get printed unexpected output: n: expected a string, got a number',
    );
    expect((error as Error).message).not.toContain('s3cr3t');
  });

  test('status-get: message and data default to empty; unknown keys are dropped', async () => {
    expect(await printing('{"status": "active", "extra": 1}').statusGet()).toEqual({
      status: 'active',
      message: '',
      data: {},
    });
    expect(
      await printing('{"application-status": {"status": "waiting", "message": "m"}}').applicationStatusGet(),
    ).toEqual({ status: 'waiting', message: 'm', data: {}, units: {} });
  });

  test('network-get: absent lists and names default to empty; unknown keys are dropped', async () => {
    const output = JSON.stringify({
      'bind-addresses': [{ addresses: [{ hostname: '', value: '10.0.0.5', cidr: '10.0.0.0/24', extra: 1 }] }],
      'egress-subnets': ['10.0.0.5/32'],
    });
    expect(await printing(output).networkGet('db')).toEqual({
      'bind-addresses': [
        {
          'mac-address': '',
          'interface-name': '',
          addresses: [{ hostname: '', value: '10.0.0.5', cidr: '10.0.0.0/24' }],
        },
      ],
      'egress-subnets': ['10.0.0.5/32'],
      'ingress-addresses': [],
    });
    await expect(printing('{"bind-addresses": [{"addresses": [{"value": "x"}]}]}').networkGet('db')).rejects.toThrow(
      'bind-addresses.0.addresses.0.hostname: expected a string, got nothing',
    );
  });

  test('goal-state: absent sections are empty; `since` only when printed', async () => {
    expect(await printing('{}').goalState()).toEqual({ units: {}, relations: {} });
    const goal = await printing(
      '{"units": {"api/0": {"status": "active"}}, "relations": {"db": {"store": {"status": "joined", "since": "t"}}}}',
    ).goalState();
    expect(goal).toEqual({
      units: { 'api/0': { status: 'active' } },
      relations: { db: { store: { status: 'joined', since: 't' } } },
    });
    expect(goal.units['api/0']).not.toHaveProperty('since');
  });

  test('secret-info-get keeps only the known fields that are present', async () => {
    const output = '{"secret:abc": {"revision": 2, "owner": "unit", "label": "reg", "other": true}}';
    const info = await printing(output).secretInfoGet({ label: 'reg' });
    expect(info).toStrictEqual({ id: 'secret:abc', revision: 2, owner: 'unit', label: 'reg' });
    await expect(printing('{}').secretInfoGet({ label: 'reg' })).rejects.toThrow('printed no secret');
  });

  test('storage-get: kind and location only', async () => {
    expect(await printing('{"kind": "block", "location": "/dev/sdb", "x": 1}').storageGet()).toStrictEqual({
      kind: 'block',
      location: '/dev/sdb',
    });
    await expect(printing('{"kind": "block"}').storageGet()).rejects.toThrow(
      'location: expected a string, got nothing',
    );
  });
});
