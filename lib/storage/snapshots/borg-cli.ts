import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { borgFailureReason } from './failure-reasons.js';
import { parseSidecarTime } from './names.js';
import { runLogged, SAFE_PATH, type RunResult } from './process.js';
import { type SnapshotLog, type SnapshotSettings } from './types.js';

/**
 * The BorgBackup 1.2/1.4 command line, as borg mode and restores use it
 * (docs/datapath.md, "Snapshot modes").
 */

export type BorgSettings = Pick<
  SnapshotSettings,
  'borgCommand' | 'varDir' | 'borgPassphrase' | 'borgLockWait' | 'borgEncryption' | 'borgCompression'
>;

/**
 * Nothing of the storage's environment but what borg needs: its state under var_dir, no
 * questions about unencrypted or moved repositories (nobody is there to answer), and UTC so that
 * `borg list` times are naive UTC.
 */
export function borgEnv(settings: Pick<BorgSettings, 'varDir' | 'borgPassphrase'>): Record<string, string> {
  return {
    PATH: SAFE_PATH,
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    BORG_BASE_DIR: join(settings.varDir, 'borg'),
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    ...(settings.borgPassphrase === null ? {} : { BORG_PASSPHRASE: settings.borgPassphrase }),
  };
}

export function borgArgv(settings: BorgSettings, subcommand: string, args: readonly string[]): string[] {
  return [...settings.borgCommand, subcommand, '--lock-wait', String(settings.borgLockWait), ...args];
}

export interface BorgRun extends RunResult {
  readonly subcommand: string;
}

export async function runBorg(
  settings: BorgSettings,
  subcommand: string,
  args: readonly string[],
  options: { readonly log: SnapshotLog; readonly cwd?: string; readonly json?: boolean },
): Promise<BorgRun> {
  await mkdir(join(settings.varDir, 'borg'), { recursive: true, mode: 0o700 });
  const result = await runLogged(borgArgv(settings, subcommand, args), {
    env: borgEnv(settings),
    log: options.log,
    captureStdout: options.json ?? false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  return { ...result, subcommand };
}

/** A failed borg step in words (failure-reasons.ts); `volume` is where the repository is. */
export function borgFailure(run: BorgRun, volume = "the storage's volume"): string {
  return borgFailureReason(run.subcommand, run, volume);
}

export interface Archive {
  readonly name: string;
  /** From `time`, naive UTC under TZ=UTC. */
  readonly finishedAt: Date;
}

/** The archives of `borg list --json`; entries without a readable time are skipped. */
export function parseArchiveList(stdout: string): Archive[] {
  const parsed = JSON.parse(stdout) as { archives?: unknown };
  if (!Array.isArray(parsed.archives)) throw new Error('borg list --json: no "archives" list');
  const archives: Archive[] = [];
  for (const entry of parsed.archives as unknown[]) {
    const { name, time } = (entry ?? {}) as { name?: unknown; time?: unknown };
    if (typeof name !== 'string' || typeof time !== 'string') continue;
    const finishedAt = parseSidecarTime(time, 'UTC');
    if (finishedAt !== null) archives.push({ name, finishedAt });
  }
  return archives;
}

/** `Archive stats: …⏎` from `borg create --json`, or '' if the output is not as expected. */
export function archiveStatsLine(stdout: string): string {
  try {
    const stats = (JSON.parse(stdout) as { archive?: { stats?: Record<string, unknown> } }).archive?.stats;
    const original = stats?.original_size;
    const deduplicated = stats?.deduplicated_size;
    if (typeof original === 'number' && typeof deduplicated === 'number') {
      return `Archive stats: original ${original} bytes, deduplicated ${deduplicated} bytes\n`;
    }
  } catch {
    // fall through
  }
  return '';
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC, as `borg create --timestamp` takes it. */
export function borgTimestamp(date: Date): string {
  return date.toISOString().slice(0, 19);
}
