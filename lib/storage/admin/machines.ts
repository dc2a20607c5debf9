// The machines a storage holds: the UUID entries of <var_dir>/machines (each a directory on a
// volume, or a symlink to one), the friendly links beside them, and each machine's sources.
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

import { UserError } from '../../common/errors.js';
import { canonicalUuid } from '../../turku/uuid.js';
import { machinesDir } from '../machine-dir.js';

export interface Machine {
  readonly uuid: string;
  /** Friendly links (`prod-sql-sql_2`) pointing at it. */
  readonly names: string[];
  /** Its directory on a volume. */
  readonly dir: string;
}

/** Every machine with a directory here, by UUID, with its friendly names. */
export async function listMachines(varDir: string): Promise<Machine[]> {
  const dir = machinesDir(varDir);
  const entries = await readdir(dir).catch(() => [] as string[]);
  const machines = new Map<string, { dir: string; names: string[] }>();
  const friendly: [string, string][] = [];
  for (const entry of entries.sort()) {
    const path = join(dir, entry);
    if (canonicalUuid(entry) === entry) {
      const target = await machineDirOf(path);
      if (target !== undefined) machines.set(entry, { dir: target, names: [] });
      continue;
    }
    const link = await readlink(path).catch(() => undefined);
    if (link !== undefined && canonicalUuid(link) === link) friendly.push([entry, link]);
  }
  for (const [name, uuid] of friendly) machines.get(uuid)?.names.push(name);
  return [...machines].map(([uuid, value]) => ({ uuid, ...value }));
}

/** A machine by UUID (any case) or friendly name; a refusal naming it when absent. */
export async function findMachine(varDir: string, wanted: string): Promise<Machine> {
  const uuid = canonicalUuid(wanted);
  const found = (await listMachines(varDir)).find((m) => m.uuid === uuid || m.names.includes(wanted));
  if (found === undefined) throw new UserError(`machine "${wanted}" has no data on this storage`);
  return found;
}

/** All machines, or the one `wanted` names. */
export async function selectMachines(varDir: string, wanted: string | undefined): Promise<Machine[]> {
  return wanted === undefined ? listMachines(varDir) : [await findMachine(varDir, wanted)];
}

/** The sources with snapshots (`<source>.snapshots`) or archives (`<source>.borg`) of a machine. */
export async function sourcesOf(machine: Machine): Promise<string[]> {
  const sources = new Set<string>();
  for (const entry of await readdir(machine.dir).catch(() => [] as string[])) {
    const match = /^(.+)\.(snapshots|borg)$/.exec(entry);
    if (match !== null && (await isDirectory(join(machine.dir, entry)))) sources.add(match[1]!);
  }
  return [...sources].sort();
}

/** The directory behind `machines/<uuid>`: a symlink's target, or a real directory. */
async function machineDirOf(path: string): Promise<string | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return undefined;
  if (info.isDirectory()) return path;
  if (!info.isSymbolicLink()) return undefined;
  const target = await readlink(path);
  const dir = isAbsolute(target) ? target : resolve(join(path, '..'), target);
  return (await isDirectory(dir)) ? dir : undefined;
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
