import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SourceDescriptor } from '../../../turku/protocol/descriptor.js';
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

export { describeTree, inodes, type Entry } from '../../../../tests/support/trees.js';
