import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { startTestApi, type TestApi } from '../../tests/support/api-harness.js';
import { ConfigFileError } from '../turku/config.js';
import { COMMANDS, runApiCli, serveArguments, type ApiCliIo } from './cli.js';
import { verifyAdmin } from './console/admins.js';
import { parseSettings } from './settings.js';

/** The admin commands in-process, against a real API and its SQLite database. */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE = { name: 'primary', secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4' };
const HOUR = 3_600_000;

describe('turku-api admin commands', () => {
  let t: TestApi;
  let io: ApiCliIo;
  const run = (...argv: string[]) => runApiCli([...argv, '--config', 'api.yaml'], io);

  beforeEach(async () => {
    t = await startTestApi('sqlite');
    io = {
      loadSettings: (file) =>
        file === 'api.yaml'
          ? Promise.resolve(parseSettings({}))
          : Promise.reject(new ConfigFileError(`Error loading ${file}: ENOENT`)),
      openContext: () => Promise.resolve({ ctx: t.api.ctx, close: () => Promise.resolve() }),
    };
  });
  afterEach(() => t.close());

  const secretOf = async (type: string, ...options: string[]) =>
    (await run('auth-create', type, '--raw', ...options)).stdout[0]!;
  const deploy = async () => {
    const storageSecret = await secretOf('storage_reg');
    const machineSecret = await secretOf('machine_reg');
    const storage = await t.post('storage_update_config', {
      auth: storageSecret,
      storage: { ...STORAGE, ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u', space_available: 10 },
    });
    expect(storage.status).toBe(200);
    const machine = await t.post('update_config', {
      auth: machineSecret,
      machine: {
        uuid: UUID,
        secret: SECRET,
        unit_name: 'sql/2',
        ssh_public_key: KEY,
        sources: { etc: { path: '/etc' } },
      },
    });
    expect(machine.status).toBe(200);
  };

  it('prints usage, and refuses a missing command, option or config with exit 2 and one line', async () => {
    expect((await runApiCli(['--help'], io)).exitCode).toBe(0);
    expect((await runApiCli([], io)).exitCode).toBe(2);
    expect(await runApiCli(['machines'], io)).toEqual({
      exitCode: 2,
      stdout: [],
      stderr: ['turku-api: machines: --config FILE is required'],
    });
    expect(await runApiCli(['machines', '--config', 'missing.yaml'], io)).toEqual({
      exitCode: 2,
      stdout: [],
      stderr: ['turku-api: Error loading missing.yaml: ENOENT'],
    });
    expect((await run('frobnicate')).stderr).toEqual([
      'turku-api: unknown command "frobnicate" (see turku-api --help)',
    ]);
    expect((await run('machines', '--bogus')).exitCode).toBe(2);
    expect((await run('auth-create', 'root')).stderr).toEqual([
      'turku-api: auth-create: expected machine_reg, storage_reg or admin, got "root"',
    ]);
  });

  it('answers --help for every command with its own usage, without needing a config', async () => {
    for (const command of Object.keys(COMMANDS)) {
      for (const argv of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const result = await runApiCli(argv, io);
        expect([result.exitCode, result.stderr]).toEqual([0, []]);
        expect(result.stdout[0]).toMatch(new RegExp(`^Usage: turku-api ${command}[ ]`));
      }
    }
    expect(await runApiCli(['frobnicate', '--help'], io)).toMatchObject({ exitCode: 2 });
  });

  it('parses serve arguments: a config, help, or a usage error', () => {
    expect(serveArguments(['--config', 'api.yaml'])).toEqual({ config: 'api.yaml' });
    expect(serveArguments(['--help'])).toMatchObject({
      exitCode: 0,
      stdout: ['Usage: turku-api serve --config FILE', '', 'run the /v1 HTTP API', '', expect.any(String)],
    });
    expect(serveArguments([])).toEqual({
      exitCode: 2,
      stdout: [],
      stderr: ['turku-api: serve: --config FILE is required'],
    });
    expect(serveArguments(['x', '--config', 'y'])).toMatchObject({
      exitCode: 2,
      stderr: ['turku-api: serve: unexpected argument "x"'],
    });
    expect(serveArguments(['--bogus'])).toMatchObject({ exitCode: 2 });
  });

  it('creates registration credentials once per name and prints the secret once', async () => {
    const created = await run('auth-create', 'machine_reg');
    expect(created.exitCode).toBe(0);
    expect(created.stdout[0]).toMatch(/^New registration secret created: [A-Za-z0-9]{30} \(Machine Registrations\)$/);
    expect(await run('auth-create', 'machine_reg')).toEqual({
      exitCode: 1,
      stdout: [],
      stderr: ['turku-api: a registration credential named "Machine Registrations" already exists'],
    });
    const named = await run('auth-create', 'storage_reg', '--name', 'rack 4', '--json');
    expect(JSON.parse(named.stdout[0]!)).toEqual({
      name: 'rack 4',
      secret_type: 'storage_reg',
      secret: expect.any(String),
    });
  });

  it('ensures a registration credential with the secret from stdin, idempotently', async () => {
    const secret = 'Qh7sT2vLx9NwR4yZb8HcJ3mFd6sGa1';
    let stdin = `${secret}\n`;
    io = { ...io, readStdin: () => Promise.resolve(stdin) };
    const ensure = (...options: string[]) => run('auth-ensure', 'storage_reg', '--name', 'juju storages:3', ...options);
    expect(await ensure('--json')).toEqual({
      exitCode: 0,
      stdout: [
        JSON.stringify(
          { name: 'juju storages:3', secret_type: 'storage_reg', result: 'created', weak_secret: false },
          null,
          2,
        ),
      ],
      stderr: [],
    });
    expect((await ensure()).stdout).toEqual(['registration credential "juju storages:3" (storage_reg): unchanged']);
    const register = (auth: string) =>
      t.post('storage_update_config', {
        auth: { name: 'juju storages:3', secret: auth },
        storage: { ...STORAGE, ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u' },
      });
    // A new secret replaces the old one; a deactivated credential comes back.
    stdin = 'Zz7sT2vLx9NwR4yZb8HcJ3mFd6sGa1';
    expect((await run('deactivate', 'auth', 'juju storages:3')).exitCode).toBe(0);
    expect((await ensure('--json')).stdout[0]).toContain('"result": "updated"');
    expect((await register(secret)).status).toBe(403);
    expect((await register(stdin)).status).toBe(200);

    expect((await ensure()).stdout[0]).toContain('unchanged');
    expect((await run('auth-ensure', 'machine_reg', '--name', 'juju storages:3')).stderr).toEqual([
      'turku-api: the registration credential "juju storages:3" is of type storage_reg, not machine_reg',
    ]);
    // An operator-chosen short secret is accepted, stored with the slow hash, and said to be weak.
    stdin = 'short\n';
    expect((await ensure()).stdout).toEqual([
      'registration credential "juju storages:3" (storage_reg): updated; its secret is weak (under 20 characters): stored with a slow hash',
    ]);
    expect((await register('short')).status).toBe(200);
    expect((await ensure()).stdout[0]).toMatch(/: unchanged; its secret is weak/);
    for (const empty of ['', '\n']) {
      stdin = empty;
      expect((await ensure()).stderr).toEqual(['turku-api: the secret must not be empty']);
    }
    expect((await run('auth-ensure', 'storage_reg')).stderr).toEqual([
      'turku-api: auth-ensure: --name NAME is required',
    ]);
    expect((await run('auth-ensure', 'root', '--name', 'x')).exitCode).toBe(2);
  });

  it('creates and ensures web console admins, which are not registration credentials', async () => {
    const created = await run('auth-create', 'admin', '--name', 'ops');
    expect(created.exitCode).toBe(0);
    const [, name, secret] = /^New console admin created: (\S+) ([A-Za-z0-9]{30})$/.exec(created.stdout[0]!)!;
    expect(name).toBe('ops');
    expect(await verifyAdmin(t.api.ctx.db, 'ops', secret!)).toMatchObject({ name: 'ops' });
    expect((await run('auth-create', 'admin', '--name', 'ops')).stderr).toEqual([
      'turku-api: a console admin named "ops" already exists',
    ]);
    // An admin secret registers nothing.
    const refused = await t.post('update_config', {
      auth: secret,
      machine: { uuid: UUID, secret: SECRET, unit_name: 'sql/2', ssh_public_key: KEY, sources: {} },
    });
    expect(refused.status).toBe(403);

    let stdin = 'Zz7sT2vLx9NwR4yZb8HcJ3mFd6sGa1\n';
    io = { ...io, readStdin: () => Promise.resolve(stdin) };
    expect((await run('auth-ensure', 'admin', '--name', 'juju')).stdout).toEqual(['console admin "juju": created']);
    expect((await run('auth-ensure', 'admin', '--name', 'juju')).stdout).toEqual(['console admin "juju": unchanged']);
    expect(await verifyAdmin(t.api.ctx.db, 'juju', 'Zz7sT2vLx9NwR4yZb8HcJ3mFd6sGa1')).toBeDefined();
    stdin = 'Aa7sT2vLx9NwR4yZb8HcJ3mFd6sGa2';
    expect((await run('auth-ensure', 'admin', '--name', 'juju')).stdout).toEqual(['console admin "juju": updated']);
    expect(await verifyAdmin(t.api.ctx.db, 'juju', 'Zz7sT2vLx9NwR4yZb8HcJ3mFd6sGa1')).toBeUndefined();
  });

  it('lists machines, storages and sources as tables or JSON', async () => {
    await deploy();
    const machines = await run('machines');
    expect(machines.stdout[0]).toMatch(/^UUID\s+UNIT_NAME\s+SERVICE_NAME/);
    expect(machines.stdout[1]).toMatch(
      new RegExp(`^${UUID}\\s+sql/2\\s+-\\s+-\\s+primary\\s+yes\\s+yes\\s+yes\\s+no\\s+1\\s`),
    );
    const storages = JSON.parse((await run('storages', '--json')).stdout[0]!) as unknown[];
    expect(storages).toEqual([
      expect.objectContaining({
        name: 'primary',
        machines: 1,
        healthy: true,
        weak_secret: false,
        space_available_mib: 10,
      }),
    ]);
    // A storage with an operator's short secret is listed as weak; no hash is ever shown.
    const weak = await t.post('storage_update_config', {
      auth: await secretOf('storage_reg', '--name', 'old storages'),
      storage: { name: 'legacy', secret: 'pw', ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u' },
    });
    expect(weak.status).toBe(200);
    const table = (await run('storages')).stdout;
    expect(table[0]).toMatch(/^NAME\s+ACTIVE\s+PUBLISHED\s+HEALTHY\s+WEAK_SECRET\s+SSH\s/);
    expect(table.slice(1).map((line) => line.split(/\s+/).slice(0, 5))).toEqual([
      ['legacy', 'yes', 'yes', 'yes', 'yes'],
      ['primary', 'yes', 'yes', 'yes', 'no'],
    ]);
    const listed = JSON.parse((await run('storages', '--json')).stdout[0]!) as Record<string, unknown>[];
    expect(listed.map((row) => [row.name, row.weak_secret])).toEqual([
      ['legacy', true],
      ['primary', false],
    ]);
    for (const command of ['storages', 'machines']) {
      for (const output of [await run(command), await run(command, '--json')]) {
        expect(output.stdout.join('\n')).not.toMatch(/hmac-sha256|scrypt|secret_hash|"pw"|Xk3pR8|Pde0Ig/);
      }
    }
    const sources = JSON.parse((await run('sources', '--json', '--machine', UUID)).stdout[0]!) as unknown[];
    expect(sources).toEqual([
      expect.objectContaining({ machine: UUID, name: 'etc', frequency: 'daily', success: true }),
    ]);
    expect((await run('sources', '--machine', 'nope')).stderr).toEqual(['turku-api: "nope" is not a machine UUID']);
    expect((await run('backups')).stdout).toEqual(['(none)']);
  });

  it('triggers a backup, switches objects on and off, and reassigns a machine', async () => {
    await deploy();
    expect((await run('trigger', UUID, 'etc')).exitCode).toBe(0);
    const due = await t.post('agent_ping_checkin', { machine: { uuid: UUID, secret: SECRET } });
    expect(Object.keys((due.json() as { scheduled_sources: object }).scheduled_sources)).toEqual(['etc']);
    expect((await run('trigger', UUID, 'nope')).stderr).toEqual([
      `turku-api: machine ${UUID} has no source named "nope"`,
    ]);

    expect((await run('deactivate', 'machine', UUID)).exitCode).toBe(0);
    expect((await t.post('agent_ping_checkin', { machine: { uuid: UUID, secret: SECRET } })).status).toBe(403);
    expect((await run('activate', 'machine', UUID)).exitCode).toBe(0);
    expect((await t.post('agent_ping_checkin', { machine: { uuid: UUID, secret: SECRET } })).status).toBe(200);
    expect((await run('deactivate', 'planet', 'earth')).exitCode).toBe(2);

    const other = await secretOf('storage_reg', '--name', 'second');
    await t.post('storage_update_config', {
      auth: { name: 'second', secret: other },
      storage: {
        name: 'secondary',
        secret: STORAGE.secret,
        ssh_ping_host: 'h2',
        ssh_ping_port: 22,
        ssh_ping_user: 'u',
      },
    });
    expect((await run('reassign', UUID, 'secondary')).exitCode).toBe(0);
    const listed = await t.post('storage_update_config', { storage: { name: 'secondary', secret: STORAGE.secret } });
    expect(Object.keys((listed.json() as { machines: object }).machines)).toEqual([UUID]);
    expect((await run('reassign', UUID, 'nowhere')).stderr).toEqual(['turku-api: no storage named "nowhere"']);
  });

  it('saves FilterSets and checks their rules', async () => {
    // Rules start with "-" or "+": they follow "--" so they are not read as options.
    const saved = await runApiCli(['filter-set', 'common', '--config', 'api.yaml', '--', '- *.tmp', '. base'], io);
    expect(saved).toEqual({ exitCode: 0, stdout: ['filter set "common" saved with 2 filters'], stderr: [] });
    expect((await run('filter-set', 'bad', 'rm -rf /')).stderr).toEqual([
      'turku-api: "rm -rf /" is not an rsync filter rule this API passes on',
    ]);
    expect(JSON.parse((await run('filter-sets', '--json')).stdout[0]!)).toEqual([
      { name: 'common', active: true, filters: ['- *.tmp', '. base'], comment: null },
    ]);
  });

  it('cleans logs older than N days, by end time or else by log date', async () => {
    await deploy();
    const reportAt = async (timeEnd?: number) =>
      t.post('storage_ping_source_update', {
        storage: STORAGE,
        machine: {
          uuid: UUID,
          sources: { etc: { success: true, ...(timeEnd === undefined ? {} : { time_end: timeEnd }) } },
        },
      });
    await reportAt(t.clock.getTime() / 1000 - 40 * 86_400); // ended long ago
    await reportAt(); // no end time: judged by its log date
    t.clock = new Date(t.clock.getTime() + 35 * 86_400_000);
    await reportAt(t.clock.getTime() / 1000); // recent
    expect((await run('clean-logs', '--days', '30')).stdout).toEqual(['deleted 2 backup logs']);
    expect(JSON.parse((await run('backups', '--json')).stdout[0]!)).toHaveLength(1);
    expect((await run('clean-logs')).exitCode).toBe(2);
    expect((await run('clean-logs', '--days', '-1')).exitCode).toBe(2);
  });

  it('prints the Nagios health line: OK, then CRITICAL with the sick objects', async () => {
    expect(await run('health')).toEqual({ exitCode: 0, stdout: ['OK 0 storages, 0 machines, 0 sources'], stderr: [] });
    await deploy();
    expect((await run('health')).stdout).toEqual(['OK 1 storages, 1 machines, 1 sources']);
    t.clock = new Date(t.clock.getTime() + 11 * HOUR);
    expect(await run('health')).toEqual({
      exitCode: 2,
      stdout: [
        'CRITICAL 1/1 storages, 1/1 machines, 1/1 sources',
        '<Storage: primary>',
        '<Machine: sql/2 (9bef0a75)>',
        '<Source: sql/2 etc>',
      ],
      stderr: [],
    });
  });

  it('prints UNKNOWN with exit 3 when the database cannot be opened', async () => {
    io = { ...io, openContext: () => Promise.reject(new Error('connection refused')) };
    expect(await run('health')).toEqual({ exitCode: 3, stdout: ['UNKNOWN database: connection refused'], stderr: [] });
    expect((await run('machines')).exitCode).toBe(1);
  });
});

describe('turku-api settings files', () => {
  it('reports a bad key as exit 2 with the key named', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { loadSettings } = await import('./settings.js');
    const dir = await mkdtemp(join(tmpdir(), 'turku-api-cli-'));
    const file = join(dir, 'api.yaml');
    await writeFile(file, 'listen: 127.0.0.1:8000\ntime_zon: UTC\n');
    const result = await runApiCli(['machines', '--config', file], {
      loadSettings,
      openContext: () => Promise.reject(new Error('not reached')),
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toContain('time_zon');
    await rm(dir, { recursive: true, force: true });
  });
});
