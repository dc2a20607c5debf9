import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ConfigFileError } from '../turku/config.js';
import { DEFAULT_SQLITE_PATH, loadSettings, parseListen, parseSettings } from './settings.js';

/** The ConfigFileError that `parse` throws; fails the test when it throws nothing or something else. */
function configErrorOf(parse: () => unknown): ConfigFileError {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigFileError);
    return error as ConfigFileError;
  }
  throw new Error('expected a ConfigFileError, but nothing was thrown');
}

describe('parseSettings defaults (docs/api.md, "Settings file")', () => {
  const settings = parseSettings({});

  it('listens on 0.0.0.0:8000', () => {
    expect(settings.listen).toEqual({ host: '0.0.0.0', port: 8000 });
  });

  it('uses UTC, Sunday weeks and a 300 s / 21600 s backoff', () => {
    expect(settings.time_zone).toBe('UTC');
    expect(settings.week_start).toBe('sunday');
    expect(settings.backoff_initial).toBe(300);
    expect(settings.backoff_max).toBe(21_600);
  });

  it('has no database_url or TLS, and the default SQLite path', () => {
    expect(settings.database_url).toBeUndefined();
    expect(settings.tls_cert).toBeUndefined();
    expect(settings.tls_key).toBeUndefined();
    expect(settings.database_path).toBe(DEFAULT_SQLITE_PATH);
    expect(DEFAULT_SQLITE_PATH).toBe('/var/lib/turku-api/turku-api.db');
  });

  it('takes given values over the defaults', () => {
    const custom = parseSettings({
      listen: '127.0.0.1:9000',
      time_zone: 'Europe/Helsinki',
      week_start: 'monday',
      backoff_initial: 60,
      backoff_max: 600,
      database_url: 'postgresql://turku@db.example/turku',
      database_path: '/tmp/x.db',
      tls_cert: '/etc/ssl/cert.pem',
      tls_key: '/etc/ssl/key.pem',
    });
    expect(custom).toMatchObject({
      listen: { host: '127.0.0.1', port: 9000 },
      time_zone: 'Europe/Helsinki',
      week_start: 'monday',
      backoff_initial: 60,
      backoff_max: 600,
      database_url: 'postgresql://turku@db.example/turku',
      database_path: '/tmp/x.db',
      tls_cert: '/etc/ssl/cert.pem',
      tls_key: '/etc/ssl/key.pem',
    });
  });

  it('accepts postgres:// as well as postgresql:// and backoff_max equal to backoff_initial', () => {
    expect(parseSettings({ database_url: 'postgres://u:p@h:5432/d' }).database_url).toBe('postgres://u:p@h:5432/d');
    expect(parseSettings({ backoff_initial: 500, backoff_max: 500 }).backoff_max).toBe(500);
  });
});

describe('parseListen', () => {
  it('parses IPv4 HOST:PORT', () => {
    expect(parseListen('127.0.0.1:8000')).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(parseListen('localhost:65535')).toEqual({ host: 'localhost', port: 65_535 });
  });

  it('parses a bracketed IPv6 host, without the brackets', () => {
    expect(parseListen('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(parseListen('[::]:80')).toEqual({ host: '::', port: 80 });
  });

  it('an empty host means 0.0.0.0', () => {
    expect(parseListen(':8000')).toEqual({ host: '0.0.0.0', port: 8000 });
  });

  it('rejects ports above 65535', () => {
    expect(parseListen('127.0.0.1:70000')).toBeUndefined();
    expect(parseListen('127.0.0.1:65536')).toBeUndefined();
    expect(parseListen(':99999')).toBeUndefined();
  });

  it('rejects a missing or non-numeric port and unbracketed IPv6', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:', '8000', '', 'host:http', 'host:80x', '::1:8000', '[::1]', 'a:b:80']) {
      expect(parseListen(bad)).toBeUndefined();
    }
  });
});

describe('parseSettings errors are ConfigErrors naming the key', () => {
  it('an unknown key (a typo) is an error, not a silent default', () => {
    const error = configErrorOf(() => parseSettings({ lisen: '127.0.0.1:8000' }));
    expect(error.message).toContain('lisen');
  });

  it('a bad listen address names "listen"', () => {
    expect(configErrorOf(() => parseSettings({ listen: '0.0.0.0:70000' })).message).toContain('listen');
    expect(configErrorOf(() => parseSettings({ listen: '0.0.0.0' })).message).toContain('listen');
  });

  it('an unknown time zone names "time_zone" and the value', () => {
    const error = configErrorOf(() => parseSettings({ time_zone: 'Mars/Base' }));
    expect(error.message).toContain('time_zone');
    expect(error.message).toContain('Mars/Base');
  });

  it('an unknown week start names "week_start"', () => {
    expect(configErrorOf(() => parseSettings({ week_start: 'funday' })).message).toContain('week_start');
  });

  it('tls_cert without tls_key (and the reverse) is an error naming both', () => {
    for (const raw of [{ tls_cert: '/etc/ssl/cert.pem' }, { tls_key: '/etc/ssl/key.pem' }]) {
      const error = configErrorOf(() => parseSettings(raw));
      expect(error.message).toContain('tls_cert');
      expect(error.message).toContain('tls_key');
    }
  });

  it('backoff_max below backoff_initial is an error naming backoff_max', () => {
    const error = configErrorOf(() => parseSettings({ backoff_initial: 600, backoff_max: 300 }));
    expect(error.message).toContain('backoff_max');
    // Also against the default initial of 300.
    expect(configErrorOf(() => parseSettings({ backoff_max: 299 })).message).toContain('backoff_max');
  });

  it('a non-positive or non-numeric backoff names its key', () => {
    expect(configErrorOf(() => parseSettings({ backoff_initial: 0 })).message).toContain('backoff_initial');
    expect(configErrorOf(() => parseSettings({ backoff_max: '600' })).message).toContain('backoff_max');
  });

  it('a database_url that is not postgres names "database_url"', () => {
    for (const url of ['mysql://u@h/d', 'sqlite:///tmp/x.db', 'http://postgres://x', 'db.example']) {
      expect(configErrorOf(() => parseSettings({ database_url: url })).message).toContain('database_url');
    }
  });

  it('includes the origin in the message', () => {
    expect(configErrorOf(() => parseSettings({ bogus: 1 }, '/etc/turku-api/config.yaml')).message).toContain(
      '/etc/turku-api/config.yaml',
    );
  });
});

describe('loadSettings', () => {
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'turku-settings-test-'));
  });

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('reads a YAML file', async () => {
    const file = join(dir, 'settings.yaml');
    await writeFile(file, "listen: '[::1]:8443'\ntime_zone: Europe/Helsinki\nbackoff_initial: 60\nbackoff_max: 120\n");
    const settings = await loadSettings(file);
    expect(settings).toMatchObject({
      listen: { host: '::1', port: 8443 },
      time_zone: 'Europe/Helsinki',
      backoff_initial: 60,
      backoff_max: 120,
      week_start: 'sunday',
    });
  });

  it('reads a JSON file', async () => {
    const file = join(dir, 'settings.json');
    await writeFile(file, JSON.stringify({ week_start: 'monday', database_url: 'postgresql://turku@db/turku' }));
    const settings = await loadSettings(file);
    expect(settings).toMatchObject({
      week_start: 'monday',
      database_url: 'postgresql://turku@db/turku',
      listen: { host: '0.0.0.0', port: 8000 },
      time_zone: 'UTC',
    });
  });

  it('an empty YAML file gives the defaults', async () => {
    const file = join(dir, 'empty.yaml');
    await writeFile(file, '');
    expect(await loadSettings(file)).toEqual(parseSettings({}));
  });

  it('reports a bad key in a file as a ConfigFileError naming the file and the key', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'time_zone: Mars/Base\n');
    const error = await loadSettings(file).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).message).toContain(file);
    expect((error as ConfigFileError).message).toContain('time_zone');
  });

  it('reports a missing file as a ConfigFileError naming it', async () => {
    const file = join(dir, 'does-not-exist.yaml');
    const error = await loadSettings(file).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as ConfigFileError).message).toContain(file);
  });
});
