import { lstat, mkdir, mkdtemp, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { friendlyName, machineDirectory, NoVolumeError, updateFriendlyLink } from './machine-dir.js';
import type { VolumeSpace } from './volumes.js';

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'turku-machine-dir-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const volumeAt = (path: string): VolumeSpace =>
  ({
    name: 'v',
    path,
    device: 1,
    totalMiB: 10,
    availableMiB: 5,
    pctUsed: 50,
    highWaterPct: 80,
    acceptsNew: true,
  }) as const;

test('a new machine gets a directory on the chosen volume, and stays there', async () => {
  const first = join(dir, 'first');
  const second = join(dir, 'second');
  await mkdir(first);
  await mkdir(second);
  const machineDir = await machineDirectory(join(dir, 'var'), UUID, () => Promise.resolve(volumeAt(first)));
  expect(machineDir).toBe(join(first, UUID));
  expect(await readlink(join(dir, 'var', 'machines', UUID))).toBe(join(first, UUID));
  expect(await machineDirectory(join(dir, 'var'), UUID, () => Promise.resolve(volumeAt(second)))).toBe(machineDir);
});

test('an existing real directory is used as it is; no volume is an error', async () => {
  await mkdir(join(dir, 'var', 'machines', UUID), { recursive: true });
  expect(await machineDirectory(join(dir, 'var'), UUID, () => Promise.resolve(undefined))).toBe(
    join(dir, 'var', 'machines', UUID),
  );
  const other = 'ffffffff-5a9b-43f7-a66a-7e8c6d7ad91d';
  await expect(machineDirectory(join(dir, 'var'), other, () => Promise.resolve(undefined))).rejects.toBeInstanceOf(
    NoVolumeError,
  );
});

test('the friendly link points at the UUID, is re-pointed, and never replaces a real entry', async () => {
  expect(friendlyName(['prod', 'sql', 'sql/2'])).toBe('prod-sql-sql_2');
  expect(friendlyName([null, '', 'sql/2'])).toBe('sql_2');
  expect(friendlyName(['.hidden'])).toBeUndefined();
  expect(friendlyName([])).toBeUndefined();
  const machines = join(dir, 'machines');
  await mkdir(machines);
  await updateFriendlyLink(dir, 'prod-sql-sql_2', UUID);
  expect(await readlink(join(machines, 'prod-sql-sql_2'))).toBe(UUID);
  await symlink('elsewhere', join(machines, 'old'));
  await updateFriendlyLink(dir, 'old', UUID);
  expect(await readlink(join(machines, 'old'))).toBe(UUID);
  await mkdir(join(machines, 'real'));
  await updateFriendlyLink(dir, 'real', UUID);
  expect((await lstat(join(machines, 'real'))).isDirectory()).toBe(true);
});
