import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SourceDescriptor } from '../../../turku/protocol/source.js';
import { type SnapshotJob, type SnapshotLog, type SnapshotSettings } from '../types.js';

/** Jobs, logs and tree comparisons shared by the engines' tests. */

export interface CapturedLog extends SnapshotLog {
  readonly lines: { level: string; message: string }[];
  at(level: string): string[];
}

export function captureLog(): CapturedLog {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warning: at('warning'),
    error: at('error'),
    at: (level) => lines.filter((line) => line.level === level).map((line) => line.message),
  };
}

export function descriptor(overrides: Record<string, unknown> = {}): SourceDescriptor {
  return SourceDescriptor.parse({
    path: '/srv/data',
    retention: null,
    storage: {
      name: 'primary',
      ssh_ping_host: 'storage',
      ssh_ping_host_keys: [],
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
    },
    ...overrides,
  });
}

export function settings(varDir: string, overrides: Partial<SnapshotSettings> = {}): SnapshotSettings {
  return {
    rsyncCommand: ['rsync'],
    borgCommand: ['borg'],
    preserveHardLinks: false,
    timezone: 'UTC',
    weekStart: 'sunday',
    varDir,
    borgEncryption: 'none',
    borgPassphrase: null,
    borgCompression: 'lz4',
    borgLockWait: 10,
    ...overrides,
  };
}

/** A clock the test moves; each reading advances it by a second, like a real backup taking time. */
export class TestClock {
  private ms: number;
  constructor(iso: string) {
    this.ms = Date.parse(iso);
  }
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
  readonly now = (): Date => {
    const date = new Date(this.ms);
    this.ms += 1000;
    return date;
  };
}

export type JobOverrides = Omit<Partial<SnapshotJob>, 'settings'> & { settings?: Partial<SnapshotSettings> };

export function makeJob(
  base: { machineDir: string; varDir: string; url: string; password: string; log: SnapshotLog },
  overrides: JobOverrides = {},
): SnapshotJob {
  const { settings: settingOverrides, ...rest } = overrides;
  return {
    machineDir: base.machineDir,
    source: 'data',
    descriptor: descriptor(),
    remote: { url: base.url, password: base.password },
    settings: settings(base.varDir, settingOverrides),
    log: base.log,
    ...rest,
  };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `turku-${prefix}-`));
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export interface Entry {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Files: whole seconds (rsync keeps them; sub-second precision depends on the filesystem). */
  readonly mtime: number | null;
  /** sha256 of a file, target of a symlink. */
  readonly content: string | null;
  /** The first path of the tree sharing this file's inode, for hard links. */
  readonly linkGroup: string | null;
}

/** Everything rsync --archive promises to keep, by relative path; the root itself is ''. */
export async function describeTree(root: string): Promise<Record<string, Entry>> {
  const entries: Record<string, Entry> = {};
  const pathsOfInode = new Map<number, string[]>();
  const walk = async (relative: string): Promise<void> => {
    const path = relative === '' ? root : join(root, relative);
    const info = await lstat(path);
    let type: Entry['type'] = 'other';
    let content: string | null = null;
    if (info.isSymbolicLink()) {
      type = 'symlink';
      content = await readlink(path);
    } else if (info.isFile()) {
      type = 'file';
      content = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
      pathsOfInode.set(info.ino, [...(pathsOfInode.get(info.ino) ?? []), relative]);
    } else if (info.isDirectory()) {
      type = 'dir';
    }
    entries[relative] = {
      type,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      mtime: type === 'file' ? Math.floor(info.mtimeMs / 1000) : null,
      content,
      linkGroup: null,
    };
    if (type === 'dir') {
      for (const name of (await readdir(path)).sort()) await walk(relative === '' ? name : join(relative, name));
    }
  };
  await walk('');
  // Links to files outside the tree (e.g. an earlier snapshot) do not count.
  for (const paths of pathsOfInode.values()) {
    if (paths.length < 2) continue;
    for (const relative of paths) entries[relative] = { ...entries[relative]!, linkGroup: paths[0]! };
  }
  return entries;
}

/** Inode numbers by relative path of the regular files. */
export async function inodes(root: string): Promise<Record<string, number>> {
  const tree = await describeTree(root);
  const result: Record<string, number> = {};
  for (const [relative, entry] of Object.entries(tree)) {
    if (entry.type === 'file') result[relative] = (await lstat(join(root, relative))).ino;
  }
  return result;
}
