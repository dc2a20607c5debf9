import { chmod, lstat, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

import { errorMessage } from '../common/errors.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { SESSIONS_DIR } from './exit-cleanup.js';

/**
 * A restore killed with SIGKILL runs none of its clean-up: its staging directory stays in the
 * target (making it look non-empty to the next restore) and so do the directories it created on
 * the way. So while a restore runs, a record in `<var_dir>/sessions/restore-*.json` names its
 * target and those directories, written before the staging directory exists; the next start
 * (under the agent's lock, so no restore is running) undoes what such a record names.
 */

/** Staging directories are `<target>/.turku-restore-XXXXXX`. */
export const STAGING_PREFIX = '.turku-restore-';
const RECORD_PREFIX = 'restore-';

export interface RestoreRecord {
  /** Absolute. */
  readonly target: string;
  /** Directories this restore created, deepest first (the target's chain). */
  readonly created: readonly string[];
}

/** Writes the record (0600); the returned function removes it once the restore has cleaned up. */
export async function writeRestoreRecord(varDir: string, record: RestoreRecord): Promise<() => Promise<void>> {
  const dir = join(varDir, SESSIONS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = join(dir, `${RECORD_PREFIX}${randomBytes(6).toString('hex')}.json`);
  await writeFile(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  return () => rm(file, { force: true });
}

/** The targets of restores an earlier agent did not finish: their staging entries are leftovers. */
export async function unfinishedRestoreTargets(varDir: string): Promise<Set<string>> {
  return new Set((await readRecords(varDir)).map(({ record }) => record.target));
}

/**
 * Removes the staging directories of unfinished restores and the directories they created that
 * are empty again, then their records. The caller holds the agent's lock. Returns how many.
 */
export async function sweepUnfinishedRestores(varDir: string, log: WorkloadLogger): Promise<number> {
  let swept = 0;
  for (const { file, record } of await readRecords(varDir)) {
    try {
      for (const staging of await stagingDirectories(record.target))
        await rm(staging, { recursive: true, force: true });
      for (const dir of record.created) {
        if (
          !(await rmdir(dir).then(
            () => true,
            () => false,
          ))
        )
          break; // not empty: its parents are not either
      }
      await rm(file, { force: true });
      swept++;
      log.info(`Removed what an interrupted restore left in ${record.target}`);
    } catch (error) {
      log.warning(`Cannot clean up after the interrupted restore into ${record.target}: ${errorMessage(error)}`);
    }
  }
  return swept;
}

async function readRecords(varDir: string): Promise<{ file: string; record: RestoreRecord }[]> {
  const dir = join(varDir, SESSIONS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const records: { file: string; record: RestoreRecord }[] = [];
  for (const name of names.filter((entry) => entry.startsWith(RECORD_PREFIX) && entry.endsWith('.json'))) {
    const file = join(dir, name);
    const record = parseRecord(await readFile(file, 'utf8').catch(() => ''));
    // An unreadable record (cut short by the kill) names nothing to undo.
    if (record === undefined) await rm(file, { force: true });
    else records.push({ file, record });
  }
  return records;
}

function parseRecord(text: string): RestoreRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<RestoreRecord>;
    const absolute = (path: unknown): path is string => typeof path === 'string' && path.startsWith('/');
    if (!absolute(value.target) || !Array.isArray(value.created) || !value.created.every(absolute)) return undefined;
    return { target: value.target, created: value.created };
  } catch {
    return undefined;
  }
}

/** Real directories (not symlinks) named like staging directories in a real directory `target`. */
async function stagingDirectories(target: string): Promise<string[]> {
  const stats = await lstat(target).catch(() => undefined);
  if (stats === undefined || !stats.isDirectory()) return [];
  const found: string[] = [];
  for (const name of await readdir(target)) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const path = join(target, name);
    if ((await lstat(path)).isDirectory()) found.push(path);
  }
  return found;
}
