import { jest } from '@jest/globals';
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { formatSidecarTime, snapshotName, writeSidecar } from '../../lib/storage/snapshots/names.js';
import { formatInZone } from '../../lib/turku/as-of.js';
import {
  createWorld,
  DIST,
  type AgentUnit,
  type RunResult,
  type StorageUnit,
  type World,
} from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';
import { describeTree } from '../support/trees.js';

/**
 * Issue 20, items 1, 2 and 6, through the whole data path (the agent in a network namespace, a
 * storage behind its own sshd, link-dest snapshots and borg archives): a restore as of a moment
 * (docs/datapath.md, "Restore as of a moment"), of part of a source ("Restoring part of a
 * source"), and its progress ("Restore progress").
 */

jest.setTimeout(300_000);

const HELSINKI = 'Europe/Helsinki';
/**
 * Snapshot times around both of Helsinki's 2026 clock changes: 03:00 EET became 04:00 EEST at
 * 2026-03-29T01:00Z; 04:00 EEST became 03:00 EET at 2026-10-25T01:00Z (03:00-04:00 twice).
 */
const TIMES = {
  t1: '2026-03-28T12:00:00Z',
  t2: '2026-03-29T00:30:00Z', // 02:30 EET, before the jump
  t3: '2026-03-29T01:30:00Z', // 04:30 EEST, after it
  t4: '2026-10-25T00:40:00Z', // 03:40 EEST, the first 03:40 that night
  t5: '2026-10-25T01:45:00Z', // 03:45 EET, in the repeated hour
  t6: '2026-12-01T10:00:00Z',
} as const;
type Label = keyof typeof TIMES | 'real';

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let data: string;
let vault: string;
let machineDir: string;
const etcNames: Partial<Record<Label, string>> = {};
const vaultNames: Partial<Record<Label, string>> = {};

beforeAll(async () => {
  world = await createWorld('restore-asof');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  data = join(world.root, 'data');
  vault = join(world.root, 'vault');
  for (const tree of [data, vault]) await writeSampleTree(tree);
  await agent.setSources({
    etc: { path: data, preserve_hard_links: true },
    vault: { path: vault, snapshot_mode: 'borg', preserve_hard_links: true },
  });
  await world.register(storage, agent);
  await world.backUp(agent, 'etc', 'vault');
  machineDir = storage.machineDir(await agent.uuid());
  etcNames.real = (await readdir(join(machineDir, 'etc.snapshots'))).find((name) => name.startsWith('etc_'))!;
  vaultNames.real = (await borg(['list', '--short', join(machineDir, 'vault.borg')])).trim();
  // Older snapshots as earlier backups would have left them, each saying which it is.
  for (const [label, time] of Object.entries(TIMES) as [Label, string][]) {
    etcNames[label] = await addLinkDest(label, new Date(time));
    vaultNames[label] = await addArchive(label, new Date(time));
  }
});
afterAll(() => world?.destroy());

async function addLinkDest(label: Label, finish: Date): Promise<string> {
  const dir = join(machineDir, 'etc.snapshots');
  const name = snapshotName('etc', finish, 'UTC');
  await cp(join(dir, etcNames.real!), join(dir, name), { recursive: true, verbatimSymlinks: true });
  await writeFile(join(dir, name, 'which'), `${label}\n`);
  // What a snapshot may hold: a link to the root of whatever machine reads it.
  if (label === 't6') await symlink('/', join(dir, name, 'x'));
  const time = formatSidecarTime(finish);
  await writeSidecar(dir, { base: null, name, sync_begin: time, sync_finish: time });
  return name;
}

async function addArchive(label: Label, finish: Date): Promise<string> {
  const scratch = join(world.root, `archive-${label}`);
  await cp(vault, scratch, { recursive: true, verbatimSymlinks: true });
  await writeFile(join(scratch, 'which'), `${label}\n`);
  const name = snapshotName('vault', finish, 'UTC');
  const timestamp = finish.toISOString().slice(0, 19);
  await borg(
    ['create', '--numeric-ids', '--timestamp', timestamp, `${join(machineDir, 'vault.borg')}::${name}`, '.'],
    scratch,
  );
  return name;
}

async function borg(args: string[], cwd?: string): Promise<string> {
  const result = await execa('borg', args, {
    ...(cwd === undefined ? {} : { cwd }),
    stdin: 'ignore',
    env: {
      TZ: 'UTC',
      BORG_BASE_DIR: join(storage.varDir, 'borg'),
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    },
  });
  return result.stdout;
}

let targets = 0;
function freshTarget(): string {
  targets += 1;
  return join(world.root, 'targets', String(targets));
}

/** turku-agent-ping in the agent's namespace with TZ set for it. */
async function restoreIn(timeZone: string, ...args: string[]): Promise<RunResult> {
  const argv = [process.execPath, join(DIST, 'agent', 'ping-main.js'), '--config-dir', agent.configDir, ...args];
  const result = await agent.host.exec(argv, { env: { TZ: timeZone }, timeout: 120_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe.each([
  ['link-dest', 'etc', etcNames],
  ['borg', 'vault', vaultNames],
])('%s: as of a moment', (_, source, names) => {
  test.each([
    // [agent zone, --restore-as-of, the snapshot it must pick]
    [HELSINKI, '2026-03-29T02:30', 't2'], // equal to a snapshot's time, zone-less
    [HELSINKI, '2026-03-29 02:29:59', 't1'], // one second before it
    [HELSINKI, '2026-03-29T03:30', 't2'], // a time skipped by the clock: the moment it jumped
    [HELSINKI, '2026-03-29T04:30', 't3'], // equal, after the jump (EEST)
    [HELSINKI, '2026-10-25T03:30', 't4'], // repeated: the second 03:30 (01:30Z), after t4's 03:40 EEST
    [HELSINKI, '2026-10-25T03:44:59', 't4'],
    [HELSINKI, '2026-10-25T03:45', 't5'], // equal, in the repeated hour (EET)
    ['UTC', '2026-03-29T00:30', 't2'], // zone-less in another zone
    [HELSINKI, '2026-12-01T10:00:00Z', 't6'], // with a zone: the agent's does not matter
    [HELSINKI, '2026-12-01T11:59:59+02:00', 't5'],
    [HELSINKI, '2030-01-01T00:00Z', 'real'], // after the last
  ] as const)('TZ=%s, as of %s: %s', async (zone, asOf, label) => {
    const target = freshTarget();
    const result = await restoreIn(
      zone,
      '--restore-source',
      source,
      '--restore-as-of',
      asOf,
      '--restore-target',
      target,
    );
    expect(result).toMatchObject({ exitCode: 0 });
    const name = names[label]!;
    const taken = label === 'real' ? '[^)]+' : formatInZone(new Date(TIMES[label]), zone).replace(/[+]/g, '\\+');
    expect(result.stdout).toMatch(
      new RegExp(`^Restored ${source} snapshot ${name} \\(taken ${taken}\\) from primary into ${target}$`, 'm'),
    );
    if (label === 'real') await expect(readFile(join(target, 'which'))).rejects.toThrow('ENOENT');
    else expect(await readFile(join(target, 'which'), 'utf8')).toBe(`${label}\n`);
  });

  test('before the first snapshot: an error naming it, nothing written', async () => {
    const target = freshTarget();
    const result = await restoreIn(
      HELSINKI,
      '--restore-source',
      source,
      '--restore-as-of',
      '2026-03-28T13:59:59',
      '--restore-target',
      target,
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
      `turku-agent-ping: Restoring ${source} from primary failed: No snapshot of source "${source}" was taken at or ` +
        `before 2026-03-28T11:59:59.000Z; the first is ${names.t1!}, taken 2026-03-28T12:00:00.000Z`,
    );
    await expect(readdir(target)).rejects.toThrow('ENOENT');
  });
});

test('as-of and a snapshot name together are refused (exit 2)', async () => {
  const result = await restoreIn(
    HELSINKI,
    '--restore-source',
    'etc',
    '--restore-snapshot',
    etcNames.t1!,
    '--restore-as-of',
    '2026-12-01',
  );
  expect(result).toMatchObject({
    exitCode: 2,
    stderr: 'turku-agent-ping: Give --restore-snapshot or --restore-as-of, not both',
  });
});

describe.each([
  ['link-dest', 'etc', () => data],
  ['borg', 'vault', () => vault],
])('%s: part of a source', (_, source, tree) => {
  test.each(['conf', 'conf/app.conf', 'conf/empty', 'current.conf'])(
    '--restore-path %s is that part, byte-identical',
    async (path) => {
      const target = freshTarget();
      const result = await restoreIn(
        'UTC',
        '--restore-source',
        source,
        '--restore-path',
        path,
        '--restore-target',
        target,
      );
      expect(result).toMatchObject({ exitCode: 0 });
      expect(result.stdout).toMatch(new RegExp(`^Restored ${source} path ${path} snapshot `, 'm'));
      expect(await readdir(target)).toEqual([path.split('/')[0]]);
      const restored = await describeTree(join(target, path));
      expect(restored).toEqual(await describeTree(join(tree(), path)));
    },
  );

  test('a path that is not in the snapshot is a clear error', async () => {
    const result = await restoreIn(
      'UTC',
      '--restore-source',
      source,
      '--restore-path',
      'conf/nope',
      '--restore-target',
      freshTarget(),
    );
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/failed: "conf\/nope" is not in snapshot /);
  });
});

test('a path through a symbolic link of the snapshot is refused: the storage reads nothing outside it', async () => {
  const target = freshTarget();
  const result = await restoreIn(
    HELSINKI,
    '--restore-source',
    'etc',
    '--restore-as-of',
    '2026-12-01T10:00Z',
    '--restore-path',
    'x/etc/passwd',
    '--restore-target',
    target,
  );
  expect(result.exitCode).toBe(1);
  expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
    `turku-agent-ping: Restoring etc from primary failed: "x" is a symbolic link in snapshot ${etcNames.t6!}; ` +
      'a restore path does not follow links (restore the link itself, or the path it points to)',
  );
  await expect(readdir(target)).rejects.toThrow('ENOENT');
  // The link itself is a part like any other: restored as the link.
  const link = freshTarget();
  const itself = await restoreIn(
    HELSINKI,
    '--restore-source',
    'etc',
    '--restore-as-of',
    '2026-12-01T10:00Z',
    '--restore-path',
    'x',
    '--restore-target',
    link,
  );
  expect(itself.exitCode).toBe(0);
  expect(await describeTree(link)).toMatchObject({ x: { type: 'symlink', content: '/' } });
});

test('.. and absolute paths are refused by the agent (exit 2)', async () => {
  for (const path of ['../etc', '/etc', 'conf/../..']) {
    const result = await restoreIn('UTC', '--restore-source', 'etc', '--restore-path', path);
    expect(result.exitCode).toBe(2);
  }
});

test('a restore of a few hundred MB shows progress while it runs, and the totals', async () => {
  // 300 MB in 3 files, as a link-dest snapshot of its own source; the push is slowed to 30 MB/s
  // so that it lasts about 10 s on any machine.
  const dir = join(machineDir, 'bulk.snapshots');
  const name = snapshotName('bulk', new Date(), 'UTC');
  await mkdir(join(dir, name), { recursive: true });
  for (const file of ['a', 'b', 'c']) await execa('fallocate', ['-l', '100000000', join(dir, name, file)]);
  const time = formatSidecarTime(new Date());
  await writeSidecar(dir, { base: null, name, sync_begin: time, sync_finish: time });
  await storage.configure({ rsync_command: ['rsync', '--bwlimit=30000'] });
  const target = freshTarget();
  try {
    const session = agent.host.spawn(
      [
        process.execPath,
        join(DIST, 'agent', 'ping-main.js'),
        '--config-dir',
        agent.configDir,
        '--restore-source',
        'bulk',
        '--restore-target',
        target,
      ],
      { env: { TZ: 'UTC' } },
    );
    let stdout = '';
    session.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const ended = await session;
    expect(ended.exitCode).toBe(0);
    // eslint-disable-next-line no-console -- the lines are the evidence
    console.log(`progress lines of a 300 MB restore:\n${stdout}`);
    const lines = stdout.trimEnd().split('\n');
    const progress = lines.filter((line) => line.startsWith('Restoring: '));
    // Plain lines (not a terminal), 5 s apart at least; some while the push was under way.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.some((line) => /\((\d|[1-9]\d)%\)/.test(line))).toBe(true);
    expect(
      progress.some((line) =>
        / of 300\.0 MB \(\d+%\), \d+ of 3 files, [\d.]+ [kMG]?B\/s, \d+:\d\d:\d\d left$/.test(line),
      ),
    ).toBe(true);
    expect(lines.at(-1)).toMatch(/^Totals: 3 files, 300000000 bytes in [\d.]+ s$/);
    expect(lines.at(-2)).toBe(
      `Restored bulk snapshot ${name} (taken ${formatInZone(new Date(time.replace('000+00:00', 'Z')), 'UTC')}) from primary into ${target}`,
    );
  } finally {
    await storage.configure({});
    await rm(dir, { recursive: true, force: true });
    await rm(target, { recursive: true, force: true });
  }
});
