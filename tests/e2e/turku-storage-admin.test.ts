// The built turku-storage-admin as an operator runs it (an e2e test: one part needs root): a real process over a storage directory
// (configuration, machines/ with a friendly link, link-dest snapshots and Borg archives made with
// the workload's own code), its output parsed as a person or the storage charm reads it.
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execa } from 'execa';

import { lookupAccount } from '../../lib/storage/accounts.js';
import { tryLock } from '../../lib/common/lock.js';
import { loadStorageSettings } from '../../lib/storage/load-settings.js';
import { machineDirectory, updateFriendlyLink } from '../../lib/storage/machine-dir.js';
import type { StorageSettings } from '../../lib/storage/settings.js';
import { borgRepo } from '../../lib/storage/snapshots/paths.js';
import { chooseVolume, measureVolumes } from '../../lib/storage/volumes.js';
import { checkoutDist } from '../support/machines.js';
import { StoredSource } from '../support/stored-snapshots.js';

jest.setTimeout(120_000);

const PROGRAM = join(checkoutDist, 'lib/storage/admin-main.js');
const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const FRIENDLY = 'prod-sql-sql_2';

let dir: string;
let configDir: string;
let settings: StorageSettings;
let etc: StoredSource;
let home: StoredSource;
let machineDir: string;

/** The storage's configuration as an operator or the charm writes it. */
async function writeConfig(extra: Record<string, unknown> = {}): Promise<void> {
  await mkdir(join(configDir, 'config.d'), { recursive: true });
  const config = {
    name: 'storage-test',
    secret: 's'.repeat(30),
    api_url: 'http://127.0.0.1:9/',
    volumes: { default: { path: join(dir, 'backups') } },
    var_dir: join(dir, 'var'),
    lock_dir: join(dir, 'lock'),
    log_file: join(dir, 'turku-storage.log'),
    ...extra,
  };
  await writeFile(join(configDir, 'config.d', '10-test.json'), JSON.stringify(config));
}

async function admin(...args: string[]) {
  const result = await execa(process.execPath, [PROGRAM, ...args, '--config-dir', configDir], {
    reject: false,
    stdin: 'ignore',
    timeout: 90_000,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function adminJson<T>(...args: string[]): Promise<T> {
  const result = await admin(...args, '--json');
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

type Listing = { machine: string; names: string[]; sources: Record<string, { name: string; mode: string }[]> }[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'turku-storage-admin-'));
  configDir = join(dir, 'etc');
  // What an installation makes (the charm, or an operator by hand).
  for (const made of ['backups', 'lock']) await mkdir(join(dir, made), { recursive: true });
  await writeConfig();
  settings = await loadStorageSettings(configDir);
  machineDir = await machineDirectory(settings.var_dir, UUID, async () =>
    chooseVolume(await measureVolumes(settings, () => undefined)),
  );
  await updateFriendlyLink(settings.var_dir, FRIENDLY, UUID);
  etc = new StoredSource(settings, machineDir, 'etc');
  for (const days of [40, 9, 3, 1]) await etc.linkDest(days);
  home = new StoredSource(settings, machineDir, 'home');
  for (const days of [20, 2]) await home.borg(days);
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('list-snapshots', () => {
  it('--json: every machine with its friendly names, sources and snapshots of both kinds', async () => {
    const listing = await adminJson<Listing>('list-snapshots');
    expect(listing).toHaveLength(1);
    expect(listing[0]).toMatchObject({ machine: UUID, names: [FRIENDLY] });
    expect(listing[0]!.sources.etc!.map((s) => [s.name, s.mode])).toEqual(etc.names.map((n) => [n, 'link-dest']));
    expect(listing[0]!.sources.home!.map((s) => [s.name, s.mode])).toEqual(home.names.map((n) => [n, 'borg']));
  });

  it('a table for people: a header, one row per snapshot, the totals', async () => {
    const result = await admin('list-snapshots', '--machine', FRIENDLY, '--source', 'etc');
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^MACHINE +NAMES +SOURCE +SNAPSHOT +MODE +FINISHED$/);
    expect(lines.slice(1, 5).map((line) => line.split(/ +/).slice(0, 5))).toEqual(
      etc.names.map((name) => [UUID, FRIENDLY, 'etc', name, 'link-dest']),
    );
    expect(lines.at(-1)).toBe('1 machine, 4 snapshots');
  });
});

describe('verify', () => {
  it('the latest link-dest snapshot, by friendly name, against its manifest', async () => {
    expect(await adminJson('verify', FRIENDLY, 'etc')).toMatchObject({
      machine: UUID,
      source: 'etc',
      name: etc.names.at(-1),
      snapshot: etc.names.at(-1),
      mode: 'link-dest',
      checkedFiles: 1,
      complete: true,
      problems: [],
      manifest: { recorded: 'backup' },
    });
  });

  it('a Borg archive passes borg check --verify-data; the table says OK', async () => {
    const result = await admin('verify', UUID.toUpperCase(), 'home', home.names[0]!);
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toMatch(/^OK\n/);
    expect(result.stdout).toContain(`snapshot  ${home.names[0]!}\n`);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('checked   borg check --verify-data');
  });

  it('a snapshot taken before manifests: no-manifest, exit 1; `manifest` records one after the fact', async () => {
    const old = new StoredSource(settings, machineDir, 'old');
    const name = await old.linkDest(5, { manifest: false });
    const result = await admin('verify', UUID, 'old', '--json');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`turku-storage-admin: 1 problem in snapshot ${name}: 1 no-manifest`);
    expect(JSON.parse(result.stdout)).toMatchObject({ problems: [{ path: '', kind: 'no-manifest' }] });
    const recorded = await admin('manifest', UUID, 'old', name);
    expect(recorded).toMatchObject({ exitCode: 0, stderr: '' });
    expect(recorded.stdout).toMatch(/^Recorded\n(.*\n)*recorded +after-the-fact\n/);
    expect(await adminJson('verify', UUID, 'old')).toMatchObject({
      problems: [],
      manifest: { recorded: 'after-the-fact' },
    });
  });
});

describe('bad input: one line on stderr, nothing on stdout', () => {
  it.each([
    [['verify', UUID, 'var'], 1, `no snapshots of source "var" on machine ${UUID}`],
    [['verify', UUID, 'etc', 'etc_20000101-000000_dead'], 1, /^snapshot "etc_20000101-000000_dead" not found/],
    [['verify', 'nowhere', 'etc'], 1, 'machine "nowhere" has no data on this storage'],
    [['list-snapshots', '--machine', 'nowhere'], 1, 'machine "nowhere" has no data on this storage'],
    [
      ['expire', '--retention', 'last 1 days', '--machine', 'nowhere'],
      1,
      'machine "nowhere" has no data on this storage',
    ],
    [['frob'], 2, 'unknown command "frob" (see turku-storage-admin --help)'],
    [['list-snapshots', '--bogus'], 2, /^Unknown option '--bogus'/],
    [['verify', UUID], 2, /^verify: missing arguments/],
    [['expire', '--retention', 'last 2 fortnights ago'], 2, /^retention: /],
  ] as [string[], number, string | RegExp][])('%j exits %i', async (args, exitCode, message) => {
    const result = await admin(...args);
    expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({ exitCode, stdout: '' });
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const text = lines[0]!.replace(/^turku-storage-admin: /, '');
    expect(lines[0]).toMatch(/^turku-storage-admin: /);
    if (typeof message === 'string') expect(text).toBe(message);
    else expect(text).toMatch(message);
  });

  it('a configuration directory without a storage configuration exits 2', async () => {
    const result = await execa(process.execPath, [PROGRAM, 'list-snapshots', '-c', join(dir, 'nothing')], {
      reject: false,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`turku-storage-admin: ${join(dir, 'nothing')}: Incomplete config: name: is required`);
  });
});

describe('expire', () => {
  it('skips a machine busy with a backup', async () => {
    const lock = await tryLock(settings.lock_dir, `turku-storage-ping-${UUID}`);
    try {
      expect(await adminJson('expire', '--retention', 'last 1 snapshots')).toEqual({
        dry_run: false,
        count: 0,
        removed: {},
        busy: [UUID],
      });
    } finally {
      await lock!.release();
    }
  });

  it('min_age keeps what is younger, whatever the policy asks, and says so on stderr', async () => {
    await writeConfig({ min_age: '10d' });
    try {
      const dry = await admin('expire', '--retention', 'last 1 snapshots', '--dry-run', '--json');
      expect(dry.exitCode).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({
        count: 2,
        removed: { [UUID]: { etc: etc.names.slice(0, 1), home: home.names.slice(0, 1) } },
      });
      expect(dry.stderr).toContain(
        `turku-storage-admin: warning: Retention asked to delete 2 snapshots younger than min_age (1w 3d), kept: ${etc.names.slice(1, 3).join(', ')}`,
      );
      await writeConfig({ min_age: '1000d' });
      const real = await admin('expire', '--retention', 'last 1 snapshots', '--json');
      expect(JSON.parse(real.stdout)).toMatchObject({ dry_run: false, count: 0, removed: {} });
      expect(real.stderr).toContain('younger than min_age');
      expect((await adminJson<Listing>('list-snapshots'))[0]!.sources.etc).toHaveLength(4);
    } finally {
      await writeConfig();
    }
  });

  it('--dry-run reports; a real run removes what the policy does not keep, of both kinds', async () => {
    const dry = await admin('expire', '--retention', 'last 5 days', '--dry-run');
    expect(dry).toMatchObject({ exitCode: 0, stderr: '' });
    expect(dry.stdout.trimEnd().split('\n').at(-1)).toBe('would remove 3 snapshots (dry run: nothing changed)');
    expect((await adminJson<Listing>('list-snapshots'))[0]!.sources.etc).toHaveLength(4);

    expect(await adminJson('expire', '--retention', 'last 5 days', '--machine', FRIENDLY)).toEqual({
      dry_run: false,
      count: 3,
      removed: { [UUID]: { etc: etc.names.slice(0, 2), home: home.names.slice(0, 1) } },
      busy: [],
    });
    const listing = await adminJson<Listing>('list-snapshots');
    expect(listing[0]!.sources.etc!.map((s) => s.name)).toEqual(etc.names.slice(2));
    expect(listing[0]!.sources.home!.map((s) => s.name)).toEqual(home.names.slice(1));
  });
});

// Run as root, what borg touched goes back to the ping account, or the next backup could not
// write its own repository.
describe('as root', () => {
  it('gives the Borg repository and state back to the ping account', async () => {
    const nobody = await lookupAccount('nobody');
    await writeConfig({ authorized_keys_user: 'nobody' });
    try {
      await adminJson('list-snapshots', '--source', 'home');
      const repo = borgRepo({ machineDir: join(settings.var_dir, 'machines', UUID), source: 'home' });
      for (const path of [repo, join(repo, 'config'), join(settings.var_dir, 'borg')]) {
        expect({ path, uid: (await stat(path)).uid }).toEqual({ path, uid: nobody.uid });
      }
    } finally {
      await writeConfig();
    }
  });
});
