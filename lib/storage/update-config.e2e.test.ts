import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startTestApi, type TestApi } from '../../tests/support/api-harness.js';
import { createAuth } from '../api/admin/commands.js';
import { Store } from '../api/store.js';
import { createWorkloadLogger } from '../common/workload-log.js';
import { parseStorageSettings, type StorageSettings } from './settings.js';
import { updateStorageConfig } from './update-config.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3nG1wH6lT6Dk5y8Q0tK0c0mYd8x5c7b3X0oS3Q7yZ1 turku';

let api: TestApi;
let dir: string;
let storageAuth: { name: string; secret: string };
let machineAuth: { name: string; secret: string };
const lines: string[] = [];
const log = createWorkloadLogger({ name: 'primary', consoleLevel: 'debug', console: (line) => lines.push(line) });

beforeAll(async () => {
  api = await startTestApi('sqlite');
  storageAuth = await createAuth(api.api.ctx, 'storage_reg');
  machineAuth = await createAuth(api.api.ctx, 'machine_reg');
  dir = await mkdtemp(join(tmpdir(), 'turku-storage-update-'));
  await mkdir(join(dir, 'volume'));
  await mkdir(join(dir, 'hostkeys'));
  await writeFile(join(dir, 'hostkeys', 'ssh_host_ed25519_key.pub'), 'ssh-ed25519 AAAAC3Nzahost root@primary\n');
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function settings(extra: Record<string, unknown> = {}): StorageSettings {
  return parseStorageSettings({
    name: 'primary',
    secret: 'storage-secret-0123456789',
    api_url: api.url,
    volumes: { main: { path: join(dir, 'volume') }, missing: { path: join(dir, 'nope') } },
    ssh_ping_host: '10.0.0.1',
    ssh_ping_port: 2222,
    ssh_ping_user: 'root',
    ssh_ping_host_keys_glob: join(dir, 'hostkeys', 'ssh_host_*_key.pub'),
    authorized_keys_file: join(dir, 'ssh', 'authorized_keys'),
    lock_dir: dir,
    var_dir: join(dir, 'var'),
    ...extra,
  });
}

test('registers with the credential, reports space and host keys, and writes authorized_keys for its machines', async () => {
  await expect(updateStorageConfig(settings(), { log })).rejects.toThrow('HTTP 403');
  const first = await updateStorageConfig(settings(), {
    log,
    authName: storageAuth.name,
    authSecret: storageAuth.secret,
  });
  expect(first).toEqual({ ran: true, machines: 0, authorizedKeysChanged: true });
  expect(lines.join('')).toContain(`Volume "missing" (${join(dir, 'nope')}) cannot be measured`);

  const storage = (await api.api.ctx.db.transaction((tx) => new Store(tx).storageByName('primary')))!;
  expect(storage).toMatchObject({
    ssh_ping_port: 2222,
    ssh_ping_host: '10.0.0.1',
    ssh_ping_host_keys: ['ssh-ed25519 AAAAC3Nzahost root@primary'],
    snapshot_modes: ['link-dest', 'none', 'borg'],
  });
  expect(storage.space_total).toBeGreaterThan(0);

  const uuid = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
  const registered = await api.post('update_config', {
    auth: machineAuth,
    machine: { uuid, secret: 'machine-secret-0123456789', unit_name: 'sql/2', ssh_public_key: KEY, sources: {} },
  });
  expect(registered.status).toBe(200);
  expect(await updateStorageConfig(settings(), { log })).toMatchObject({ machines: 1, authorizedKeysChanged: true });
  const file = join(dir, 'ssh', 'authorized_keys');
  const line = (await readFile(file, 'utf8')).split('\n').find((text) => text.includes(uuid)) ?? '';
  // The forced command behind the session gate (session-gate.ts), on this storage's lock directory.
  const gateDir = join(dir, 'turku-storage-backup-slots');
  expect(line.startsWith(`restrict,port-forwarding,permitlisten="localhost:*",command="g=${gateDir}; `)).toBe(true);
  expect(line).toContain(`; turku-storage-ping ${uuid}" ${KEY} (sql/2)`);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect((await stat(join(dir, 'ssh'))).mode & 0o777).toBe(0o700);
  // Unchanged content is not rewritten.
  expect(await updateStorageConfig(settings(), { log })).toMatchObject({ authorizedKeysChanged: false });
});

test("a short secret (an original storage's) registers, with a warning in the log that never shows it", async () => {
  lines.length = 0;
  const short = settings({ name: 'old-storage', secret: 'pw' });
  const result = await updateStorageConfig(short, { log, authName: storageAuth.name, authSecret: storageAuth.secret });
  expect(result).toMatchObject({ ran: true });
  const warnings = lines.filter((line) => line.includes('WARNING'));
  expect(warnings).toEqual([expect.stringContaining('The storage secret is shorter than 20 characters')]);
  expect(lines.join('\n')).not.toMatch(/\bpw\b/);
  // And it logs in with it afterwards; a strong secret gives no such warning.
  lines.length = 0;
  await expect(updateStorageConfig(short, { log })).resolves.toMatchObject({ ran: true });
  await updateStorageConfig(settings(), { log });
  expect(lines.filter((line) => line.includes('shorter than'))).toHaveLength(1);
});

test('settings name what is missing', () => {
  expect(() => parseStorageSettings({ name: 'x', secret: 'y', api_url: 'http://a/v1' })).toThrow(
    'Incomplete config: volumes: is required',
  );
  expect(() =>
    parseStorageSettings({ name: 'x', secret: 'y', api_url: 'http://a/v1', volumes: { a: { nopath: 1 } } }),
  ).toThrow('Incomplete config: volumes: no volume with a "path"');
  expect(() => settings({ snapshot_mode: 'attic' })).toThrow('Incomplete config: snapshot_mode');
});

test('an unreachable API is a clear error', async () => {
  const closed = await closedPort();
  await expect(updateStorageConfig(settings({ api_url: `http://127.0.0.1:${closed}/v1` }), { log })).rejects.toThrow(
    `Cannot reach the API at http://127.0.0.1:${closed}/v1: connect ECONNREFUSED 127.0.0.1:${closed}`,
  );
});

/** A loopback port nothing listens on (it was just free). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a volume over its high-water mark is reported to the API in words, which logs it', async () => {
  const over = settings({ accept_new_high_water_pct: 0 });
  await updateStorageConfig(over, { log, authName: storageAuth.name, authSecret: storageAuth.secret });
  const said = api.log.lines.filter((line) => line.includes('storage primary: volume main'));
  expect(said.at(-1)).toMatch(/storage primary: volume main \(.*\/volume\) is \d+\.\d% full \(high-water mark 0%\)/);
  expect(lines.some((line) => /WARNING: volume main .* full \(high-water mark 0%\)/.test(line))).toBe(true);
});
