import { jest } from '@jest/globals';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

import { randomAlphanumeric } from '../../lib/common/random.js';
import { createWorldAround, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';
import { startOriginalApiStub, type OriginalApiStub } from '../support/original-api-stub.js';
import { describeTree } from '../support/trees.js';

/**
 * Our real agent and storage programs against the ORIGINAL Turku API, played by a stub that
 * answers as the recorded original does (tests/support/original-api-stub.ts; its replies are
 * checked against the recordings in tests/unit/original-api-contract.test.ts). Same data path
 * as backup.test.ts: the agent in a network namespace that refuses inbound traffic, the storage
 * behind its own sshd, every transfer through the agent's reverse tunnel.
 */

jest.setTimeout(120_000);

let world: World<OriginalApiStub>;
let stub: OriginalApiStub;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let uuid: string;

beforeAll(async () => {
  world = await createWorldAround('original-api', async (hostAddress) => {
    const machineAuth = { name: 'Machine Registrations', secret: randomAlphanumeric(30) };
    const storageAuth = { name: 'Storage Registrations', secret: randomAlphanumeric(30) };
    const api = await startOriginalApiStub({
      host: hostAddress,
      auths: [
        { type: 'machine_reg', ...machineAuth },
        { type: 'storage_reg', ...storageAuth },
      ],
    });
    return {
      handle: api,
      url: api.url,
      machineAuth,
      storageAuth,
      trigger: (machine, source) => Promise.resolve(api.trigger(machine, source)),
      close: () => api.close(),
    };
  });
  stub = world.api;
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  data = join(world.root, 'data');
  await writeSampleTree(data);
  await agent.setSources({ etc: { path: data, retention: 'last 2 snapshots', preserve_hard_links: true } });
});
afterAll(() => world?.destroy());

const statuses = (view: string) =>
  stub.requests.filter((request) => request.path === `/v1/${view}`).map((r) => r.status);

test('register: our storage and agent register with the original API, and the storage authorizes the agent', async () => {
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0, stderr: '' });
  expect(await agent.updateConfig()).toMatchObject({ exitCode: 0 });
  uuid = await agent.uuid();
  const machine = stub.machines.get(uuid);
  expect(machine).toMatchObject({ unit_name: 'app/0', service_name: 'app', storage: 'primary' });
  expect(machine?.sources.get('etc')).toMatchObject({ path: data, retention: 'last 2 snapshots' });

  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0, stderr: '' });
  const keys = await readFile(join(storage.dir, 'ssh', 'authorized_keys'), 'utf8');
  const publicKey = (await readFile(join(agent.varDir, 'ssh_key.pub'), 'utf8')).trim();
  expect(keys).toContain(`${uuid}" ${publicKey} (app/0)`);
});

test("check-in with nothing due: the original's reply (no top-level scheduled_sources) is understood", async () => {
  const ping = await agent.ping();
  expect(ping).toMatchObject({ exitCode: 0, stderr: '' });
  expect(statuses('agent_ping_checkin')).toEqual([200]);
});

test('a due source is backed up byte-identical, and the storage reports it to the original API', async () => {
  await world.trigger(agent, 'etc');
  const ping = await agent.ping();
  expect(ping.exitCode).toBe(0);
  const snapshots = join(storage.machineDir(uuid), 'etc.snapshots');
  const [snapshot] = (await readdir(snapshots)).filter((name) => /^etc_\d{8}-\d{6}_[0-9a-f]{4}$/.test(name));
  expect(await readlink(join(snapshots, 'latest'))).toBe(snapshot);
  expect(await describeTree(join(snapshots, snapshot!))).toEqual(await describeTree(data));

  expect(statuses('storage_ping_checkin')).toEqual([200]);
  expect(statuses('storage_ping_source_update')).toEqual([200]);
  expect(stub.backupLogs).toEqual([
    { machine: uuid, source: 'etc', storage: 'primary', success: true, snapshot, summary: expect.any(String) },
  ]);
  // Reported, so no longer due: the next check-in does nothing.
  expect(await agent.ping()).toMatchObject({ exitCode: 0, stderr: '' });
  expect(stub.backupLogs).toHaveLength(1);
});

test("a restore driven by the original's agent_ping_restore reply brings the data back byte-identical", async () => {
  const target = join(world.root, 'restored-etc');
  const restore = await agent.ping('--restore', '--restore-source', 'etc', '--restore-target', target);
  expect(restore).toMatchObject({ exitCode: 0 });
  expect(restore.stdout).toMatch(
    new RegExp(`^Restored etc snapshot etc_\\S+ \\(taken [^)]+\\) from primary into ${target}$`, 'm'),
  );
  expect(statuses('agent_ping_restore')).toEqual([200]);
  const restored = await describeTree(target);
  const expected = await describeTree(data);
  // The target directory itself is created 0700 by the agent; its contents are what was saved.
  delete restored[''];
  delete expected[''];
  expect(restored).toEqual(expected);
});

test("the original's refusals (HTML bodies) are one line with the status and the text", async () => {
  // Its 404 for an unknown path is a whole HTML page.
  await agent.configure({ api_url: `${stub.url}/nowhere` });
  const lost = await agent.ping();
  expect(lost.exitCode).toBe(1);
  expect(lost.stderr).toBe(
    'turku-agent-ping: API agent_ping_checkin refused: HTTP 404 Not Found The requested resource was not found on this server.',
  );
  await agent.configure({});

  // A machine the admin deactivated gets its bare "Bad auth".
  stub.machines.get(uuid)!.active = false;
  const refused = await agent.ping();
  stub.machines.get(uuid)!.active = true;
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr).toBe('turku-agent-ping: API agent_ping_checkin refused: HTTP 403 Bad auth');
});
