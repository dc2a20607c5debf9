// The turku-api charm through the Juju fake (one unit per Context run), with the real workload:
// `turku-api serve` runs supervised in the unit's machine root and answers HTTP, registration
// credentials shared over the relations really register a storage and a machine.
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { readFile, stat } from 'node:fs/promises';

import { stopService } from '../../../lib/charm-host/index.js';
import { type Context, type RelationState, type State, events } from '../../../lib/charm-testing/scenario.js';
import { writeStorageUnit } from '../../../lib/charm-interfaces/index.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { freePort } from '../../../tests/support/processes.js';
import { apiCharmContext } from './__tests__/charm-context.js';

jest.setTimeout(60_000);

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE_SECRET = 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4';

let roots: MachineRoots;
let ctx: Context;
let port: number;

beforeEach(async () => {
  roots = await new MachineRoots().init();
  ctx = apiCharmContext(() => roots);
  port = await freePort();
});
afterEach(() => roots.cleanup());

const url = (view: string) => `http://127.0.0.1:${port}/v1/${view}`;

async function health(at = port): Promise<{ healthy: boolean; counts: Record<string, number> } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${at}/v1/health`, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as { healthy: boolean; counts: Record<string, number> };
  } catch {
    return undefined;
  }
}

async function post(view: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url(view), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json().catch(() => undefined) };
}

const storageBag = (name: string, availableMib = 512_000) =>
  writeStorageUnit({
    'storage-name': name,
    'ssh-host': `${name}.example.com`,
    'ssh-port': 22,
    'ssh-user': 'turku-ping',
    'ssh-host-keys': [KEY],
    'space-total-mib': 953_869,
    'space-available-mib': availableMib,
  });

function registerStorage(auth: { name: string; secret: string }) {
  return post('storage_update_config', {
    auth,
    storage: {
      name: 'primary',
      secret: STORAGE_SECRET,
      ssh_ping_host: 'primary.example.com',
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
      ssh_ping_host_keys: [KEY],
      space_total: 953_869,
      space_available: 512_000,
    },
  });
}

function registerMachine(auth: { name: string; secret: string }) {
  return post('update_config', {
    auth,
    machine: {
      uuid: UUID,
      secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
      unit_name: 'ubuntu/0',
      ssh_public_key: KEY,
      sources: { etc: { path: '/etc' } },
    },
  });
}

function credentialOf(state: State, label: string): { name: string; secret: string; type: string; id: string } {
  const secret = state.secrets?.find((candidate) => candidate.label === label);
  if (secret === undefined) throw new Error(`no secret labelled ${label}`);
  const content = secret.revisions.at(-1)!.content;
  return { name: content['auth-name']!, secret: content['auth-secret']!, type: content['auth-type']!, id: secret.id! };
}

const relation = (state: State, endpoint: string, id?: number): RelationState =>
  state.relations!.find((candidate) => candidate.endpoint === endpoint && (id === undefined || candidate.id === id))!;

describe('install and config', () => {
  test('install serves the API on SQLite, opens the port, and moves it when the port changes', async () => {
    const out = await ctx.run(events.install(), { leader: true, config: { port } });
    expect(out.exitCode).toBe(0);
    expect(out.state.unitStatus).toEqual({
      status: 'active',
      message: `http://10.1.0.10:${port}/v1 (SQLite); 0 machines; no storages related`,
    });
    expect(out.state.ports).toEqual([`${port}/tcp`]);
    expect(await health()).toMatchObject({ healthy: true, counts: { machine: 0 } });
    const settings = JSON.parse(await readFile(roots.path('0', '/etc/turku-api/config.json'), 'utf8')) as object;
    expect(settings).toEqual({
      listen: `0.0.0.0:${port}`,
      database_path: roots.path('0', '/var/lib/turku-api/turku-api.db'),
      log_level: 'info',
    });
    expect((await stat(roots.path('0', '/var/lib/turku-api/turku-api.db'))).isFile()).toBe(true);
    expect(await readFile(roots.path('0', '/usr/local/bin/turku-api'), 'utf8')).toContain('lib/api/main.js');
    // The service runs with its small young generation (docs/api.md, "Memory").
    const pid = (await readFile(roots.path('0', '/run/turku-api.pid'), 'utf8')).trim();
    expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')).toContain('--max-semi-space-size=16');

    const old = port;
    port = await freePort();
    const moved = await ctx.run(events.configChanged(), { ...out.state, config: { port, 'log-level': 'debug' } });
    expect(moved.state.ports).toEqual([`${port}/tcp`]);
    expect(await health()).toMatchObject({ healthy: true });
    expect(await health(old)).toBeUndefined();

    // The unit going away stops its API.
    const stopped = await ctx.run(events.stop(), moved.state);
    expect(stopped.exitCode).toBe(0);
    expect(await health()).toBeUndefined();
  });

  test.each([
    [{ port: 0 }, 'invalid config: port: expected a port 1-65535'],
    [{ 'external-url': 'ftp://turku.example.com' }, 'invalid config: external-url: expected an http(s) URL'],
    [{ 'log-level': 'loud' }, 'invalid config: log-level: expected one of debug, info, warning, error'],
  ])('bad config %j is a blocked status naming the key, and nothing is served', async (config, message) => {
    const out = await ctx.run(events.configChanged(), { leader: true, config: { port, ...config } });
    expect(out.exitCode).toBe(0);
    expect(out.state.unitStatus?.status).toBe('blocked');
    expect(out.state.unitStatus?.message).toContain(message);
    expect(await health()).toBeUndefined();
  });
});

describe('agents and storages relations', () => {
  const withRelations = (): State => ({
    leader: true,
    config: { port, 'external-url': `http://127.0.0.1:${port}/v1` },
    relations: [
      { id: 3, endpoint: 'agents', remoteApp: 'ubuntu-agent', remoteEndpoint: 'turku-api' },
      {
        id: 4,
        endpoint: 'storages',
        remoteApp: 'turku-storage',
        remoteEndpoint: 'turku-api',
        remoteUnits: { 'turku-storage/0': storageBag('primary'), 'turku-storage/1': {} },
      },
    ],
  });

  test('the leader shares one credential per relation as a granted secret, and it registers', async () => {
    const first = await ctx.run(
      events.relationChanged(withRelations().relations![1]!, 'turku-storage/0'),
      withRelations(),
    );
    expect(first.exitCode).toBe(0);
    const agents = credentialOf(first.state as State, 'agents-registration-3');
    const storages = credentialOf(first.state as State, 'storages-registration-4');
    expect(agents).toMatchObject({ name: 'juju agents:3', type: 'machine_reg' });
    expect(storages).toMatchObject({ name: 'juju storages:4', type: 'storage_reg' });
    expect(agents.secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(relation(first.state as State, 'agents').localAppData).toEqual({
      'api-url': `http://127.0.0.1:${port}/v1`,
      'secret-id': `secret:${agents.id}`,
    });
    expect(relation(first.state as State, 'storages').localAppData).toEqual({
      'api-url': `http://127.0.0.1:${port}/v1`,
      'secret-id': `secret:${storages.id}`,
    });
    const grants = (label: string) => first.state.secrets!.find((secret) => secret.label === label)!.grants;
    expect(grants('agents-registration-3')).toEqual([{ relationId: 3, app: 'ubuntu-agent' }]);
    expect(grants('storages-registration-4')).toEqual([{ relationId: 4, app: 'turku-storage' }]);
    expect(relation(first.state as State, 'turku-peers').localAppData).toEqual({
      'registration-secret-ids': JSON.stringify([`secret:${agents.id}`, `secret:${storages.id}`].sort()),
    });
    // No credential in relation data or logs.
    expect(JSON.stringify(first.state.relations)).not.toContain(agents.secret);
    expect(JSON.stringify(first.logs)).not.toContain(agents.secret);
    expect(first.state.unitStatus?.message).toBe(
      `http://127.0.0.1:${port}/v1 (SQLite); 0 machines; storages: primary 500 GiB free`,
    );

    // The credentials work at the real API, each for its own kind only.
    expect((await registerMachine(storages)).status).toBe(403);
    expect((await registerStorage({ name: storages.name, secret: storages.secret })).status).toBe(200);
    expect((await registerMachine({ name: agents.name, secret: agents.secret })).status).toBe(200);

    // The next hook keeps the same secrets and shows the machine; a storage unit's bad data is
    // reported in the status, not a failed hook.
    const bad = { ...withRelations(), secrets: first.state.secrets as NonNullable<State['secrets']> };
    bad.relations![1]!.remoteUnits!['turku-storage/1'] = { ...storageBag('secondary'), 'ssh-port': 'twenty-two' };
    const again = await ctx.run(events.updateStatus(), { ...first.state, relations: bad.relations } as State);
    expect(again.exitCode).toBe(0);
    expect(again.state.secrets!.map((secret) => secret.id)).toEqual(first.state.secrets!.map((secret) => secret.id));
    expect(again.state.unitStatus).toEqual({
      status: 'active',
      message: `http://127.0.0.1:${port}/v1 (SQLite); 1 machines; storages: primary 500 GiB free; bad data from turku-storage/1 (ssh-port: expected JSON text)`,
    });
  });

  // afterAgentRestart: Juju exports JUJU_REMOTE_APP='' then (docs/charm-runtime.md).
  test.each([false, true])(
    'relation-broken removes that relation secret and deactivates its credential (after an agent restart: %s)',
    async (afterAgentRestart) => {
      const first = await ctx.run(events.install(), withRelations());
      const agents = credentialOf(first.state as State, 'agents-registration-3');
      const storages = credentialOf(first.state as State, 'storages-registration-4');
      expect((await registerStorage(storages)).status).toBe(200);
      const broken = await ctx.run(
        events.relationBroken(relation(first.state as State, 'agents'), { afterAgentRestart }),
        first.state,
      );
      expect(broken.exitCode).toBe(0);
      expect(broken.state.secrets!.map((secret) => secret.label)).toEqual(['storages-registration-4']);
      expect(relation(broken.state as State, 'turku-peers').localAppData).toEqual({
        'registration-secret-ids': JSON.stringify([`secret:${storages.id}`]),
      });
      expect((await registerMachine(agents)).status).toBe(403);
    },
  );

  // Juju 3.1.7+: the owner reads the revision it tracks unless it passes --refresh. A leader that
  // read its secret without it would read the bad revision back after every repair and rotate the
  // credential again in every hook.
  test('a repaired secret is read back with --refresh: one new revision, tracked, and no rotation after', async () => {
    const first = await ctx.run(events.install(), withRelations());
    const edited = first.state.secrets!.map((secret) =>
      secret.label === 'agents-registration-3'
        ? { ...secret, revisions: [{ revision: 1, content: { 'auth-name': 'edited by hand' } }], tracked: 1 }
        : secret,
    );
    const repaired = await ctx.run(events.updateStatus(), { ...first.state, secrets: edited });
    expect(repaired.exitCode).toBe(0);
    const secret = repaired.state.secrets!.find((candidate) => candidate.label === 'agents-registration-3')!;
    expect(secret.revisions.map((revision) => revision.revision)).toEqual([1, 2]);
    expect(secret.tracked).toBe(2);
    // The API got the new credential: a machine registers with it (once a storage exists).
    const agents = credentialOf(repaired.state as State, 'agents-registration-3');
    expect((await registerStorage(credentialOf(repaired.state as State, 'storages-registration-4'))).status).toBe(200);
    expect((await registerMachine(agents)).status).toBe(200);

    const next = await ctx.run(events.updateStatus(), repaired.state);
    expect(next.exitCode).toBe(0);
    const after = next.state.secrets!.find((candidate) => candidate.label === 'agents-registration-3')!;
    expect(after.revisions.map((revision) => revision.revision)).toEqual([1, 2]);
    expect(credentialOf(next.state as State, 'agents-registration-3')).toEqual(agents);
  });

  test('a leader that tracks an old revision reads the latest one (--refresh), and keeps it', async () => {
    const first = await ctx.run(events.install(), withRelations());
    const agents = credentialOf(first.state as State, 'agents-registration-3');
    // Revision 2 was written by another leader; this unit last read the (now bad) revision 1.
    const moved = first.state.secrets!.map((secret) =>
      secret.label === 'agents-registration-3'
        ? {
            ...secret,
            revisions: [
              { revision: 1, content: { 'auth-name': 'stale' } },
              { revision: 2, content: secret.revisions[0]!.content },
            ],
            tracked: 1,
          }
        : secret,
    );
    const out = await ctx.run(events.leaderElected(), { ...first.state, secrets: moved });
    expect(out.exitCode).toBe(0);
    const secret = out.state.secrets!.find((candidate) => candidate.label === 'agents-registration-3')!;
    expect(secret.revisions.map((revision) => revision.revision)).toEqual([1, 2]);
    expect(secret.tracked).toBe(2);
    expect(credentialOf(out.state as State, 'agents-registration-3')).toEqual(agents);
  });

  test('a new leader reuses the secrets it finds by label and puts them in its own database', async () => {
    const first = await ctx.run(events.install(), withRelations());
    const agents = credentialOf(first.state as State, 'agents-registration-3');
    // Another machine (a fresh SQLite) becomes leader with the application's secrets.
    await roots.cleanup();
    roots = await new MachineRoots().init();
    const next = await ctx.run(events.leaderElected(), {
      ...withRelations(),
      secrets: first.state.secrets as NonNullable<State['secrets']>,
    });
    expect(next.exitCode).toBe(0);
    expect(next.state.secrets!.map((secret) => secret.id).sort()).toEqual(
      first.state.secrets!.map((secret) => secret.id).sort(),
    );
    expect(next.state.secrets!.every((secret) => secret.revisions.length === 1)).toBe(true);
    expect((await registerStorage(credentialOf(next.state as State, 'storages-registration-4'))).status).toBe(200);
    expect((await registerMachine(agents)).status).toBe(200);
  });

  test('a non-leader creates no secrets and writes no application bag; with a second unit and no database it stops serving', async () => {
    const state: State = {
      ...withRelations(),
      leader: false,
      relations: [...withRelations().relations!, { endpoint: 'turku-peers', remoteUnits: { 'turku-api/1': {} } }],
    };
    const out = await ctx.run(events.configChanged(), state);
    expect(out.exitCode).toBe(0);
    expect(out.state.secrets ?? []).toEqual([]);
    expect(relation(out.state as State, 'agents').localAppData ?? {}).toEqual({});
    expect(out.state.unitStatus).toEqual({
      status: 'blocked',
      message:
        '2 units need a shared database: integrate with postgresql (database endpoint); this unit does not serve until then',
    });
    expect(out.state.ports).toEqual([]);
    expect(await health()).toBeUndefined();
    const action = await ctx.run(events.action('list-machines'), out.state);
    expect(action.actionStatus).toBe('failed');
    expect(action.actionMessage).toBe(
      'turku-api/0 does not serve the API (see its status); run the action on a unit that does',
    );

    // The leader in the same model keeps serving its SQLite data but says the same, and hands out
    // no new credential: what registered now would stay behind in SQLite once the database comes.
    const leader = await ctx.run(events.configChanged(), { ...state, leader: true });
    expect(leader.state.unitStatus).toEqual({
      status: 'blocked',
      message: '2 units need a shared database: integrate with postgresql (database endpoint)',
    });
    expect(await health()).toMatchObject({ healthy: true });
    expect(leader.state.secrets ?? []).toEqual([]);
    expect(relation(leader.state as State, 'agents').localAppData ?? {}).toEqual({});
  });

  test('a non-leader ensures the credentials the leader lists in the peer bag', async () => {
    const first = await ctx.run(events.install(), withRelations());
    const storages = credentialOf(first.state as State, 'storages-registration-4');
    await roots.cleanup();
    roots = await new MachineRoots().init();
    const peers = relation(first.state as State, 'turku-peers');
    const out = await ctx.run(events.configChanged(), {
      ...withRelations(),
      leader: false,
      secrets: first.state.secrets as NonNullable<State['secrets']>,
      relations: [...withRelations().relations!, { ...peers, localUnitData: {} }],
    });
    expect(out.exitCode).toBe(0);
    expect(out.state.secrets!.length).toBe(2);
    expect((await registerStorage(storages)).status).toBe(200);
  });
});

describe('actions', () => {
  /** A serving leader with a registered storage (related as turku-storage/0) and machine. */
  async function deployed(): Promise<State> {
    const state: State = {
      leader: true,
      config: { port },
      relations: [
        {
          id: 4,
          endpoint: 'storages',
          remoteApp: 'turku-storage',
          remoteUnits: { 'turku-storage/0': storageBag('primary', 1024) },
        },
      ],
    };
    const out = await ctx.run(events.install(), state);
    // The API answers before the hook ends (a slow start shows here with its log's last line).
    expect(out.state.unitStatus?.message).toMatch(/^http:.*; 0 machines; storages: primary/);
    const storages = credentialOf(out.state as State, 'storages-registration-4');
    expect((await registerStorage(storages)).status).toBe(200);
    const machineReg = await ctx.run(events.action('create-registration', { type: 'machine_reg' }), out.state);
    expect(machineReg.actionStatus).toBe('completed');
    expect(machineReg.actionResults).toMatchObject({ name: 'Machine Registrations', type: 'machine_reg' });
    const secret = machineReg.actionResults!['secret'] as string;
    expect(secret).toMatch(/^[A-Za-z0-9]{30}$/);
    expect((await registerMachine({ name: 'Machine Registrations', secret })).status).toBe(200);
    return out.state as State;
  }

  const run = async (state: State, name: string, params: Record<string, unknown> = {}) => {
    const out = await ctx.run(events.action(name, params), state);
    return { status: out.actionStatus, message: out.actionMessage, results: out.actionResults ?? {} };
  };

  test('each action succeeds on a serving unit and refuses with the command line one', async () => {
    const state = await deployed();

    expect(await run(state, 'create-registration', { type: 'storage_reg', name: 'rack 4' })).toMatchObject({
      status: 'completed',
      results: { name: 'rack 4', type: 'storage_reg', secret: expect.stringMatching(/^[A-Za-z0-9]{30}$/) },
    });
    expect(await run(state, 'create-registration', { type: 'storage_reg', name: 'rack 4' })).toMatchObject({
      status: 'failed',
      message: 'turku-api: a registration credential named "rack 4" already exists',
    });

    const machines = await run(state, 'list-machines');
    expect(machines.status).toBe('completed');
    expect(machines.results['count']).toBe('1');
    expect(JSON.parse(machines.results['machines'] as string)).toEqual([
      expect.objectContaining({ uuid: UUID, unit_name: 'ubuntu/0', storage: 'primary', sources: 1 }),
    ]);

    const sources = await run(state, 'list-sources', { machine: UUID });
    expect(JSON.parse(sources.results['sources'] as string)).toEqual([
      expect.objectContaining({ machine: UUID, name: 'etc', path: '/etc' }),
    ]);
    expect((await run(state, 'list-sources')).results['count']).toBe('1');
    expect(await run(state, 'list-sources', { machine: 'nope' })).toMatchObject({
      status: 'failed',
      message: 'turku-api: "nope" is not a machine UUID',
    });

    // The registered storage merged with what the relation reports; a storage only related is listed too.
    const related = await run(
      {
        ...state,
        relations: [
          {
            ...relation(state, 'storages'),
            remoteUnits: { 'turku-storage/0': storageBag('primary', 1024), 'turku-storage/1': storageBag('secondary') },
          },
        ],
      },
      'list-storages',
    );
    expect(related.status).toBe('completed');
    expect(JSON.parse(related.results['storages'] as string)).toEqual([
      expect.objectContaining({
        name: 'primary',
        registered: true,
        unit: 'turku-storage/0',
        machines: 1,
        healthy: true,
        ssh: 'turku-ping@primary.example.com:22',
        'space-available-mib': 1024,
      }),
      expect.objectContaining({ name: 'secondary', registered: false, unit: 'turku-storage/1', machines: 0 }),
    ]);

    expect(await run(state, 'backup-now', { machine: UUID, source: 'etc' })).toMatchObject({
      status: 'completed',
      results: { message: `source "etc" of ${UUID} is due now` },
    });
    expect(await run(state, 'backup-now', { machine: UUID, source: 'home' })).toMatchObject({
      status: 'failed',
      message: `turku-api: machine ${UUID} has no source named "home"`,
    });

    expect(await run(state, 'reassign', { machine: UUID, storage: 'primary' })).toMatchObject({
      status: 'completed',
      results: { message: `machine ${UUID} now backs up to primary` },
    });
    expect(await run(state, 'reassign', { machine: UUID, storage: 'nowhere' })).toMatchObject({
      status: 'failed',
      message: 'turku-api: no storage named "nowhere"',
    });
    // Operator-given values are never read as options.
    expect(await run(state, 'reassign', { machine: UUID, storage: '--json' })).toMatchObject({
      status: 'failed',
      message: 'turku-api: no storage named "--json"',
    });

    expect(await run(state, 'health')).toMatchObject({
      status: 'completed',
      results: {
        api: 'ok',
        counts: { machine: '1', 'backup-log': '0' },
        fleet: 'OK 1 storages, 1 machines, 1 sources',
      },
    });
    // Bad params are refused by Juju against the declared schema, before the charm runs.
    await expect(run(state, 'create-registration', { type: 'admin' })).rejects.toThrow(
      /type : must be equal to one of/,
    );
  });

  test('get-admin-credential: the leader creates the console admin once as a Juju secret; it logs in', async () => {
    const state = await deployed();
    const first = await ctx.run(events.action('get-admin-credential'), state);
    expect(first.actionStatus).toBe('completed');
    expect(first.actionResults).toMatchObject({ name: 'admin', path: '/console' });
    const secret = first.actionResults!['secret'] as string;
    expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
    const stored = first.state.secrets?.find((candidate) => candidate.label === 'console-admin');
    expect(stored?.revisions.at(-1)?.content).toEqual({ 'admin-name': 'admin', 'admin-secret': secret });
    // Again: the same credential, no new secret.
    const again = await ctx.run(events.action('get-admin-credential'), first.state);
    expect(again.actionResults).toMatchObject({ name: 'admin', secret });
    expect(again.state.secrets?.filter((candidate) => candidate.label === 'console-admin')).toHaveLength(1);

    // The credential opens a console session on the unit's API.
    const base = `http://127.0.0.1:${port}/console`;
    const form = await fetch(`${base}/login`);
    const loginCookie = form.headers.getSetCookie()[0]!.split(';', 1)[0]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
      body: new URLSearchParams({ name: 'admin', secret, csrf }).toString(),
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/console');

    // A unit that is not the leader (same machine, so it serves) cannot read the application's secret.
    const follower = await ctx.run(events.action('get-admin-credential'), { leader: false, config: { port } });
    expect(follower.actionStatus).toBe('failed');
    expect(follower.actionMessage).toBe(
      'turku-api/0 is not the leader: juju run turku-api/leader get-admin-credential',
    );
    expect(follower.actionResults?.['secret']).toBeUndefined();
  });

  // action-set takes values in argv and Linux refuses one argument over 128 KiB: a fleet's
  // listing goes out bounded, and whole in a root-only file on the unit named in the result.
  test('list-sources of a big fleet: the first sources inline, all of them in a 0600 file', async () => {
    const state = await deployed();
    const reg = await run(state, 'create-registration', { type: 'machine_reg', name: 'bulk' });
    const sources = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [
        `src-${String(i).padStart(4, '0')}`,
        { path: `/srv/${'p'.repeat(60)}/${i}` },
      ]),
    );
    const registered = await post('update_config', {
      auth: { name: 'bulk', secret: reg.results['secret'] },
      machine: {
        uuid: UUID,
        secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
        unit_name: 'ubuntu/0',
        ssh_public_key: KEY,
        sources,
      },
    });
    expect(registered.status).toBe(200);
    const listed = await run(state, 'list-sources');
    expect(listed.status).toBe('completed');
    const results = listed.results as Record<string, string>;
    // Ours plus the "etc" the machine registered first.
    expect(results).toMatchObject({ count: '1001', truncated: 'true' });
    const inline = JSON.parse(results['sources']!) as unknown[];
    expect(inline).toHaveLength(Number(results['shown']));
    expect(inline.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(results['sources']!)).toBeLessThanOrEqual(32 * 1024);
    const file = results['full-output']!;
    expect(file).toMatch(/\/var\/lib\/turku-api\/charm\/action-results\/list-sources-\d+\.json$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const whole = JSON.parse(await readFile(file, 'utf8')) as { name: string }[];
    expect(whole).toHaveLength(1001);
    expect(whole.map((source) => source.name)).toEqual(expect.arrayContaining(Object.keys(sources)));
  });

  test('health fails when the API does not answer; every action fails on a unit that does not serve', async () => {
    const state = await deployed();
    await stopService(roots.hostFor({ machineId: '0' }), 'turku-api');
    expect(await run(state, 'health')).toMatchObject({
      status: 'failed',
      message: `the API does not answer on http://127.0.0.1:${port}/v1/health`,
    });
    await roots.cleanup(); // a fresh machine: no settings file
    roots = await new MachineRoots().init();
    for (const [name, params] of [
      ['health', {}],
      ['list-storages', {}],
      ['list-sources', {}],
      ['backup-now', { machine: UUID, source: 'etc' }],
      ['reassign', { machine: UUID, storage: 'primary' }],
      ['create-registration', { type: 'machine_reg' }],
      ['get-admin-credential', {}],
    ] as const) {
      expect(await run(state, name, params)).toMatchObject({
        status: 'failed',
        message: 'turku-api/0 does not serve the API (see its status); run the action on a unit that does',
      });
    }
  });
});
