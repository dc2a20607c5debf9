import { jest } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CharmIo, type ToolResult } from '../charm/runner.js';
import { writeShellDispatch } from './fixtures.js';
import { type CharmMeta } from './model.js';
import { ToolServer } from './tool-server.js';
import {
  Context,
  InconsistentScenarioError,
  type RelationState,
  type ScenarioEvent,
  type State,
  events,
} from './scenario.js';

jest.setTimeout(60_000);

const meta: CharmMeta = {
  name: 'agent',
  subordinate: false,
  endpoints: {
    db: { role: 'requires', interface: 'pgsql', scope: 'global' },
    website: { role: 'provides', interface: 'http', scope: 'global' },
    peers: { role: 'peers', interface: 'agent-peer', scope: 'global' },
  },
  storage: { backups: { type: 'filesystem', location: '/srv/backups', range: { min: 0, max: null } } },
  config: {
    port: { type: 'int', default: 8080 },
    name: { type: 'string' },
    debug: { type: 'boolean', default: false },
  },
  actions: {
    'backup-now': {
      schema: {
        type: 'object',
        properties: { target: { type: 'string', default: 'local' }, retries: { type: 'integer' } },
        additionalProperties: true,
      },
      parallel: false,
    },
  },
};

/** A charm written as a script of tool calls; records every call's result for assertions. */
function charm(
  script: (io: CharmIo, call: (tool: string, args: string[], stdin?: string) => Promise<ToolResult>) => Promise<number>,
) {
  const results: { tool: string; result: ToolResult }[] = [];
  const envs: Record<string, string | undefined>[] = [];
  const context = new Context({
    meta,
    executor: {
      kind: 'in-process',
      run: async (io) => {
        envs.push({ ...io.env });
        const call = async (tool: string, args: string[], stdin?: string) => {
          const result = await io.runner.run(tool, args, stdin);
          results.push({ tool, result });
          return result;
        };
        return script(io, call);
      },
    },
  });
  return { context, results, envs };
}

const db = (): RelationState => ({
  id: 3,
  endpoint: 'db',
  remoteApp: 'postgres',
  remoteUnits: { 'postgres/0': { host: 'pg0' }, 'postgres/1': { host: 'pg1' } },
  remoteAppData: { database: 'turku' },
});

test('state in, state out: relation data, stored state, ports and status', async () => {
  const { context, results } = charm(async (_io, call) => {
    await call('relation-set', ['-r', 'db:3', '--file', '-'], '{"a":"1"}');
    await call('state-set', ['token=abc']);
    await call('status-set', ['active', 'ready']);
    await call('application-version-set', ['1.2.3']);
    return 0;
  });
  const state: State = { leader: true, relations: [db()], stored: { old: 'x' } };
  const out = await context.run(events.configChanged(), state);
  expect(results.map(({ result }) => result.code)).toEqual([0, 0, 0, 0]);
  expect(out.exitCode).toBe(0);
  expect(out.failed).toBe(false);
  const rel = out.state.relations?.find((relation) => relation.id === 3);
  expect(rel?.localUnitData).toEqual(expect.objectContaining({ a: '1' }));
  expect(rel?.remoteUnits?.['postgres/0']).toEqual(expect.objectContaining({ host: 'pg0' }));
  expect(rel?.remoteAppData).toEqual({ database: 'turku' });
  expect(out.state.stored).toEqual({ old: 'x', token: 'abc' });
  expect(out.state.unitStatus).toEqual({ status: 'active', message: 'ready' });
  expect(out.state.workloadVersion).toBe('1.2.3');
  expect(out.statusHistory.map((status) => status.status)).toEqual(['active']);
});

test('[fidelity 21] every unit bag holds the three address keys', async () => {
  const seen: string[] = [];
  const { context } = charm(async (_io, call) => {
    seen.push((await call('relation-get', ['--format=json', '-r', 'db:3', '-', 'postgres/1'])).stdout);
    seen.push((await call('relation-get', ['--format=json', '-r', 'db:3', '-', 'agent/0'])).stdout);
    return 0;
  });
  const out = await context.run(events.updateStatus(), { relations: [db()] });
  for (const text of seen) {
    expect(Object.keys(JSON.parse(text) as object)).toEqual(
      expect.arrayContaining(['private-address', 'ingress-address', 'egress-subnets']),
    );
  }
  expect(Object.keys(out.state.relations?.[0]?.localUnitData ?? {})).toEqual(
    expect.arrayContaining(['private-address', 'ingress-address', 'egress-subnets']),
  );
});

test('the input state is deep-frozen and never changed; the output is a new frozen state', async () => {
  const { context } = charm(async (_io, call) => {
    await call('relation-set', ['-r', 'db:3', 'a=1']);
    await call('state-set', ['k=v']);
    await call('status-set', ['blocked', 'no']);
    return 0;
  });
  const state: State = { relations: [db()], stored: {} };
  const snapshot = structuredClone(state);
  const out = await context.run(events.updateStatus(), state);
  expect(state).toEqual(snapshot);
  expect(Object.isFrozen(state)).toBe(true);
  expect(Object.isFrozen(state.relations?.[0]?.remoteUnits?.['postgres/0'])).toBe(true);
  expect(() => {
    (state as { leader?: boolean }).leader = true;
  }).toThrow(TypeError);
  expect(out.state).not.toBe(state);
  expect(Object.isFrozen(out.state.relations?.[0]?.localUnitData)).toBe(true);
  // The output of one run is a valid input of the next.
  const again = await context.run(events.updateStatus(), out.state);
  expect(again.state.stored).toEqual({ k: 'v' });
});

test('[fidelity 28] a failed hook rolls back relation data and state but keeps status, version, leader data and logs', async () => {
  const { context } = charm(async (_io, call) => {
    await call('relation-set', ['-r', 'db:3', 'a=1']);
    await call('state-set', ['k=v']);
    await call('status-set', ['maintenance', 'half way']);
    await call('application-version-set', ['9.9']);
    await call('leader-set', ['epoch=2']);
    await call('juju-log', ['about to fail']);
    return 1;
  });
  const state: State = {
    leader: true,
    relations: [db()],
    stored: { k: 'old' },
    ports: ['8080/tcp'],
    leaderData: { epoch: '1' },
  };
  const out = await context.run(events.configChanged(), state);
  expect(out.exitCode).toBe(1);
  expect(out.failed).toBe(true);
  expect(out.state.relations?.[0]?.localUnitData).not.toHaveProperty('a');
  expect(out.state.stored).toEqual({ k: 'old' });
  expect(out.state.ports).toEqual(['8080/tcp']);
  expect(out.state.unitStatus).toEqual({ status: 'maintenance', message: 'half way' });
  expect(out.state.workloadVersion).toBe('9.9');
  expect(out.state.leaderData).toEqual({ epoch: '2' });
  expect(out.logs.map((entry) => entry.message)).toContain('about to fail');
});

test('a charm that throws counts as exit 1 with the error on stderr, and is rolled back', async () => {
  const { context } = charm(async (_io, call) => {
    await call('state-set', ['k=v']);
    throw new Error('kaboom');
  });
  const out = await context.run(events.start(), {});
  expect(out.exitCode).toBe(1);
  expect(out.failed).toBe(true);
  expect(out.stderr).toContain('kaboom');
  expect(out.state.stored).toEqual({});
});

test('[fidelity 3] [fidelity 26] relationChanged without a remote unit is the application-level changed', async () => {
  const { context, results, envs } = charm(async (_io, call) => {
    await call('relation-get', ['--format=json', '-']);
    return 0;
  });
  const relation = db();
  await context.run(events.relationChanged(relation), { relations: [relation] });
  const env = envs[0] ?? {};
  expect(env).toHaveProperty('JUJU_REMOTE_UNIT', '');
  expect(env['JUJU_RELATION']).toBe('db');
  expect(env['JUJU_RELATION_ID']).toBe('db:3');
  expect(env['JUJU_REMOTE_APP']).toBe('postgres');
  expect(env['JUJU_HOOK_NAME']).toBe('db-relation-changed');
  expect(JSON.parse(results[0]?.result.stdout ?? '')).toEqual({ database: 'turku' });
});

// After a unit agent restart Juju does not reload a relation's remote application name, so
// relation-broken runs with JUJU_REMOTE_APP='' (worker/uniter/relation/statetracker.go).
test('[fidelity 3] relationBroken after an agent restart exports an empty JUJU_REMOTE_APP', async () => {
  const { context, results, envs } = charm(async (_io, call) => {
    await call('relation-ids', ['--format=json', 'db']);
    return 0;
  });
  const relation = db();
  const out = await context.run(events.relationBroken(relation, { afterAgentRestart: true }), {
    relations: [relation],
  });
  expect(out.exitCode).toBe(0);
  expect(envs[0]).toHaveProperty('JUJU_REMOTE_APP', '');
  expect(envs[0]).toHaveProperty('JUJU_REMOTE_UNIT', '');
  expect(results[0]?.result.stdout).toBe('[]\n');
  await context.run(events.relationBroken(relation), { relations: [relation] });
  expect(envs[1]).toHaveProperty('JUJU_REMOTE_APP', 'postgres');
});

test('relationChanged with a remote unit reads that unit and exports it', async () => {
  const { context, results, envs } = charm(async (_io, call) => {
    await call('relation-get', ['--format=json', 'host']);
    return 0;
  });
  const relation = db();
  await context.run(events.relationChanged(relation, 'postgres/1'), { relations: [relation] });
  expect(envs[0]?.['JUJU_REMOTE_UNIT']).toBe('postgres/1');
  expect(results[0]?.result.stdout.trim()).toBe('"pg1"');
});

test('[fidelity 4] [fidelity 15] relation-departed: departing unit and a relation-list without it', async () => {
  const { context, results, envs } = charm(async (_io, call) => {
    await call('relation-list', ['--format=json']);
    return 0;
  });
  const relation = db();
  await context.run(events.relationDeparted(relation, 'postgres/0'), { relations: [relation] });
  expect(envs[0]?.['JUJU_DEPARTING_UNIT']).toBe('postgres/0');
  expect(JSON.parse(results[0]?.result.stdout ?? '')).toEqual(['postgres/1']);
  await context.run(events.relationDeparted(relation, 'postgres/0', { departingUnit: 'agent/0' }), {
    relations: [relation],
  });
  expect(envs[1]?.['JUJU_DEPARTING_UNIT']).toBe('agent/0');
});

test('a departed unit stays readable by name', async () => {
  const { context, results } = charm(async (_io, call) => {
    await call('relation-get', ['-r', 'db:3', 'host', 'postgres/5']);
    return 0;
  });
  await context.run(events.updateStatus(), { relations: [{ ...db(), departed: { 'postgres/5': { host: 'gone' } } }] });
  expect(results[0]?.result).toEqual({ code: 0, stdout: 'gone\n', stderr: '' });
});

test("[fidelity 23] real tool errors: a non-leader writing the app bag exits 1 with Juju's text", async () => {
  const { context, results } = charm(async (_io, call) => {
    const result = await call('relation-set', ['-r', 'db:3', '--app', 'a=1']);
    return result.code;
  });
  const out = await context.run(events.updateStatus(), { leader: false, relations: [db()] });
  expect(results[0]?.result).toEqual({ code: 1, stdout: '', stderr: 'ERROR cannot write relation settings\n' });
  expect(out.exitCode).toBe(1);
  expect(out.failed).toBe(true);
});

test('peer relations declared in the meta exist even when the state leaves them out', async () => {
  const { context, results } = charm(async (_io, call) => {
    await call('relation-ids', ['--format=json', 'peers']);
    return 0;
  });
  const out = await context.run(events.updateStatus(), { relations: [db()] });
  const peer = out.state.relations?.find((relation) => relation.endpoint === 'peers');
  expect(peer?.id).toBe(0);
  expect(JSON.parse(results[0]?.result.stdout ?? '')).toEqual(['peers:0']);
});

test('storage events carry the storage id, location and kind', async () => {
  const { context, envs } = charm(() => Promise.resolve(0));
  const storage = { name: 'backups', index: 2 };
  const out = await context.run(events.storageAttached(storage), { storages: [storage] });
  expect(envs[0]).toMatchObject({
    JUJU_STORAGE_ID: 'backups/2',
    JUJU_STORAGE_LOCATION: '/srv/backups/backups/2',
    JUJU_STORAGE_KIND: 'filesystem',
    JUJU_HOOK_NAME: 'backups-storage-attached',
  });
  expect(out.state.storages).toEqual([{ name: 'backups', index: 2 }]);
});

test('secret-remove goes to the owner with the revision', async () => {
  const { context, envs } = charm(() => Promise.resolve(0));
  const secret = {
    owner: 'application' as const,
    label: 'registration',
    revisions: [
      { revision: 1, content: { token: 'a' } },
      { revision: 2, content: { token: 'b' } },
    ],
  };
  const out = await context.run(events.secretRemove(secret, 1), { leader: true, secrets: [secret] });
  expect(envs[0]?.['JUJU_SECRET_ID']).toMatch(/^secret:[0-9a-v]{20}$/);
  expect(envs[0]?.['JUJU_SECRET_LABEL']).toBe('registration');
  expect(envs[0]?.['JUJU_SECRET_REVISION']).toBe('1');
  expect(out.state.secrets?.[0]?.revisions.map((revision) => revision.revision)).toEqual([1, 2]);
});

test('[fidelity 52] action results hold action-set keys plus return-code and stdout; schema defaults apply', async () => {
  const { context, results, envs } = charm(async (io, call) => {
    const params = await call('action-get', ['--format=json']);
    await call('action-set', [`got=${params.stdout.trim()}`, 'nested.key=v']);
    await call('action-log', ['working']);
    io.stdout('hello\n');
    return 0;
  });
  const out = await context.run(events.action('backup-now', { retries: 2 }), {});
  expect(JSON.parse(results[0]?.result.stdout ?? '')).toEqual({ target: 'local', retries: 2 });
  expect(envs[0]).toMatchObject({
    JUJU_HOOK_NAME: '',
    JUJU_ACTION_NAME: 'backup-now',
    JUJU_DISPATCH_PATH: 'actions/backup-now',
  });
  expect(out.actionStatus).toBe('completed');
  expect(out.failed).toBe(false);
  expect(out.actionResults).toEqual({
    got: '{"retries":2,"target":"local"}',
    nested: { key: 'v' },
    'return-code': 0,
    stdout: 'hello\n',
  });
  expect(out.actionLogs).toEqual(['working']);
});

test('[fidelity 30] action-fail then exit 0 commits; a non-zero exit fails and rolls back', async () => {
  const failing = charm(async (_io, call) => {
    await call('state-set', ['k=v']);
    await call('action-fail', ['disk full']);
    return 0;
  });
  const soft = await failing.context.run(events.action('backup-now'), {});
  expect(soft.actionStatus).toBe('failed');
  expect(soft.actionMessage).toBe('disk full');
  expect(soft.failed).toBe(true);
  expect(soft.state.stored).toEqual({ k: 'v' });

  const crashing = charm(async (_io, call) => {
    await call('state-set', ['k=v']);
    return 3;
  });
  const hard = await crashing.context.run(events.action('backup-now'), {});
  expect(hard.actionStatus).toBe('failed');
  expect(hard.actionMessage).toBe('exit status 3');
  expect(hard.actionResults?.['return-code']).toBe(3);
  expect(hard.state.stored).toEqual({});
});

describe('the consistency checker rejects impossible inputs before running the charm', () => {
  let ran = 0;
  const { context } = charm(() => {
    ran += 1;
    return Promise.resolve(0);
  });
  const relation = db();
  const cases: [string, ScenarioEvent, State, RegExp][] = [
    [
      'unknown endpoint',
      events.updateStatus(),
      { relations: [{ endpoint: 'nope', remoteApp: 'x' }] },
      /endpoint "nope" is not declared/,
    ],
    [
      'relation event for a relation not in the state',
      events.relationChanged(relation, 'postgres/0'),
      {},
      /not in the state/,
    ],
    [
      'joined without a remote unit',
      events.relationJoined(relation, ''),
      { relations: [relation] },
      /needs a remote unit/,
    ],
    [
      'joined unit not among remote units',
      events.relationJoined(relation, 'postgres/7'),
      { relations: [relation] },
      /"postgres\/7" is not among/,
    ],
    ['config key not in the config', events.configChanged(), { config: { bogus: 'x' } }, /"bogus" is not declared/],
    ['config value of the wrong type', events.configChanged(), { config: { port: 'eighty' } }, /"port" is of type int/],
    ['int config given a float', events.configChanged(), { config: { port: 80.5 } }, /"port" is of type int/],
    ['undeclared action', events.action('restore'), {}, /action "restore" is not declared/],
    [
      'action param of the wrong JSON type',
      events.action('backup-now', { retries: 'two' }),
      {},
      /action "backup-now": validation failed/,
    ],
    [
      'appStatus on a non-leader',
      events.updateStatus(),
      { leader: false, appStatus: { status: 'active' } },
      /not the leader/,
    ],
    ['leader-elected on a non-leader', events.leaderElected(), { leader: false }, /only on the leader/],
    [
      'non-peer relation without remote app',
      events.updateStatus(),
      { relations: [{ endpoint: 'db' }] },
      /remoteApp is required/,
    ],
    [
      'remote unit of another application',
      events.updateStatus(),
      { relations: [{ endpoint: 'db', remoteApp: 'pg', remoteUnits: { 'mysql/0': {} } }] },
      /not a unit of "pg"/,
    ],
    [
      'duplicate relation ids',
      events.updateStatus(),
      { relations: [{ ...db() }, { ...db(), endpoint: 'website', remoteApp: 'web' }] },
      /used twice/,
    ],
    [
      'storage not declared',
      events.updateStatus(),
      { storages: [{ name: 'cache' }] },
      /storage "cache" is not declared/,
    ],
    [
      'secret event for a secret not in the state',
      events.secretChanged({ owner: 'unit', revisions: [{ revision: 1, content: {} }] }),
      {},
      /not in the state/,
    ],
  ];
  test.each(cases)('%s', async (_name, event, state, message) => {
    const before = ran;
    const error: unknown = await context.run(event, state).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(InconsistentScenarioError);
    expect((error as Error).message).toMatch(message);
    expect(ran).toBe(before);
  });

  test('secret-changed for a secret this unit owns', async () => {
    const secret = { owner: 'unit' as const, revisions: [{ revision: 1, content: {} }] };
    await expect(context.run(events.secretChanged(secret), { secrets: [secret] })).rejects.toThrow(
      /this unit owns the secret/,
    );
    const appOwned = { ...secret, owner: 'application' as const, tracked: 1 };
    await expect(context.run(events.secretChanged(appOwned), { leader: true, secrets: [appOwned] })).rejects.toThrow(
      /this unit owns the secret/,
    );
    // A non-leader of the owning application tracks it like a consumer (Juju 3.1.7+).
    const before = ran;
    await context.run(events.secretChanged(appOwned), { leader: false, secrets: [appOwned] });
    expect(ran).toBe(before + 1);
  });

  test('only relation-broken may have an unknown remote application', async () => {
    const event: ScenarioEvent = { ...events.relationChanged(relation), remoteAppUnknown: true } as ScenarioEvent;
    await expect(context.run(event, { relations: [relation] })).rejects.toThrow(
      /relation-changed always names the remote application/,
    );
  });

  test('a consistent state passes', async () => {
    const before = ran;
    await context.run(events.relationJoined(relation, 'postgres/1'), {
      leader: true,
      relations: [relation],
      config: { port: 80, debug: true },
    });
    expect(ran).toBe(before + 1);
  });
});

test('a real `dispatch` process runs through the tool server; its failure rolls back but keeps the status', async () => {
  const server = await ToolServer.start();
  const charmDir = await mkdtemp(join(tmpdir(), 'charm-'));
  try {
    const dispatch = await writeShellDispatch(charmDir, [
      'relation-set -r db:3 written=yes',
      'status-set blocked "cannot reach $(relation-get -r db:3 host postgres/0)"',
      'exit 4',
    ]);
    const context = new Context({ meta, executor: { kind: 'process', dispatch, charmDir }, toolServer: server });
    const out = await context.run(events.updateStatus(), { relations: [db()] });
    expect(out.exitCode).toBe(4);
    expect(out.failed).toBe(true);
    expect(out.env['JUJU_CHARM_DIR']).toBe(charmDir);
    expect(out.state.unitStatus).toEqual({ status: 'blocked', message: 'cannot reach pg0' });
    expect(out.state.relations?.find((relation) => relation.id === 3)?.localUnitData).not.toHaveProperty('written');
  } finally {
    await server.close();
    await rm(charmDir, { recursive: true, force: true });
  }
});
