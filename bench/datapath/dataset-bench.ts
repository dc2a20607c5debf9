import { mkdir, readFile, readlink, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { say } from '../harness/lifecycle.js';
import { type Finished } from '../harness/processes.js';
import { createAnchors } from './anchors.js';
import { runInUnit } from './environment.js';
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

/**
 * One dataset's part of the data-path benchmark: full, incremental, no-change and restore runs,
 * each after its references in the same round: bare copies (local, over ssh with OpenSSH's
 * defaults and with AES-GCM) and the anchors' backups (borg, restic).
 */

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
  /** The same snapshot restored by its name and as of its time, in turns (issue 20). */
  readonly restoreChoice: RestoreChoiceResult;
}

export interface RestoreChoiceResult {
  readonly byNameSeconds: readonly number[];
  readonly asOfSeconds: readonly number[];
}

/**
 * Moves a tree out of the way (a rename) rather than deleting it: on a file system without a
 * journal, ext4 skips inodes deleted in the last ~30 s when allocating new ones, reading each
 * one's inode block, so creating files right after a mass delete is many times slower. Whatever
 * is set aside goes with the run directory at the end, after the last measurement.
 */
let setAsideCount = 0;
export async function setAside(world: World, path: string): Promise<void> {
  await mkdir(join(world.root, 'set-aside'), { recursive: true });
  await rename(path, join(world.root, 'set-aside', String(++setAsideCount))).catch((error: unknown) => {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
  });
}

/** The timings of one step's runs, per reference and Turku's. */
interface Series {
  readonly bare: Timing[];
  readonly bareSsh: Timing[];
  readonly bareSshAesGcm: Timing[];
  readonly bareLinkDest: Timing[];
  readonly borg: Timing[];
  readonly restic: Timing[];
  readonly turku: Timing[];
}

const series = (): Series => ({
  bare: [],
  bareSsh: [],
  bareSshAesGcm: [],
  bareLinkDest: [],
  borg: [],
  restic: [],
  turku: [],
});

/** The cipher the AES-GCM reference asks ssh for (fast with AES-NI; Turku's ssh may choose it). */
export const AES_GCM = 'aes128-gcm@openssh.com';

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
  const gcmCopy = join(bare, 'ssh-aes-gcm-copy');
  const sshRestore = join(bare, 'ssh-restore');
  const anchors = await createAnchors(join(world.root, 'anchors', dataset.name), source, (path) =>
    setAside(world, path),
  );
  /** One timed run of a reference, after `sync` and the wait for a quiet machine. */
  const reference = async (what: string, action: () => Promise<Finished>): Promise<Timing> => {
    await settle();
    const timing = await timed(action);
    check(timing.finished, what);
    return timing.timing;
  };
  const snapshots = join(world.machineDir, `${dataset.name}.snapshots`);
  const large = dataset.bytes >= 100_000_000;
  const heavyRuns = large ? settings.largeRuns : settings.runs;
  await mkdir(bare, { recursive: true });
  say(`\nDataset ${dataset.name}: ${dataset.description}, ${(dataset.bytes / 1e6).toFixed(1)} MB`);
  say(`  warm-up read: ${(warmUp(source, dataset) / 1e6).toFixed(1)} MB`);

  /**
   * One step's copies of the source and the anchors' backups, then Turku's backup, each timed
   * after a settle; says the figures on one line.
   */
  let snapshot: string | null = null;
  const step = async (into: Series, label: string, linkDest?: Timing): Promise<void> => {
    const copy = await reference(`bare rsync (${label})`, () => bareRsync(source, bareCopy));
    const ssh = await reference(`rsync over ssh (${label})`, () =>
      world.rsyncOverSsh(`${source}/`, world.remote(`${sshCopy}/`)),
    );
    const gcm = await reference(`rsync over ssh, AES-GCM (${label})`, () =>
      world.rsyncOverSsh(`${source}/`, world.remote(`${gcmCopy}/`), AES_GCM),
    );
    const borg = await reference(`borg create (${label})`, anchors.borgCreate);
    const restic = await reference(`restic backup (${label})`, anchors.resticBackup);
    await settle();
    const turku = await turkuBackup(world, dataset.name, snapshot);
    snapshot = turku.snapshot;
    into.bare.push(copy);
    into.bareSsh.push(ssh);
    into.bareSshAesGcm.push(gcm);
    into.borg.push(borg);
    into.restic.push(restic);
    into.turku.push(turku.timing);
    if (linkDest !== undefined) into.bareLinkDest.push(linkDest);
    say(
      `  ${label}: bare ${copy.seconds} s${linkDest === undefined ? '' : ` (link-dest ${linkDest.seconds} s)`}, ` +
        `over ssh ${ssh.seconds} s (AES-GCM ${gcm.seconds} s), borg ${borg.seconds} s, restic ${restic.seconds} s, ` +
        `Turku ${turku.timing.seconds} s`,
    );
  };

  // Full: each run starts over with no copy, no repository and no snapshot on the storage.
  const full = series();
  for (let i = 0; i < heavyRuns; i++) {
    for (const path of [bareCopy, sshCopy, gcmCopy, snapshots, join(world.machineDir, dataset.name)]) {
      await setAside(world, path);
    }
    await anchors.fresh();
    await step(full, `full #${i + 1}`);
  }
  expectTree(join(snapshots, snapshot!), dataset, 'the full snapshot');

  /**
   * One incremental or no-change round: first, for reference (no target), a local link-dest
   * snapshot of the source onto the bare copy as it was; then the step.
   */
  const round = async (into: Series, label: string) => {
    const linkDest = await reference('bare rsync --link-dest', () =>
      runInUnit(['rsync', '-a', `--link-dest=${bareCopy}`, `${source}/`, `${bareSnapshot}/`]),
    );
    await setAside(world, bareSnapshot);
    await step(into, label, linkDest);
  };

  // Incremental, with a new ~1 % of changes each round.
  const incremental = series();
  const mutations: Mutation[] = [];
  for (let i = 1; i <= settings.runs; i++) {
    const mutation = mutateDataset(source, settings.seed, dataset, i);
    mutations.push(mutation);
    await round(incremental, `incremental #${i} (${mutation.files} files, ${(mutation.bytes / 1e6).toFixed(2)} MB)`);
  }

  // No change.
  const noChange = series();
  for (let i = 1; i <= settings.runs; i++) await round(noChange, `no change #${i}`);
  expectTree(join(snapshots, snapshot!), dataset, 'the last snapshot');

  // Restore of latest into an empty directory.
  const restore = series();
  const latest = join(snapshots, await readlink(join(snapshots, 'latest')));
  warmUp(latest, dataset);
  const target = join(world.agentDir, `restore-${dataset.name}`);
  const latestName = await readlink(join(snapshots, 'latest'));
  const latestTime = (
    JSON.parse(await readFile(join(snapshots, `${latestName}.json`), 'utf8')) as { sync_finish: string }
  ).sync_finish;
  const restoreChoice = { byNameSeconds: [] as number[], asOfSeconds: [] as number[] };
  /** One restore of `latest` chosen by name or as of its time (the storage lists and picks either way). */
  const restoreBy = async (how: 'name' | 'as-of'): Promise<number> => {
    await settle();
    const choice = how === 'name' ? ['--restore-snapshot', latestName] : ['--restore-as-of', latestTime];
    const run = await timed(() =>
      world.ping('--restore', '--restore-source', dataset.name, ...choice, '--restore-target', target),
    );
    check(run.finished, `restore of ${dataset.name} by ${how}`);
    if (!run.finished.stdout.includes(`snapshot ${latestName}`)) {
      throw new Error(`The restore by ${how} did not restore ${latestName}:\n${run.finished.stdout}`);
    }
    expectTree(target, dataset, `the tree restored by ${how}`);
    await setAside(world, target);
    return run.timing.seconds;
  };
  for (let i = 0; i < heavyRuns; i++) {
    const copy = await reference('bare rsync (restore)', () => bareRsync(latest, bareRestore));
    await setAside(world, bareRestore);
    const ssh = await reference('rsync over ssh (restore)', () =>
      world.rsyncOverSsh(world.remote(`${latest}/`), `${sshRestore}/`),
    );
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
    restore.bare.push(copy);
    restore.bareSsh.push(ssh);
    restore.turku.push(phases === undefined ? turku.timing : { ...turku.timing, phases });
    say(`  restore #${i + 1}: bare ${copy.seconds} s, over ssh ${ssh.seconds} s, Turku ${turku.timing.seconds} s`);
    // In turns, which goes first alternating, so neither gets the warmer cache each time.
    const order = i % 2 === 0 ? (['name', 'as-of'] as const) : (['as-of', 'name'] as const);
    for (const how of order)
      (how === 'name' ? restoreChoice.byNameSeconds : restoreChoice.asOfSeconds).push(await restoreBy(how));
    say(
      `  restore #${i + 1} of ${latestName}: by name ${restoreChoice.byNameSeconds.at(-1)} s, ` +
        `as of ${latestTime} ${restoreChoice.asOfSeconds.at(-1)} s`,
    );
  }

  return {
    name: dataset.name,
    description: dataset.description,
    files: dataset.files.length,
    bytes: dataset.bytes,
    generateSeconds,
    mutations,
    full: compare(full.turku, full),
    incremental: compare(incremental.turku, incremental),
    noChange: compare(noChange.turku, noChange),
    restore: compare(restore.turku, restore),
    restoreChoice,
  };
}
