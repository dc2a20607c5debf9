// The turku-storage charm's hooks through the Juju fake (one unit per Context), with the real
// workload programs in a machine root and a real turku-api the storage registers with.
import { jest } from '@jest/globals';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { load as loadYaml } from 'js-yaml';

import { listStorages } from '../../../lib/api/admin/commands.js';
import { checkActionsDeclaration, checkConfigDeclaration } from '../../../lib/charm/declarations.js';
import { readStorageUnit } from '../../../lib/charm-interfaces/index.js';
import { Context, events, type State } from '../../../lib/charm-testing/scenario.js';
import { expectSameFreeSpace } from '../../../tests/support/free-space.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { freePort } from '../../../tests/support/processes.js';
import { turkuStorageCharm } from './charm.js';
import { ExpireNowParams, ListSnapshotsParams, StorageConfig, VerifySnapshotParams } from './schemas.js';
import {
  apiRelation,
  CHARMCRAFT,
  registrationSecret,
  startApiWorld,
  storageCharm,
  type ApiWorld,
} from './__tests__/fixtures.js';

/** The account the tests run as: on the local substrate it stands in for the ping user (README). */
const ACCOUNT = userInfo().username;

jest.setTimeout(60_000);

let roots: MachineRoots;
let world: ApiWorld;
let context: Context;

beforeAll(async () => {
  roots = await new MachineRoots().init();
  world = await startApiWorld();
  const charm = await storageCharm(roots);
  context = new Context({ meta: charm.meta, executor: charm.executor });
});

afterAll(async () => {
  await world?.api.close();
  await roots?.cleanup();
});

/** A path on the Context's unit's machine (machine 0). */
const onMachine = (path: string) => roots.path('0', path);

function configured(extra: Partial<State> = {}): State {
  return { relations: [apiRelation(world)], secrets: [registrationSecret(world)], ...extra };
}

async function recorded(name: string) {
  return (await listStorages(world.api.api.ctx)).find((row) => row.name === name);
}

test('charmcraft.yaml declares exactly the config and actions the zod schemas accept', async () => {
  const declared = loadYaml(await readFile(CHARMCRAFT, 'utf8')) as {
    config: { options: Record<string, never> };
    actions: Record<string, never>;
  };
  const definition = turkuStorageCharm(roots.hostFor);
  expect(checkConfigDeclaration(StorageConfig, declared.config.options)).toEqual([]);
  expect(checkActionsDeclaration(definition.actions!, declared.actions)).toEqual([]);
  expect(Object.keys(definition.actions!).sort()).toEqual(['expire-now', 'list-snapshots', 'verify-snapshot']);
  expect([ListSnapshotsParams, VerifySnapshotParams, ExpireNowParams].every((s) => s !== undefined)).toBe(true);
});

test('install sets up the machine and waits for turku-api', async () => {
  const out = await context.run(events.install(), {});
  expect(out.exitCode).toBe(0);
  expect(out.state.unitStatus).toEqual({ status: 'waiting', message: 'waiting for a turku-api relation' });
  // Programs on PATH, real host keys, the login secret kept 0600, the SSH port open.
  for (const program of [
    'turku-storage-update-config',
    'turku-storage-ping',
    'turku-storage-admin',
    'turku-storage-sample-verify',
    'turku-storage-tunnel-owner',
    'turku-timers',
  ]) {
    expect((await stat(onMachine(`/usr/local/bin/${program}`))).mode & 0o111).not.toBe(0);
  }
  expect(await readFile(onMachine('/etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).toMatch(/^ssh-ed25519 /);
  const secretFile = onMachine('/var/lib/turku-storage/charm/login-secret');
  expect((await stat(secretFile)).mode & 0o777).toBe(0o600);
  expect((await readFile(secretFile, 'utf8')).trim().length).toBeGreaterThanOrEqual(30);
  expect(out.state.ports).toEqual(['22/tcp']);
  await expect(stat(onMachine('/var/lib/turku-storage/backups'))).resolves.toBeDefined();
});

test.each([
  ['snapshot-mode', 'zfs'],
  ['high-water-pct', 101],
  ['timezone', 'Mars/Olympus_Mons'],
  ['ssh-port', 0],
  ['ping-user', 'Not A User'],
])('bad config %s=%p is a blocked status naming the key', async (key, value) => {
  const out = await context.run(events.configChanged(), configured({ config: { [key]: value } }));
  expect(out.exitCode).toBe(0);
  expect(out.state.unitStatus?.status).toBe('blocked');
  expect(out.state.unitStatus?.message).toContain(`${key}:`);
});

test('waits while turku-api has not published, or has not granted its secret', async () => {
  let out = await context.run(events.relationCreated(apiRelation(world, { remoteAppData: {} })), {
    relations: [apiRelation(world, { remoteAppData: {} })],
  });
  expect(out.state.unitStatus).toEqual({
    status: 'waiting',
    message: 'waiting for turku-api to publish its URL and credential',
  });
  const relation = apiRelation(world);
  out = await context.run(events.relationChanged(relation), { relations: [relation] });
  expect(out.state.unitStatus).toEqual({
    status: 'waiting',
    message: 'waiting for turku-api to grant its registration secret',
  });
  // Bad remote data is the API's to fix: blocked, naming the key.
  const bad = apiRelation(world, { remoteAppData: { 'api-url': 'ftp://x', 'secret-id': `secret:${'a'.repeat(20)}` } });
  out = await context.run(events.relationChanged(bad), { relations: [bad], secrets: [registrationSecret(world)] });
  expect(out.state.unitStatus?.status).toBe('blocked');
  expect(out.state.unitStatus?.message).toContain('api-url:');
});

// After a unit agent restart Juju runs relation-broken with JUJU_REMOTE_APP='' (its relation
// state tracker does not reload the name): the hook still runs and the unit waits for an API.
test.each([false, true])(
  'relation-broken of the turku-api relation leaves the unit waiting (after an agent restart: %s)',
  async (afterAgentRestart) => {
    const relation = apiRelation(world);
    const out = await context.run(events.relationBroken(relation, { afterAgentRestart }), configured());
    expect(out.exitCode).toBe(0);
    expect(out.state.unitStatus).toEqual({ status: 'waiting', message: 'waiting for a turku-api relation' });
  },
);

test('registers with the API and publishes its unit bag, never the application bag', async () => {
  const relation = apiRelation(world);
  const out = await context.run(events.relationChanged(relation, 'turku-api/0'), configured());
  expect(out.stderr).toBe('');
  expect(out.exitCode).toBe(0);
  expect(out.state.unitStatus?.status).toBe('active');
  expect(out.state.unitStatus?.message).toMatch(/^turku-storage-0: \S+ \S+ of \S+ \S+ free on 1 volume$/);

  const local = out.state.relations!.find((r) => r.endpoint === 'turku-api')!;
  expect(local.localAppData ?? {}).toEqual({});
  const bag = readStorageUnit(local.localUnitData!);
  if (!bag.ok) throw new Error(bag.problems.join('; '));
  expect(bag.value).toMatchObject({ 'storage-name': 'turku-storage-0', 'ssh-host': '10.1.0.10', 'ssh-port': 22 });
  expect(bag.value['ssh-user']).toBe(ACCOUNT); // a test root stands in the running account (README)
  expect(bag.value['ssh-host-keys'].length).toBeGreaterThan(0);
  expect(bag.value['space-total-mib']).toBeGreaterThan(0);

  // The API recorded the storage with the capacity the unit published.
  const row = await recorded('turku-storage-0');
  expect(row).toMatchObject({ ssh: `${ACCOUNT}@10.1.0.10:22`, space_total_mib: bag.value['space-total-mib'] });
  expectSameFreeSpace(Number(row!.space_available_mib), bag.value['space-available-mib']);

  // The workload's configuration: 0600, secrets inside, never in logs or relation data.
  const configFile = onMachine('/etc/turku-storage/config.d/50-juju.json');
  expect((await stat(configFile)).mode & 0o777).toBe(0o600);
  const written = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  expect(written).toMatchObject({
    name: 'turku-storage-0',
    api_url: world.api.url,
    api_auth_name: world.credential.name,
    snapshot_mode: 'link-dest',
    accept_new_high_water_pct: 80,
    volumes: { default: { path: onMachine('/var/lib/turku-storage/backups') } },
  });
  const secrets = [String(written.secret), world.credential.secret];
  const published = JSON.stringify([out.logs, out.stdout, local.localUnitData]);
  for (const secret of secrets) expect(published).not.toContain(secret);
  // turku-storage-update-config wrote the ping account's authorized_keys.
  expect(await readFile(onMachine('/var/lib/turku-storage/ping/.ssh/authorized_keys'), 'utf8')).toContain(
    '# Automatically generated',
  );
});

test('config changes reach the workload and the API (port, host, mode, zone)', async () => {
  const config = {
    'ssh-port': 2222,
    'ssh-host': 'store.example.com',
    'snapshot-mode': 'borg',
    timezone: 'Europe/Paris',
  };
  const out = await context.run(events.configChanged(), configured({ config }));
  expect(out.state.unitStatus?.status).toBe('active');
  expect(out.state.ports).toEqual(['2222/tcp']);
  const written = JSON.parse(await readFile(onMachine('/etc/turku-storage/config.d/50-juju.json'), 'utf8')) as object;
  expect(written).toMatchObject({ snapshot_mode: 'borg', timezone: 'Europe/Paris', ssh_ping_port: 2222 });
  expect((await recorded('turku-storage-0'))?.ssh).toBe(`${ACCOUNT}@store.example.com:2222`);
});

test('attached backups storages are the volumes; update-status keeps the capacity current', async () => {
  const storages = [
    { name: 'backups', index: 0 },
    { name: 'backups', index: 1 },
  ];
  let out = await context.run(events.storageAttached(storages[1]!), configured({ storages }));
  expect(out.state.unitStatus?.message).toMatch(/free on 2 volumes$/); // two volumes, one filesystem (its space counted once)
  const written = JSON.parse(await readFile(onMachine('/etc/turku-storage/config.d/50-juju.json'), 'utf8')) as {
    volumes: Record<string, { path: string }>;
  };
  expect(written.volumes).toEqual({
    'backups-0': { path: onMachine('/srv/turku-storage/backups/0') },
    'backups-1': { path: onMachine('/srv/turku-storage/backups/1') },
  });

  // The leaving instance is no volume during its detaching hook.
  await context.run(events.storageDetaching(storages[1]!), configured({ storages }));
  const after = JSON.parse(await readFile(onMachine('/etc/turku-storage/config.d/50-juju.json'), 'utf8')) as {
    volumes: object;
  };
  expect(Object.keys(after.volumes)).toEqual(['backups-0']);

  out = await context.run(events.updateStatus(), configured({ storages: [storages[0]!] }));
  const bag = readStorageUnit(out.state.relations!.find((r) => r.endpoint === 'turku-api')!.localUnitData!);
  if (!bag.ok) throw new Error(bag.problems.join('; '));
  expect((await recorded('turku-storage-0'))?.space_total_mib).toBe(bag.value['space-total-mib']);
});

test('an API that does not answer yet is waited for, publishing nothing', async () => {
  // A port nothing listens on: a second turku-api unit still waiting for its database.
  const url = `http://127.0.0.1:${await freePort()}/v1`;
  const relation = apiRelation(world, { localUnitData: {} });
  relation.remoteAppData = { ...relation.remoteAppData, 'api-url': url };
  const out = await context.run(events.configChanged(), configured({ relations: [relation] }));
  expect(out.exitCode).toBe(0);
  expect(out.state.unitStatus?.status).toBe('waiting');
  expect(out.state.unitStatus?.message).toContain(`waiting for the API: `);
  expect(out.state.unitStatus?.message).toContain(`Cannot reach the API at ${url}: `);
  const local = out.state.relations!.find((r) => r.endpoint === 'turku-api')!;
  expect(local.localUnitData?.['storage-name']).toBeUndefined();
});

test('a registration the API refuses fails the hook with one line, publishing nothing', async () => {
  // Someone else already registered the name "taken" with another secret.
  const taken = await world.api.post('storage_update_config', {
    auth: { name: world.credential.name, secret: world.credential.secret },
    storage: { name: 'taken', secret: 's'.repeat(30), ssh_ping_host: 'x', ssh_ping_port: 22, ssh_ping_user: 'x' },
  });
  expect(taken.status).toBe(200);
  const relation = apiRelation(world, { localUnitData: {} });
  const out = await context.run(
    events.configChanged(),
    configured({ config: { 'storage-name': 'taken' }, relations: [relation] }),
  );
  expect(out.exitCode).toBe(1);
  expect(out.stderr.trim().split('\n')).toHaveLength(1);
  expect(out.stderr).toContain('turku-storage-update-config: ');
  expect(out.stderr).toContain('Bad auth');
  const local = out.state.relations!.find((r) => r.endpoint === 'turku-api')!;
  expect(local.localUnitData?.['storage-name']).toBeUndefined();
});

test("an operator's short login secret (an original storage taken over) is kept, used and warned about", async () => {
  const secretFile = onMachine('/var/lib/turku-storage/charm/login-secret');
  const generated = await readFile(secretFile, 'utf8');
  // The original storage registered "adopted" with a short secret; the operator carries it over.
  const original = await world.api.post('storage_update_config', {
    auth: { name: world.credential.name, secret: world.credential.secret },
    storage: { name: 'adopted', secret: 'pw', ssh_ping_host: 'x', ssh_ping_port: 22, ssh_ping_user: 'x' },
  });
  expect(original.status).toBe(200);
  await writeFile(secretFile, 'pw\n', { mode: 0o600 });
  try {
    const out = await context.run(events.configChanged(), configured({ config: { 'storage-name': 'adopted' } }));
    expect([out.exitCode, out.stderr]).toEqual([0, '']);
    expect(out.state.unitStatus?.status).toBe('active');
    expect(await readFile(secretFile, 'utf8')).toBe('pw\n');
    const warnings = out.logs.filter((line) => line.level === 'WARNING').map((line) => line.message);
    expect(warnings).toEqual([expect.stringContaining('login secret is shorter than 20 characters')]);
    expect(JSON.stringify(out.logs)).not.toMatch(/\bpw\b/);
    expect(await recorded('adopted')).toMatchObject({ weak_secret: true, ssh: `${ACCOUNT}@10.1.0.10:22` });
  } finally {
    await writeFile(secretFile, generated, { mode: 0o600 });
  }
});
