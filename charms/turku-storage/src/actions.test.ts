// The storage's actions through the Juju fake: each runs the built turku-storage-admin on the
// unit, over snapshots made with the workload's own code (tests/support/stored-snapshots.ts) in
// the machine directory the workload would choose (machine-dir.ts, volumes.ts).
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Context, events, type State } from '../../../lib/charm-testing/scenario.js';
import { tryLock } from '../../../lib/common/lock.js';
import { loadStorageSettings } from '../../../lib/storage/load-settings.js';
import { machineDirectory, machinesDir, updateFriendlyLink } from '../../../lib/storage/machine-dir.js';
import type { StorageSettings } from '../../../lib/storage/settings.js';
import { borgRepo } from '../../../lib/storage/snapshots/paths.js';
import { chooseVolume, measureVolumes } from '../../../lib/storage/volumes.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { StoredSource } from '../../../tests/support/stored-snapshots.js';
import { apiRelation, registrationSecret, startApiWorld, storageCharm, type ApiWorld } from './__tests__/fixtures.js';

jest.setTimeout(60_000);

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const FRIENDLY = 'prod-sql-sql_2';

let roots: MachineRoots;
let world: ApiWorld;
let context: Context;
let state: State;
let settings: StorageSettings;
let machineDir: string;
/** link-dest snapshot names of source "etc", oldest first. */
let etc: string[] = [];
/** Borg archive names of source "home", oldest first. */
let home: string[] = [];

beforeAll(async () => {
  roots = await new MachineRoots().init();
  world = await startApiWorld();
  const charm = await storageCharm(roots);
  context = new Context({ meta: charm.meta, executor: charm.executor });
  state = { relations: [apiRelation(world)], secrets: [registrationSecret(world)] };
  const configured = await context.run(events.configChanged(), state);
  expect(configured.state.unitStatus?.status).toBe('active');

  // A machine's directory on the volume the workload picks, with its friendly link.
  settings = await loadStorageSettings(roots.path('0', '/etc/turku-storage'));
  machineDir = await machineDirectory(settings.var_dir, UUID, async () =>
    chooseVolume(await measureVolumes(settings, () => undefined)),
  );
  await updateFriendlyLink(settings.var_dir, FRIENDLY, UUID);
  const etcSource = new StoredSource(settings, machineDir, 'etc');
  for (const days of [40, 9, 3, 1]) await etcSource.linkDest(days);
  etc = etcSource.names;
  const homeSource = new StoredSource(settings, machineDir, 'home');
  for (const days of [20, 2]) await homeSource.borg(days);
  home = homeSource.names;
});

afterAll(async () => {
  await world?.api.close();
  await roots?.cleanup();
});

async function run(name: string, params: Record<string, unknown> = {}) {
  return context.run(events.action(name, params), state);
}

type Listing = { machine: string; names: string[]; sources: Record<string, { name: string; mode: string }[]> }[];

describe('list-snapshots', () => {
  test('lists every machine, source and snapshot of both kinds', async () => {
    const out = await run('list-snapshots');
    expect(out.actionStatus).toBe('completed');
    expect(out.actionResults).toMatchObject({ machines: '1', count: '6' });
    const listing = JSON.parse(String(out.actionResults!.snapshots)) as Listing;
    expect(listing).toHaveLength(1);
    expect(listing[0]).toMatchObject({ machine: UUID, names: [FRIENDLY] });
    expect(listing[0]!.sources.etc!.map((s) => s.name)).toEqual(etc);
    expect(listing[0]!.sources.home!.map((s) => [s.name, s.mode])).toEqual(home.map((n) => [n, 'borg']));
  });

  test('filters by machine (friendly name) and source', async () => {
    const out = await run('list-snapshots', { machine: FRIENDLY, source: 'home' });
    expect(out.actionResults).toMatchObject({ machines: '1', count: '2' });
    expect(Object.keys((JSON.parse(String(out.actionResults!.snapshots)) as Listing)[0]!.sources)).toEqual(['home']);
  });

  test('an unknown machine fails naming it', async () => {
    const out = await run('list-snapshots', { machine: 'nowhere' });
    expect(out.actionStatus).toBe('failed');
    expect(out.actionMessage).toBe('turku-storage-admin: machine "nowhere" has no data on this storage');
  });

  test('fails on a unit that is not configured yet', async () => {
    const bare = await new MachineRoots().init();
    try {
      const charm = await storageCharm(bare);
      const out = await new Context({ meta: charm.meta, executor: charm.executor }).run(
        events.action('list-snapshots'),
        {},
      );
      expect(out.actionStatus).toBe('failed');
      expect(out.actionMessage).toMatch(/^the storage is not configured yet \(relate it to turku-api\): /);
    } finally {
      await bare.cleanup();
    }
  });
});

describe('verify-snapshot', () => {
  test('latest link-dest snapshot: its file matches the manifest', async () => {
    const out = await run('verify-snapshot', { machine: UUID, source: 'etc' });
    expect(out.actionStatus).toBe('completed');
    expect(out.actionResults).toMatchObject({
      machine: UUID,
      snapshot: etc.at(-1),
      mode: 'link-dest',
      checked: expect.stringMatching(/^1 file, \d+ bytes against the manifest$/),
      'manifest-recorded': 'backup',
    });
    expect(out.actionResults).not.toHaveProperty('problems');
  });

  test('a changed file fails the action, its problem in the results', async () => {
    const hosts = join(machineDir, 'etc.snapshots', etc[0]!, 'hosts');
    const before = await readFile(hosts);
    await writeFile(hosts, 'tampered\n');
    try {
      const out = await run('verify-snapshot', { machine: UUID, source: 'etc', snapshot: etc[0] });
      expect(out.actionStatus).toBe('failed');
      expect(out.actionMessage).toBe(`turku-storage-admin: 1 problem in snapshot ${etc[0]!}: 1 size`);
      expect(out.actionResults).toMatchObject({ snapshot: etc[0], 'problem-count': '1' });
      expect(JSON.parse(String(out.actionResults!.problems))).toEqual([
        { path: 'hosts', kind: 'size', detail: `size ${before.length}, now 9` },
      ]);
    } finally {
      await writeFile(hosts, before);
    }
  });

  test('a Borg archive passes borg check --verify-data', async () => {
    const out = await run('verify-snapshot', { machine: FRIENDLY, source: 'home', snapshot: home[0] });
    expect(out.actionStatus).toBe('completed');
    expect(out.actionResults).toMatchObject({ snapshot: home[0], mode: 'borg', checked: 'borg check --verify-data' });
  });

  test('a missing snapshot fails naming it', async () => {
    const out = await run('verify-snapshot', { machine: UUID, source: 'etc', snapshot: 'etc_20000101-000000_dead' });
    expect(out.actionStatus).toBe('failed');
    expect(out.actionMessage).toBe(
      `turku-storage-admin: snapshot "etc_20000101-000000_dead" not found for source "etc" on machine ${UUID}`,
    );
  });

  test('a source without snapshots fails naming it', async () => {
    const out = await run('verify-snapshot', { machine: UUID, source: 'var' });
    expect(out.actionStatus).toBe('failed');
    expect(out.actionMessage).toBe(`turku-storage-admin: no snapshots of source "var" on machine ${UUID}`);
  });

  test('a damaged Borg archive fails borg check', async () => {
    // A copy of the repository with its data segments truncated.
    const repo = borgRepo({ machineDir, source: 'home' });
    const broken = join(machineDir, 'broken.borg');
    await rm(broken, { recursive: true, force: true });
    await roots.hostFor({ machineId: '0' }).run(['cp', '-a', repo, broken]);
    for (const dir of await readdir(join(broken, 'data'))) {
      for (const segment of await readdir(join(broken, 'data', dir)))
        await writeFile(join(broken, 'data', dir, segment), 'x');
    }
    try {
      const out = await run('verify-snapshot', { machine: UUID, source: 'broken' });
      expect(out.actionStatus).toBe('failed');
      expect(out.actionMessage).toMatch(
        /^turku-storage-admin: (1 problem in snapshot home_.*: 1 borg|.*\(borg list exit code \d+\))$/,
      );
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});

describe('expire-now', () => {
  test('an unreadable policy fails without touching anything', async () => {
    const out = await run('expire-now', { retention: 'last 2 fortnights ago' });
    expect(out.actionStatus).toBe('failed');
    expect(out.actionMessage).toMatch(/^turku-storage-admin: retention: /);
  });

  test('a machine busy with a backup is skipped', async () => {
    const lock = await tryLock(settings.lock_dir, `turku-storage-ping-${UUID}`);
    try {
      const out = await run('expire-now', { retention: 'last 1 snapshots' });
      expect(out.actionStatus).toBe('completed');
      expect(out.actionResults).toMatchObject({ removed: '0', skipped: `backup in progress: ${UUID}` });
    } finally {
      await lock!.release();
    }
  });

  test('dry-run reports, then a real run removes what the policy does not keep', async () => {
    const dry = await run('expire-now', { retention: 'last 5 days', 'dry-run': true });
    expect(dry.actionResults).toMatchObject({ 'would-remove': '3' });
    expect(JSON.parse(String(dry.actionResults!.snapshots))).toEqual({
      [UUID]: { etc: etc.slice(0, 2), home: home.slice(0, 1) },
    });
    expect((await run('list-snapshots')).actionResults).toMatchObject({ count: '6' });

    const out = await run('expire-now', { retention: 'last 5 days', machine: FRIENDLY });
    expect(out.actionStatus).toBe('completed');
    expect(out.actionResults).toMatchObject({ removed: '3' });
    const listing = JSON.parse(String((await run('list-snapshots')).actionResults!.snapshots)) as Listing;
    expect(listing[0]!.sources.etc!.map((s) => s.name)).toEqual(etc.slice(2));
    expect(listing[0]!.sources.home!.map((s) => s.name)).toEqual(home.slice(1));
    expect(out.logs.some((line) => line.message.includes(`removed ${etc[0]}, ${etc[1]} of ${UUID} etc`))).toBe(true);
  });
});

// action-set takes its values in argv (no --file, no stdin), and Linux refuses one argument over
// 128 KiB: a big storage's listing goes out bounded, and whole in a root-only file on the unit.
describe('a listing too long for action-set', () => {
  const extra: { uuid: string; dir: string; name: string }[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 400; i += 1) {
      const uuid = randomUUID();
      const dir = await machineDirectory(settings.var_dir, uuid, async () =>
        chooseVolume(await measureVolumes(settings, () => undefined)),
      );
      const name = `web-${String(i).padStart(3, '0')}-prod`;
      await updateFriendlyLink(settings.var_dir, name, uuid);
      extra.push({ uuid, dir, name });
    }
  });

  afterAll(async () => {
    for (const { uuid, dir, name } of extra) {
      await rm(join(machinesDir(settings.var_dir), uuid), { force: true });
      await rm(join(machinesDir(settings.var_dir), name), { force: true });
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('list-snapshots: the first machines inline, every machine in a 0600 file named in the result', async () => {
    const out = await run('list-snapshots');
    expect(out.actionStatus).toBe('completed');
    const results = out.actionResults as Record<string, string>;
    expect(results).toMatchObject({ machines: '401', truncated: 'true' });
    const inline = JSON.parse(results['snapshots']!) as Listing;
    expect(inline.length).toBe(Number(results['shown']));
    expect(inline.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(results['snapshots']!)).toBeLessThanOrEqual(32 * 1024);
    const file = results['full-output']!;
    expect(file).toMatch(/\/var\/lib\/turku-storage\/charm\/action-results\/list-snapshots-\d+\.json$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const whole = JSON.parse(await readFile(file, 'utf8')) as Listing;
    expect(whole).toHaveLength(401);
    expect(whole.find((machine) => machine.machine === UUID)?.sources.etc?.length).toBeGreaterThan(0);
    expect(whole.flatMap((machine) => machine.names)).toEqual(
      expect.arrayContaining(['web-000-prod', 'web-399-prod', FRIENDLY]),
    );
  });
});
