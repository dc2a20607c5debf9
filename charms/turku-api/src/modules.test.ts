// The charm's pure pieces, and its declarations against its zod schemas.
import { describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';

import { checkActionsDeclaration, checkConfigDeclaration } from '../../../lib/charm/declarations.js';
import { readStorageUnit } from '../../../lib/charm-interfaces/index.js';
import { ACTION_PARAMS, ApiCharmConfig, servingPlan, turkuApiCharm } from './charm.js';
import { apiSettingsFile, publishedApiUrl } from './config-files.js';
import { databaseAnswer } from './database.js';
import { authName, newRegistrationSecret, relationOfLabel, secretLabel } from './registrations.js';
import { type StorageUnitReport, formatMebibytes, mergeStorages, storagesStatus } from './storages.js';

const CHARM_DIR = fileURLToPath(new URL('..', import.meta.url));
const config = { port: 8000, 'external-url': '', 'log-level': 'info' as const, 'metrics-per-source': true };

test('charmcraft.yaml declares exactly the config and actions the zod schemas accept', async () => {
  const declared = loadYaml(await readFile(`${CHARM_DIR}/charmcraft.yaml`, 'utf8')) as {
    config: { options: Record<string, never> };
    actions: Record<string, never>;
  };
  const charm = turkuApiCharm(() => {
    throw new Error('no host needed');
  });
  expect(checkConfigDeclaration(ApiCharmConfig, declared.config.options)).toEqual([]);
  expect(checkActionsDeclaration(charm.actions!, declared.actions)).toEqual([]);
  expect(Object.keys(ACTION_PARAMS).sort()).toEqual(Object.keys(declared.actions).sort());
});

describe('servingPlan', () => {
  const sqlitePath = '/r/var/lib/turku-api/turku-api.db';
  const ready = { ready: true as const, url: 'postgresql://u:p@h:5432/turku_api', endpoint: 'h:5432' };

  test('one unit serves SQLite; more units without a database: only the leader serves, all say why', () => {
    expect(servingPlan({ database: undefined, units: 1, leader: true, sqlitePath })).toEqual({
      serve: { kind: 'sqlite', path: sqlitePath },
    });
    const blocked = '3 units need a shared database: integrate with postgresql (database endpoint)';
    expect(servingPlan({ database: undefined, units: 3, leader: true, sqlitePath })).toEqual({
      serve: { kind: 'sqlite', path: sqlitePath },
      blocked,
    });
    expect(servingPlan({ database: undefined, units: 3, leader: false, sqlitePath })).toEqual({
      serve: undefined,
      blocked: `${blocked}; this unit does not serve until then`,
    });
  });

  test('a database relation: PostgreSQL on every unit once ready, waiting until then', () => {
    expect(servingPlan({ database: ready, units: 3, leader: false, sqlitePath })).toEqual({
      serve: { kind: 'postgresql', url: ready.url },
    });
    expect(
      servingPlan({ database: { ready: false, missing: 'endpoints' }, units: 1, leader: true, sqlitePath }),
    ).toEqual({
      serve: undefined,
      waiting: 'waiting for the database relation: endpoints',
    });
  });
});

describe('databaseAnswer', () => {
  test('takes the first endpoint and the credentials from the secret before the bag', () => {
    expect(
      databaseAnswer(
        { endpoints: '10.0.0.5:5432,10.0.0.6:5432', username: 'old', password: 'old', database: 'turku_api' },
        { username: 'relation-7', password: 'p@ss' },
      ),
    ).toEqual({
      ready: true,
      endpoint: '10.0.0.5:5432',
      url: 'postgresql://relation-7:p%40ss@10.0.0.5:5432/turku_api',
    });
    expect(databaseAnswer({ endpoints: '[fd00::5]:5432', username: 'u', password: '' }, undefined)).toMatchObject({
      ready: true,
      url: 'postgresql://u:@[fd00::5]:5432/turku_api',
    });
  });

  test('names what is missing', () => {
    expect(databaseAnswer({}, undefined)).toEqual({ ready: false, missing: 'endpoints' });
    expect(databaseAnswer({ endpoints: 'db host:5432' }, undefined)).toEqual({
      ready: false,
      missing: 'endpoints (got "db host:5432", expected host:port)',
    });
    expect(databaseAnswer({ endpoints: 'h:5432' }, undefined)).toEqual({ ready: false, missing: 'username' });
    expect(databaseAnswer({ endpoints: 'h:5432', 'secret-user': 'secret:x' }, {})).toEqual({
      ready: false,
      missing: 'secret-user content',
    });
    expect(databaseAnswer({ endpoints: 'h:5432', username: 'u' }, undefined)).toEqual({
      ready: false,
      missing: 'password',
    });
  });
});

describe('settings file and URL', () => {
  test('SQLite settings are 0644, PostgreSQL ones (a password) 0600', () => {
    expect(apiSettingsFile(config, { kind: 'sqlite', path: '/db' })).toEqual({
      text: '{\n  "listen": "0.0.0.0:8000",\n  "database_path": "/db",\n  "log_level": "info"\n}\n',
      mode: 0o644,
    });
    const pgFile = apiSettingsFile(
      { ...config, 'log-level': 'debug' },
      { kind: 'postgresql', url: 'postgresql://u:p@h:1/d' },
    );
    expect(JSON.parse(pgFile.text)).toEqual({
      listen: '0.0.0.0:8000',
      database_url: 'postgresql://u:p@h:1/d',
      log_level: 'debug',
    });
    expect(pgFile.mode).toBe(0o600);
  });

  test('per-source metrics are on by default and written only when turned off', () => {
    const off = apiSettingsFile({ ...config, 'metrics-per-source': false }, { kind: 'sqlite', path: '/db' });
    expect(JSON.parse(off.text)).toMatchObject({ metrics_per_source: false });
    expect(JSON.parse(apiSettingsFile(config, { kind: 'sqlite', path: '/db' }).text)).not.toHaveProperty(
      'metrics_per_source',
    );
  });

  test('the published URL: external-url, else the ingress address (IPv6 in brackets)', () => {
    expect(publishedApiUrl(config, '10.1.2.3')).toBe('http://10.1.2.3:8000/v1');
    expect(publishedApiUrl(config, 'fd00::3')).toBe('http://[fd00::3]:8000/v1');
    expect(publishedApiUrl({ ...config, 'external-url': 'https://turku.example.com/v1' }, '10.1.2.3')).toBe(
      'https://turku.example.com/v1',
    );
  });
});

describe('registration names', () => {
  test('labels map to relations and back; secrets are long random alphanumerics', () => {
    expect(secretLabel('agents:3')).toBe('agents-registration-3');
    expect(relationOfLabel('storages-registration-12')).toBe('storages:12');
    expect(relationOfLabel('something-else')).toBeUndefined();
    expect(relationOfLabel(undefined)).toBeUndefined();
    expect(authName('agents:3')).toBe('juju agents:3');
    const secret = newRegistrationSecret();
    expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(newRegistrationSecret()).not.toBe(secret);
  });
});

describe('storages', () => {
  const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
  const read = readStorageUnit({
    'storage-name': 'primary',
    'ssh-host': 'p.example.com',
    'ssh-port': '2222',
    'ssh-user': 'ping',
    'ssh-host-keys': JSON.stringify([KEY]),
    'space-total-mib': '2097152',
    'space-available-mib': '1572864',
  });
  if (!read.ok) throw new Error(read.problems.join());
  const reports: StorageUnitReport[] = [
    { unit: 'turku-storage/0', ok: true, value: read.value },
    { unit: 'turku-storage/1', ok: false, problems: ['ssh-port: expected JSON text'] },
  ];

  test('the status part lists storages with free space and names units with bad data', () => {
    expect(formatMebibytes(512)).toBe('512 MiB');
    expect(formatMebibytes(512_000)).toBe('500 GiB');
    expect(storagesStatus(reports)).toBe(
      'storages: primary 1.5 TiB free; bad data from turku-storage/1 (ssh-port: expected JSON text)',
    );
    expect(storagesStatus([])).toBe('no storages related');
  });

  test('list-storages merges the registered storages with the related ones by name', () => {
    const merged = mergeStorages(
      [
        {
          name: 'old',
          active: false,
          healthy: false,
          ssh: 'u@old:22',
          space_total_mib: 10,
          space_available_mib: 5,
          machines: 2,
          date_checked_in: null,
        },
        {
          name: 'primary',
          active: true,
          healthy: true,
          ssh: 'ping@stale:22',
          space_total_mib: 1,
          space_available_mib: 1,
          machines: 4,
          date_checked_in: '2024-12-15T07:00:00.000Z',
        },
      ],
      reports,
    );
    expect(merged).toEqual([
      {
        name: 'old',
        registered: true,
        unit: null,
        active: false,
        healthy: false,
        machines: 2,
        ssh: 'u@old:22',
        'space-total-mib': 10,
        'space-available-mib': 5,
        'date-checked-in': null,
      },
      {
        name: 'primary',
        registered: true,
        unit: 'turku-storage/0',
        active: true,
        healthy: true,
        machines: 4,
        ssh: 'ping@p.example.com:2222',
        'space-total-mib': 2_097_152,
        'space-available-mib': 1_572_864,
        'date-checked-in': '2024-12-15T07:00:00.000Z',
      },
    ]);
  });
});
