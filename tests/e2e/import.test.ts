import { jest } from '@jest/globals';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { listBackups } from '../../lib/api/admin/commands.js';
import { importOriginal } from '../../lib/api/import/run.js';
import { Store } from '../../lib/api/store.js';
import { createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';
import { IDS, originalFleet, SECRETS } from '../support/original-fleet.js';
import { createOriginalSqlite, type OriginalRow, type OriginalTable } from '../support/original-turku.js';
import { describeTree } from '../support/trees.js';

/**
 * A deployment moved from the original Turku: its database imported into ours, then the
 * unchanged agent and storage (their identity, secrets and keys as the original left them) run
 * against our API with real processes. The storage logs in with its old secret and authorizes the
 * machine, and the agent checks in with its old secret and gets its next backup over ssh and rsync.
 */

jest.setTimeout(120_000);

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;

beforeAll(async () => {
  world = await createWorld('import');
  // The storage keeps the secret the original knew it by.
  storage = await world.addStorage('primary', { secret: SECRETS.primary });
  agent = await world.addAgent('web');
  data = join(world.root, 'data');
  await writeSampleTree(data);
  await agent.setSources({ etc: { path: data } });

  // The agent's state as an original agent left it: its identity file and its key pair.
  await mkdir(join(agent.varDir, 'config.d'), { recursive: true });
  await writeFile(
    join(agent.varDir, 'config.d', '10-machine_uuid.json'),
    JSON.stringify({ machine_secret: SECRETS.web, machine_uuid: IDS.webUuid }, null, 4),
    { mode: 0o600 },
  );
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'turku', '-f', join(agent.varDir, 'ssh_key')]);
  const publicKey = (await readFile(join(agent.varDir, 'ssh_key.pub'), 'utf8')).trim();

  // The original database: the fleet, with this agent's key and data path. The world made its own
  // registration credentials under the default names, so the original's are told apart; home is
  // not due (this agent does not offer it).
  const fleet = (await originalFleet({ webKey: publicKey })).map(([table, row]): [OriginalTable, OriginalRow] => {
    if (table === 'turku_api_auth') return [table, { ...row, name: `Original ${String(row.name)}` }];
    if (row.id === IDS.etc) return [table, { ...row, path: data }];
    if (row.id === IDS.home) return [table, { ...row, date_next_backup: '2099-01-01 00:00:00' }];
    return [table, row];
  });
  const original = join(world.root, 'original.sqlite3');
  await createOriginalSqlite(original, fleet);
  await importOriginal(world.api.api.ctx.db, original);
});
afterAll(() => world?.destroy());

const store = <T>(use: (store: Store) => Promise<T>) => world.api.api.ctx.db.transaction((tx) => use(new Store(tx)));

test('the storage logs in with its old secret and authorizes the imported machine', async () => {
  expect((await store((s) => s.storageByName('primary')))?.secret_hash).toMatch(/^argon2\$/);
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0, stderr: '' });
  const primary = await store((s) => s.storageByName('primary'));
  expect(primary?.secret_hash).toMatch(/^hmac-sha256\$/);
  // The storage corrected the address the original had for it.
  expect(primary).toMatchObject({ ssh_ping_host: world.hostAddress, ssh_ping_port: storage.sshd.port });
  const keys = await readFile(join(storage.dir, 'ssh', 'authorized_keys'), 'utf8');
  const publicKey = (await readFile(join(agent.varDir, 'ssh_key.pub'), 'utf8')).trim();
  expect(keys.split('\n').find((line) => line.includes(IDS.webUuid))).toContain(publicKey);
});

test('the agent checks in with its old secret and gets its next backup', async () => {
  const before = (await store((s) => s.sources())).find((source) => source.id === IDS.etc)!;
  expect(before.date_next_backup.getTime()).toBeLessThan(world.api.clock.getTime());

  expect(await agent.updateConfig()).toMatchObject({ exitCode: 0 });
  expect((await store((s) => s.machineByUuid(IDS.webUuid)))?.secret_hash).toMatch(/^hmac-sha256\$/);
  expect(await agent.ping()).toMatchObject({ exitCode: 0 });

  const snapshots = join(storage.machineDir(IDS.webUuid), 'etc.snapshots');
  const [snapshot] = (await readdir(snapshots)).filter(
    (name) => name !== 'latest' && !/\.(json|manifest\.gz)$/.test(name),
  );
  expect(await describeTree(join(snapshots, snapshot!))).toEqual(await describeTree(data));
  const [log] = await listBackups(world.api.api.ctx, 1);
  expect(log).toMatchObject({ unit_name: 'web/0', source: 'etc', storage: 'primary', success: true, snapshot });
  const after = (await store((s) => s.sources())).find((source) => source.id === IDS.etc)!;
  expect(after).toMatchObject({ success: true, failure_count: 0 });
  expect(after.date_next_backup.getTime()).toBeGreaterThan(world.api.clock.getTime());
  // The original's history is still there beside the new log.
  expect((await listBackups(world.api.api.ctx, 100)).filter((entry) => entry.source === 'etc')).toHaveLength(3);
});
