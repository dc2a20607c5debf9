// Snapshots on a storage as its backups leave them, made with the workload's own code: link-dest
// snapshot directories with sidecars and `latest` (lib/storage/snapshots/names.ts,
// snapshot-dir.ts) and real Borg archives (borg-cli.ts), in a machine directory.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { recordManifest } from '../../lib/storage/manifest/record.js';
import { snapshotSettings } from '../../lib/storage/snapshot-settings.js';
import type { StorageSettings } from '../../lib/storage/settings.js';
import { borgFailure, borgTimestamp, runBorg, type BorgRun } from '../../lib/storage/snapshots/borg-cli.js';
import { formatSidecarTime, snapshotName, writeSidecar } from '../../lib/storage/snapshots/names.js';
import { borgRepo, snapshotsDir } from '../../lib/storage/snapshots/paths.js';
import { replaceLatest } from '../../lib/storage/snapshots/snapshot-dir.js';
import type { SnapshotLog } from '../../lib/storage/snapshots/types.js';

const DAY = 86_400_000;

const quiet: SnapshotLog = { debug() {}, info() {}, warning() {}, error() {} };

/** Adds the snapshots of one source to a machine directory, oldest first; `names` lists them. */
export class StoredSource {
  readonly names: string[] = [];

  constructor(
    private readonly settings: StorageSettings,
    private readonly machineDir: string,
    readonly source: string,
  ) {}

  /**
   * A link-dest snapshot that finished `daysAgo` days before now, holding one file, with its
   * manifest as a backup records it (`manifest: false`: one taken before manifests existed).
   */
  async linkDest(daysAgo: number, options: { readonly manifest?: boolean } = {}): Promise<string> {
    const finish = new Date(Date.now() - daysAgo * DAY);
    const dir = snapshotsDir({ machineDir: this.machineDir, source: this.source });
    const name = snapshotName(this.source, finish, this.settings.timezone);
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'hosts'), `127.0.0.1 localhost # ${daysAgo}\n`);
    await writeSidecar(dir, {
      base: this.names.at(-1) ?? null,
      name,
      sync_begin: formatSidecarTime(new Date(finish.getTime() - 1000)),
      sync_finish: formatSidecarTime(finish),
    });
    if (options.manifest !== false) {
      const base = this.names.at(-1) ?? null;
      await recordManifest({ snapshotsDir: dir, dir: name, name, baseDir: base, recorded: 'backup', now: finish });
    }
    await replaceLatest(dir, name, quiet);
    this.names.push(name);
    return name;
  }

  /** A Borg archive with that finish time (the repository is made with the first one). */
  async borg(daysAgo: number): Promise<string> {
    const finish = new Date(Date.now() - daysAgo * DAY);
    const borg = snapshotSettings(this.settings);
    const repo = borgRepo({ machineDir: this.machineDir, source: this.source });
    const working = join(this.machineDir, this.source);
    await mkdir(working, { recursive: true });
    await writeFile(join(working, 'notes.txt'), `day ${daysAgo}\n`);
    if (this.names.length === 0) await mustSucceed(runBorg(borg, 'init', ['--encryption=none', repo], { log: quiet }));
    const name = snapshotName(this.source, finish, this.settings.timezone);
    const args = ['--timestamp', borgTimestamp(finish), `${repo}::${name}`, '.'];
    await mustSucceed(runBorg(borg, 'create', args, { log: quiet, cwd: working }));
    this.names.push(name);
    return name;
  }
}

async function mustSucceed(run: Promise<BorgRun>): Promise<void> {
  const result = await run;
  if (result.code !== 0) throw new Error(borgFailure(result));
}
