import { mkdir, readlink, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { say } from '../harness/lifecycle.js';
import { run } from '../harness/processes.js';
import { mutateDataset, warmUp, type Dataset, type Mutation } from './datasets.js';
import {
  type Comparison,
  type Timing,
  bareRsync,
  check,
  compare,
  expectTree,
  logSize,
  storagePhases,
  timed,
  turkuBackup,
} from './measure.js';
import { type DatapathSettings } from './settings.js';
import { type World } from './world.js';

/** One dataset's part of the data-path benchmark: full, incremental, no-change and restore runs, each paired with bare copies. */

export interface DatasetResult {
  readonly name: string;
  readonly description: string;
  readonly files: number;
  readonly bytes: number;
  readonly generateSeconds: number;
  readonly mutations: readonly Mutation[];
  readonly full: Comparison;
  readonly incremental: Comparison;
  readonly noChange: Comparison;
  readonly restore: Comparison;
}

/**
 * Moves a tree out of the way (a rename) rather than deleting it: on a file system without a
 * journal, ext4 skips inodes deleted in the last ~30 s when allocating new ones, reading each
 * one's inode block, so creating files right after a mass delete is many times slower. Whatever
 * is set aside goes with the run directory at the end, after the last measurement.
 */
let setAsideCount = 0;
async function setAside(world: World, path: string): Promise<void> {
  await mkdir(join(world.root, 'set-aside'), { recursive: true });
  await rename(path, join(world.root, 'set-aside', String(++setAsideCount))).catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
  });
}

export async function benchDataset(
  world: World,
  settings: DatapathSettings,
  settle: () => Promise<void>,
  dataset: Dataset,
  source: string,
  generateSeconds: number,
): Promise<DatasetResult> {
  const bare = join(world.root, 'bare', dataset.name);
  const bareCopy = join(bare, 'copy');
  const bareRestore = join(bare, 'restore');
  const bareSnapshot = join(bare, 'snapshot');
  const sshCopy = join(bare, 'ssh-copy');
  const sshRestore = join(bare, 'ssh-restore');
  const overSsh = async (from: string, to: string, what: string): Promise<Timing> => {
    await settle();
    const timing = await timed(() => world.rsyncOverSsh(from, to));
    check(timing.finished, what);
    return timing.timing;
  };
  const snapshots = join(world.machineDir, `${dataset.name}.snapshots`);
  const large = dataset.bytes >= 100_000_000;
  const heavyRuns = large ? settings.largeRuns : settings.runs;
  await mkdir(bare, { recursive: true });
  say(`\nDataset ${dataset.name}: ${dataset.description}, ${(dataset.bytes / 1e6).toFixed(1)} MB`);
  say(`  warm-up read: ${(warmUp(source, dataset) / 1e6).toFixed(1)} MB`);

  // Full.
  const full = { bare: [] as Timing[], bareSsh: [] as Timing[], turku: [] as Timing[] };
  let snapshot: string | null = null;
  for (let i = 0; i < heavyRuns; i++) {
    // From the second run on: start over with no copy, and no snapshot on the storage.
    await setAside(world, bareCopy);
    await setAside(world, sshCopy);
    await setAside(world, snapshots);
    await setAside(world, join(world.machineDir, dataset.name));
    await settle();
    const bareRun = await timed(() => bareRsync(source, bareCopy));
    check(bareRun.finished, 'bare rsync (full)');
    const sshRun = await overSsh(`${source}/`, world.remote(`${sshCopy}/`), 'bare rsync over ssh (full)');
    await settle();
    const turku = await turkuBackup(world, dataset.name, snapshot);
    snapshot = turku.snapshot;
    full.bare.push(bareRun.timing);
    full.bareSsh.push(sshRun);
    full.turku.push(turku.timing);
    say(
      `  full #${i + 1}: bare ${bareRun.timing.seconds} s, over ssh ${sshRun.seconds} s, Turku ${turku.timing.seconds} s`,
    );
  }
  expectTree(join(snapshots, snapshot!), dataset, 'the full snapshot');

  /**
   * One incremental or no-change round: for reference (no target), a local link-dest snapshot of
   * the source onto the bare copy as it was; then the bare rsync onto the copy; then Turku.
   */
  const round = async (
    into: { bare: Timing[]; bareSsh: Timing[]; bareLinkDest: Timing[]; turku: Timing[] },
    label: string,
  ) => {
    await settle();
    const linkDest = await timed(() =>
      run(['rsync', '-a', `--link-dest=${bareCopy}`, `${source}/`, `${bareSnapshot}/`]),
    );
    check(linkDest.finished, 'bare rsync --link-dest');
    await setAside(world, bareSnapshot);
    await settle();
    const bareRun = await timed(() => bareRsync(source, bareCopy));
    check(bareRun.finished, 'bare rsync');
    const sshRun = await overSsh(`${source}/`, world.remote(`${sshCopy}/`), 'bare rsync over ssh');
    await settle();
    const turku = await turkuBackup(world, dataset.name, snapshot);
    snapshot = turku.snapshot;
    into.bare.push(bareRun.timing);
    into.bareSsh.push(sshRun);
    into.bareLinkDest.push(linkDest.timing);
    into.turku.push(turku.timing);
    say(
      `  ${label}: bare ${bareRun.timing.seconds} s (link-dest ${linkDest.timing.seconds} s), over ssh ${sshRun.seconds} s, ` +
        `Turku ${turku.timing.seconds} s`,
    );
  };

  // Incremental, with a new ~1 % of changes each round.
  const incremental = {
    bare: [] as Timing[],
    bareSsh: [] as Timing[],
    bareLinkDest: [] as Timing[],
    turku: [] as Timing[],
  };
  const mutations: Mutation[] = [];
  for (let i = 1; i <= settings.runs; i++) {
    const mutation = mutateDataset(source, settings.seed, dataset, i);
    mutations.push(mutation);
    await round(incremental, `incremental #${i} (${mutation.files} files, ${(mutation.bytes / 1e6).toFixed(2)} MB)`);
  }

  // No change.
  const noChange = {
    bare: [] as Timing[],
    bareSsh: [] as Timing[],
    bareLinkDest: [] as Timing[],
    turku: [] as Timing[],
  };
  for (let i = 1; i <= settings.runs; i++) await round(noChange, `no change #${i}`);
  expectTree(join(snapshots, snapshot!), dataset, 'the last snapshot');

  // Restore of latest into an empty directory.
  const restore = { bare: [] as Timing[], bareSsh: [] as Timing[], turku: [] as Timing[] };
  const latest = join(snapshots, await readlink(join(snapshots, 'latest')));
  warmUp(latest, dataset);
  const target = join(world.agentDir, `restore-${dataset.name}`);
  for (let i = 0; i < heavyRuns; i++) {
    await settle();
    const bareRun = await timed(() => bareRsync(latest, bareRestore));
    check(bareRun.finished, 'bare rsync (restore)');
    await setAside(world, bareRestore);
    const sshRun = await overSsh(world.remote(`${latest}/`), `${sshRestore}/`, 'bare rsync over ssh (restore)');
    await setAside(world, sshRestore);
    await settle();
    const offset = await logSize(world);
    const turku = await timed(() =>
      world.ping('--restore', '--restore-source', dataset.name, '--restore-target', target),
    );
    check(turku.finished, `scripted restore of ${dataset.name}`);
    if (!turku.finished.stdout.includes(`Restored ${dataset.name}`)) {
      throw new Error(`The restore of ${dataset.name} did not say it restored:\n${turku.finished.stdout}`);
    }
    expectTree(target, dataset, 'the restored tree');
    await setAside(world, target);
    const phases = await storagePhases(world, offset, turku.startMs, turku.finished.seconds);
    restore.bare.push(bareRun.timing);
    restore.bareSsh.push(sshRun);
    restore.turku.push(phases === undefined ? turku.timing : { ...turku.timing, phases });
    say(
      `  restore #${i + 1}: bare ${bareRun.timing.seconds} s, over ssh ${sshRun.seconds} s, Turku ${turku.timing.seconds} s`,
    );
  }

  return {
    name: dataset.name,
    description: dataset.description,
    files: dataset.files.length,
    bytes: dataset.bytes,
    generateSeconds,
    mutations,
    full: compare(full.bare, full.bareSsh, full.turku),
    incremental: compare(incremental.bare, incremental.bareSsh, incremental.turku, incremental.bareLinkDest),
    noChange: compare(noChange.bare, noChange.bareSsh, noChange.turku, noChange.bareLinkDest),
    restore: compare(restore.bare, restore.bareSsh, restore.turku),
  };
}
