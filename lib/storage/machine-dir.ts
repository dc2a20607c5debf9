import { lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { isAbsolute, join, resolve, dirname } from 'node:path';

import { randomUuid } from '../common/random.js';
import { isErrno } from '../common/errors.js';
import { hasControlCharacters } from '../turku/names.js';
import type { VolumeSpace } from './volumes.js';

/**
 * Where a machine's data lives (docs/datapath.md, "The storage's side of a session" step 5 and
 * "Snapshots on disk"): `<var_dir>/machines/<uuid>` is a symlink to `<volume>/<uuid>` chosen once,
 * weighted by free space, so the machine stays on its volume; a friendly symlink
 * `<env>-<service>-<unit>` points at the UUID for operators.
 */

export class NoVolumeError extends Error {
  override name = 'NoVolumeError';
  constructor() {
    super('Cannot find a suitable storage directory');
  }
}

export function machinesDir(varDir: string): string {
  return join(varDir, 'machines');
}

/** The machine directory, created (with its volume chosen) on first use. */
export async function machineDirectory(
  varDir: string,
  uuid: string,
  chooseVolume: () => Promise<VolumeSpace | undefined>,
): Promise<string> {
  const machines = machinesDir(varDir);
  await mkdir(machines, { recursive: true, mode: 0o755 });
  const link = join(machines, uuid);
  let dir: string;
  const kind = await entryKind(link);
  if (kind === 'symlink') {
    const target = await readlink(link);
    dir = isAbsolute(target) ? target : resolve(machines, target);
  } else if (kind === 'directory') {
    dir = link;
  } else {
    const volume = await chooseVolume();
    if (volume === undefined) throw new NoVolumeError();
    dir = join(resolve(volume.path), uuid);
    await replaceSymlink(dir, link);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** `prod-sql-sql_2` for environment `prod`, service `sql`, unit `sql/2`; undefined if unusable. */
export function friendlyName(parts: readonly (string | null | undefined)[]): string | undefined {
  const name = parts
    .filter((part): part is string => typeof part === 'string' && part !== '')
    .join('-')
    .replaceAll('/', '_');
  if (name === '' || name.startsWith('.') || hasControlCharacters(name)) return undefined;
  return name;
}

/** Points `<machines>/<name>` at `<uuid>`, unless a non-symlink already has that name. */
export async function updateFriendlyLink(varDir: string, name: string, uuid: string): Promise<void> {
  if (name === uuid) return;
  const link = join(machinesDir(varDir), name);
  const kind = await entryKind(link);
  if (kind !== 'absent' && kind !== 'symlink') return;
  if (kind === 'symlink' && (await readlink(link)) === uuid) return;
  await replaceSymlink(uuid, link);
}

/** Atomic: a temporary symlink renamed over the old one. */
export async function replaceSymlink(target: string, link: string): Promise<void> {
  const temporary = join(dirname(link), `.${randomUuid()}.tmp~`);
  await symlink(target, temporary);
  try {
    await rename(temporary, link);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function entryKind(path: string): Promise<'absent' | 'symlink' | 'directory' | 'other'> {
  try {
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) return 'symlink';
    return stats.isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'absent';
    throw error;
  }
}
