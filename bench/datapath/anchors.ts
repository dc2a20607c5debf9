import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type Finished, mustRun } from '../harness/processes.js';
import { runInUnit, unitArgv, type UnitOptions } from './environment.js';

/**
 * The anchors of the data-path benchmark: what an operator would run instead of Turku to back up
 * the same data on the same machine, BorgBackup (`borg create`) and restic (`restic backup`), each
 * into a local repository on the storage's file system. A full backup goes into a fresh
 * repository (created untimed, the old one set aside); incremental and no-change backups are the
 * next archive or snapshot of the same source into the same repository.
 *
 * BorgBackup: `--encryption=none` and `--compression lz4`, the defaults of Turku's own borg
 * snapshot mode (lib/storage/settings.ts, `borg_encryption` and `borg_compression`), and like
 * Turku's own snapshots not encrypted at rest: the same work as Turku's storage does, and the
 * fastest borg an operator would pick. restic always encrypts (its only mode); its repository
 * format and compression are its defaults, with a fixed password from RESTIC_PASSWORD_FILE.
 */

/** The versions the results file records. */
export const ANCHOR_VERSION_COMMANDS = { borg: ['borg', '--version'], restic: ['restic', 'version'] } as const;

export const ANCHOR_SETTINGS = {
  borg: 'borg init --encryption=none REPO (untimed); borg create --compression lz4 REPO::N SRC',
  restic:
    'restic init (untimed), then restic backup SRC, with -r REPO and RESTIC_PASSWORD_FILE; repository version and ' +
    'compression are restic’s defaults; restic always encrypts',
} as const;

export interface Anchors {
  /** Sets the repositories aside and creates fresh, empty ones (untimed). */
  readonly fresh: () => Promise<void>;
  /** The next archive of the source: `borg create`, to be timed. */
  readonly borgCreate: () => Promise<Finished>;
  /** The next snapshot of the source: `restic backup`, to be timed. */
  readonly resticBackup: () => Promise<Finished>;
}

/**
 * Anchors for `source`, their repositories and caches under `dir`. `setAside` moves a tree out of
 * the way without deleting it (see dataset-bench.ts).
 */
export async function createAnchors(
  dir: string,
  source: string,
  setAside: (path: string) => Promise<void>,
): Promise<Anchors> {
  const home = join(dir, 'home');
  const borgRepo = join(dir, 'borg');
  const resticRepo = join(dir, 'restic');
  const passwordFile = join(dir, 'restic-password');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(passwordFile, 'turku-bench-restic\n', { mode: 0o600 });
  const borg: UnitOptions = { home, timeoutMs: 900_000 };
  const restic: UnitOptions = { home, extra: { RESTIC_PASSWORD_FILE: passwordFile }, timeoutMs: 900_000 };
  let archives = 0;
  return {
    fresh: async () => {
      // The caches go too: a fresh repository has a new id, but their size would grow with every run.
      for (const path of [borgRepo, resticRepo, join(home, '.cache')]) await setAside(path);
      await mustRun(unitArgv(['borg', 'init', '--encryption=none', borgRepo], borg));
      await mustRun(unitArgv(['restic', '-r', resticRepo, 'init'], restic));
    },
    borgCreate: () => runInUnit(['borg', 'create', '--compression', 'lz4', `${borgRepo}::${++archives}`, source], borg),
    resticBackup: () => runInUnit(['restic', '-r', resticRepo, 'backup', source], restic),
  };
}
