import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { listMachines, listSources } from '../api/admin/commands.js';
import { tryLock } from '../common/lock.js';
import {
  agentTree,
  apiWithStorage,
  captureIo,
  closedPort,
  removeTempDirs,
  type ApiWithStorage,
} from './__tests__/helpers.js';
import { parseAgentSettings } from './settings.js';
import { IDENTITY_FILE } from './state.js';
import { registrationAuth } from '../common/registration-auth.js';
import { runUpdateConfig, updateConfigRequest } from './update-config.js';

afterAll(removeTempDirs);

describe('turku-update-config against a real API', () => {
  let t: ApiWithStorage;
  beforeEach(async () => {
    t = await apiWithStorage();
  }, 30_000);
  afterEach(() => t.api.close());

  it('creates the local state, registers the machine and sends its sources', async () => {
    const tree = await agentTree(
      { api_url: t.api.url, environment_name: 'prod', service_name: 'sql', unit_name: 'sql/2' },
      { etc: { path: '/etc' }, home: { path: '/home', frequency: 'daily, 0200-0600', exclude: ['*.tmp'] } },
    );
    await mkdir(join(tree.varDir, 'sources.d'), { recursive: true });
    await writeFile(join(tree.varDir, 'rsyncd.conf'), 'legacy');
    await writeFile(join(tree.varDir, 'sources.d', '10-etc.json'), '{}');
    const io = captureIo();
    const code = await runUpdateConfig(
      ['-c', tree.configDir, '--api-auth-name', t.machineAuth.name, '--api-auth-secret', t.machineAuth.secret],
      io,
    );
    expect([code, io.err(), io.out()]).toEqual([0, expect.stringContaining('Generated the machine identity'), '']);

    const identity = JSON.parse(await readFile(join(tree.varDir, 'config.d', IDENTITY_FILE), 'utf8')) as {
      machine_uuid: string;
    };
    const [machine] = await listMachines(t.api.api.ctx);
    expect(machine).toMatchObject({
      uuid: identity.machine_uuid,
      unit_name: 'sql/2',
      service_name: 'sql',
      environment_name: 'prod',
      storage: 'primary',
      published: true,
    });
    const sources = await listSources(t.api.api.ctx);
    expect(sources.map((source) => [source.name, source.path, source.frequency])).toEqual([
      ['etc', '/etc', 'daily'],
      ['home', '/home', 'daily, 0200-0600'],
    ]);
    for (const dir of ['etc/config.d', 'etc/sources.d', 'var/config.d'])
      expect(existsSync(join(tree.root, dir))).toBe(true);
    expect(existsSync(join(tree.varDir, 'rsyncd.conf'))).toBe(false);
    expect(existsSync(join(tree.varDir, 'sources.d'))).toBe(false);
    expect(existsSync(join(tree.lockDir, 'turku-update-config.lock'))).toBe(false);

    // A second run needs no registration credential and keeps the identity and key.
    const key = await readFile(join(tree.varDir, 'ssh_key.pub'), 'utf8');
    await writeSourcesOnly(tree.configDir, { etc: { path: '/etc' } });
    const again = captureIo();
    expect(await runUpdateConfig(['--config-dir', tree.configDir], again)).toBe(0);
    expect(again.err()).toBe('');
    expect(await readFile(join(tree.varDir, 'ssh_key.pub'), 'utf8')).toBe(key);
    expect((await listSources(t.api.api.ctx)).map((source) => [source.name, source.published])).toEqual([
      ['etc', true],
      ['home', false],
    ]);
  }, 30_000);

  it('fails with one line when the API refuses the configuration (400)', async () => {
    const tree = await agentTree(
      { api_url: t.api.url, api_auth_name: t.machineAuth.name, api_auth_secret: t.machineAuth.secret },
      { home: { path: '/home', frequency: 'daily, 2am' } },
    );
    const io = captureIo();
    expect(await runUpdateConfig(['-c', tree.configDir], io)).toBe(1);
    const lines = io
      .err()
      .split('\n')
      .filter((line) => !line.includes('] INFO: Generated'));
    expect(lines).toEqual([
      'turku-update-config: API update_config refused: HTTP 400 Validation error: source "home": ' +
        'frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)',
      '',
    ]);
    expect(await listMachines(t.api.api.ctx)).toEqual([]);
  }, 30_000);

  it('fails with one line when the registration credential is wrong (403)', async () => {
    const tree = await agentTree({ api_url: t.api.url }, { etc: { path: '/etc' } });
    const io = captureIo();
    expect(
      await runUpdateConfig(
        ['-c', tree.configDir, '--api-auth-name', t.machineAuth.name, '--api-auth-secret', 'nope'],
        io,
      ),
    ).toBe(1);
    expect(io.err()).toMatch(/\nturku-update-config: API update_config refused: HTTP 403 Bad auth\n$/);
  }, 30_000);
});

async function writeSourcesOnly(configDir: string, sources: Record<string, unknown>): Promise<void> {
  await writeFile(join(configDir, 'sources.d', 'test.json'), JSON.stringify(sources));
}

describe('turku-update-config failures', () => {
  it('names the API it cannot reach, in one line', async () => {
    const port = await closedPort();
    const tree = await agentTree({ api_url: `http://127.0.0.1:${port}/v1` });
    const io = captureIo();
    expect(await runUpdateConfig(['-c', tree.configDir], io)).toBe(1);
    const last = io.err().trimEnd().split('\n').at(-1);
    expect(last).toMatch(
      new RegExp(`^turku-update-config: Cannot reach the API at http://127\\.0\\.0\\.1:${port}/v1: .*ECONNREFUSED`),
    );
  });

  it('requires api_url', async () => {
    const tree = await agentTree();
    const io = captureIo();
    expect(await runUpdateConfig(['-c', tree.configDir], io)).toBe(1);
    expect(io.err()).toBe(`turku-update-config: api_url is not set in ${join(tree.configDir, 'config.d')}\n`);
    expect(existsSync(join(tree.varDir, 'ssh_key'))).toBe(false);
  });

  it('reports a broken configuration file', async () => {
    const tree = await agentTree({ api_url: 'http://127.0.0.1:1/v1' });
    await writeFile(join(tree.configDir, 'config.d', '60-broken.json'), '{"oops":');
    const io = captureIo();
    expect(await runUpdateConfig(['-c', tree.configDir], io)).toBe(1);
    expect(io.err()).toMatch(/^turku-update-config: Error loading .*60-broken\.json: .*\n$/);
  });

  it('refuses to run while another run holds the lock', async () => {
    const tree = await agentTree({ api_url: 'http://127.0.0.1:1/v1' });
    await mkdir(tree.lockDir);
    const lock = await tryLock(tree.lockDir, 'turku-update-config');
    try {
      const io = captureIo();
      expect(await runUpdateConfig(['-c', tree.configDir], io)).toBe(1);
      expect(io.err()).toBe(`turku-update-config: Another turku-update-config is running (lock ${tree.lockDir})\n`);
    } finally {
      await lock?.release();
    }
  });

  it('exits 2 on a bad flag and prints usage on --help', async () => {
    const bad = captureIo();
    expect(await runUpdateConfig(['--bogus'], bad)).toBe(2);
    expect(bad.err()).toMatch(/^turku-update-config: Unknown option '--bogus'.*\n$/);
    const help = captureIo();
    expect(await runUpdateConfig(['--help'], help)).toBe(0);
    expect(help.out()).toContain('--api-auth-name');
  });
});

describe('the update_config request', () => {
  const settings = parseAgentSettings(
    { api_url: 'http://x/v1', environment_name: 'prod', published: false, api_auth: 'legacy-secret' },
    { hostname: 'web-1' },
  );
  const identity = { machine_uuid: '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d', machine_secret: 'S'.repeat(30) };

  it('carries the identity, the set fields, the key, the sources verbatim and the ask for a tunnel port allowance', () => {
    expect(
      updateConfigRequest(settings, identity, 'ssh-ed25519 AAAA turku', { etc: { path: '/etc', extra: 1 } }),
    ).toEqual({
      auth: 'legacy-secret',
      machine: {
        uuid: identity.machine_uuid,
        secret: identity.machine_secret,
        environment_name: 'prod',
        unit_name: 'web-1',
        ssh_public_key: 'ssh-ed25519 AAAA turku',
        published: false,
        sources: { etc: { path: '/etc', extra: 1 } },
        tunnel_allowance: true,
      },
    });
  });

  it('prefers a named credential, flags over the configuration', () => {
    const named = { ...settings, api_auth_name: 'Machine Registrations', api_auth_secret: 'from-config' };
    expect(registrationAuth(named)).toEqual({ name: 'Machine Registrations', secret: 'from-config' });
    expect(registrationAuth(named, { secret: 'from-flag' })).toEqual({
      name: 'Machine Registrations',
      secret: 'from-flag',
    });
    expect(registrationAuth({ ...settings, api_auth: undefined })).toBeUndefined();
  });
});

it('writes the identity file with mode 0600', async () => {
  // Covered in state.test.ts; here only that update-config goes through it.
  const port = await closedPort();
  const tree = await agentTree({ api_url: `http://127.0.0.1:${port}/v1` });
  await runUpdateConfig(['-c', tree.configDir], captureIo());
  expect((await stat(join(tree.varDir, 'config.d', IDENTITY_FILE))).mode & 0o777).toBe(0o600);
  expect((await stat(join(tree.varDir, 'ssh_key'))).mode & 0o777).toBe(0o600);
});
