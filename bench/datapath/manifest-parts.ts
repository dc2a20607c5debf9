import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { EarlyHasher, type EarlyHashes } from '../../lib/storage/manifest/early-hash.js';
import { MAX_DELTA_DEPTH } from '../../lib/storage/manifest/delta.js';
import { deltaPath, manifestPath } from '../../lib/storage/manifest/files.js';
import { readBaseManifest, recordManifest, type BaseManifest } from '../../lib/storage/manifest/record.js';
import { storedManifestBody, storedManifestText } from '../../lib/storage/manifest/stored.js';
import { atExit, delay, say } from '../harness/lifecycle.js';
import { machineInfo, waitForQuiet } from '../harness/machine.js';
import { numberEnv, outputName } from '../harness/options.js';
import { median, round } from '../harness/stats.js';
import { writeResults } from '../harness/results.js';
import { mixedDataset, smallFilesDataset, writeDataset, type Dataset } from './datasets.js';

/**
 * The manifest's steps alone, in this process, outside any backup (docs/datapath.md, "Manifests
 * and verify"; `bench:datapath` times them whole, inside backups, where a busy 2-core machine's
 * noise is often larger than the step): datasets A and B written to a scratch directory, then
 *   patch     - B's 1 % incremental manifest made from the changed paths (recordManifest with a
 *               clone's changes), as a delta on its base's or patched into a whole one (as when
 *               the base's ends a chain of deltas), in turns, what each needs of the base's
 *               manifest read before the timer starts (as the pull has it); then each read back
 *               as verify reads it, the delta made whole;
 *   names     - the early hasher offered B's 50,000 names as rsync prints them, after their sizes,
 *               or each name looked at with an `lstat` (what every name cost before the sizes);
 *               CPU only, as the hasher works in the background;
 *   recording - A's manifest recorded after its pull, given the early hashes of its files of
 *               64 KiB and more (taken once, before).
 * Each figure is the median of BENCH_PARTS_RUNS runs (default 41: with 11, the patch's two ways
 * could not be told apart) after 3 untimed ones, wall time and this process's CPU (all its
 * threads). `npm run bench:manifest-parts`; results in bench/results/manifest-parts.json
 * (BENCH_OUTPUT: another name).
 */

const SEED = 'turku-bench-datapath';
/** Runs first, untimed: the first few are slower (the code not yet optimised by V8, caches cold). */
const WARM_UP = 3;

interface Timed {
  readonly ms: number;
  readonly cpuMs: number;
}

interface Figures {
  readonly wallMs: number | null;
  readonly cpuMs: number;
  readonly runs: Timed[];
}

async function timed(action: () => Promise<unknown>): Promise<Timed> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await action();
  const used = process.cpuUsage(cpu);
  return { ms: round(performance.now() - start, 1), cpuMs: round((used.user + used.system) / 1000, 1) };
}

/** Both, the first one first in even rounds and last in odd ones, so that neither always follows the other. */
async function inTurns<T>(round: number, first: () => Promise<T>, second: () => Promise<T>): Promise<[T, T]> {
  if (round % 2 === 0) {
    const a = await first();
    return [a, await second()];
  }
  const b = await second();
  return [await first(), b];
}

/** `run` for each round, the first `WARM_UP` rounds left out of what it gives back. */
async function afterWarmUp<T>(runs: number, run: (round: number) => Promise<T>): Promise<T[]> {
  const kept: T[] = [];
  for (let i = 0; i < WARM_UP + runs; i++) {
    const result = await run(i);
    if (i >= WARM_UP) kept.push(result);
  }
  return kept;
}

function figures(runs: Timed[], wall = true): Figures {
  return {
    wallMs: wall ? round(median(runs.map((r) => r.ms)), 1) : null,
    cpuMs: round(median(runs.map((r) => r.cpuMs)), 1),
    runs,
  };
}

/** `base` written whole, its manifest recorded; `new` a hard-link clone with every 100th file rewritten. */
async function incrementalOf(scratch: string, dataset: Dataset): Promise<string[]> {
  const base = join(scratch, 'base');
  writeDataset(base, SEED, dataset);
  await recordManifest({
    snapshotsDir: scratch,
    dir: 'base',
    name: 'base',
    baseDir: null,
    recorded: 'backup',
    now: new Date(),
  });
  execFileSync('cp', ['-al', base, join(scratch, 'new')]);
  const touched = new Set<string>();
  dataset.files.forEach((file, i) => {
    if (i % 100 !== 37) return;
    const path = join(scratch, 'new', file.path);
    rmSync(path); // a new inode, as rsync writes it: the base's file stays as it was
    writeFileSync(path, `changed ${file.path}\n`.repeat(Math.max(1, Math.round(file.size / 40))));
    utimesSync(path, 1.8e9, 1.8e9);
    for (let dir = file.path; dir !== '.'; dir = dirname(dir)) touched.add(dir);
  });
  return [...touched];
}

async function benchPatch(scratch: string, dataset: Dataset, runs: number): Promise<Record<string, Figures>> {
  const touched = await incrementalOf(scratch, dataset);
  const record = (base: Promise<BaseManifest | null>) =>
    recordManifest({
      snapshotsDir: scratch,
      dir: 'new',
      name: 'new',
      baseDir: 'base',
      changes: { touched, deleted: [] },
      base,
      recorded: 'backup',
      now: new Date(),
    });
  const pairs = await afterWarmUp(runs, async (i) => {
    // Both read before the timer starts, as the pull has them: what a delta needs, and the whole text.
    const forDelta = await readBaseManifest(scratch, 'base');
    const body = await storedManifestBody(scratch, 'base');
    const forWhole = { ...forDelta!, depth: MAX_DELTA_DEPTH, body };
    const [delta, whole] = await inTurns(
      i,
      () => timed(() => record(Promise.resolve(forDelta))),
      () => timed(() => record(Promise.resolve(forWhole))),
    );
    // Read back as verify reads it: the whole one (preferred while both are there), then the delta made whole.
    const readWhole = await timed(() => storedManifestText(scratch, 'new'));
    rmSync(manifestPath(scratch, 'new'));
    const readDelta = await timed(() => storedManifestText(scratch, 'new'));
    rmSync(deltaPath(scratch, 'new'));
    return [delta, whole, readWhole, readDelta];
  });
  const each = (k: number) => figures(pairs.map((timings) => timings[k]!));
  return { delta: each(0), whole: each(1), readWhole: each(2), readDeltaMadeWhole: each(3) };
}

/** CPU of offering every name and letting the hasher take what it takes, over a fixed wait. */
async function offerAll(root: string, lines: readonly string[]): Promise<{ timing: Timed; hashes: EarlyHashes }> {
  let hashes: EarlyHashes | undefined;
  const timing = await timed(async () => {
    const hasher = new EarlyHasher(root);
    for (const line of lines) hasher.offer(line);
    await delay(1500);
    hashes = await hasher.finish();
  });
  return { timing, hashes: hashes! };
}

async function benchNames(root: string, dataset: Dataset, runs: number): Promise<Record<string, Figures>> {
  const sized = dataset.files.map((file) => `${file.size} ${file.path}`);
  // A size at the threshold: the hasher looks at each name, as it did when rsync printed no size.
  const looked = dataset.files.map((file) => `${64 * 1024} ${file.path}`);
  const pairs = await afterWarmUp(runs, (i) =>
    inTurns(
      i,
      async () => (await offerAll(root, sized)).timing,
      async () => (await offerAll(root, looked)).timing,
    ),
  );
  const withSizes = pairs.map(([a]) => a);
  const eachLooked = pairs.map(([, b]) => b);
  return { sizesPrinted: figures(withSizes, false), eachNameLooked: figures(eachLooked, false) };
}

async function benchRecording(scratch: string, dataset: Dataset, runs: number): Promise<Figures & { early: number }> {
  const root = join(scratch, 'A');
  writeDataset(root, SEED, dataset);
  const { hashes } = await offerAll(
    root,
    dataset.files.map((file) => `${file.size} ${file.path}`),
  );
  const all = await afterWarmUp(runs, () =>
    timed(() =>
      recordManifest({
        snapshotsDir: scratch,
        dir: 'A',
        name: 'A',
        baseDir: null,
        early: hashes,
        recorded: 'backup',
        now: new Date(),
      }),
    ),
  );
  return { ...figures(all), early: hashes.size };
}

async function main(): Promise<void> {
  const runs = numberEnv('BENCH_PARTS_RUNS', 41);
  const scale = numberEnv('BENCH_SCALE', 1, { integer: false, min: 0.001 });
  const scratch = mkdtempSync(join(tmpdir(), 'turku-manifest-parts-'));
  atExit(() => rmSync(scratch, { recursive: true, force: true }));
  const small = smallFilesDataset(SEED, scale);
  const mixed = mixedDataset(SEED, scale);
  const quiet = () => waitForQuiet({ percent: 20, waitSeconds: 30, firstSampleSeconds: 2, indent: '  ' });

  say(`B (${small.description}): 1 % incremental's manifest from its base's`);
  await quiet();
  const patch = await benchPatch(join(scratch, 'B'), small, runs);
  say(`  as a delta: ${patch['delta']!.wallMs} ms; patched whole: ${patch['whole']!.wallMs} ms`);
  say(
    `  read back whole: ${patch['readWhole']!.wallMs} ms; the delta made whole: ${patch['readDeltaMadeWhole']!.wallMs} ms`,
  );
  say(`B: the early hasher offered every name`);
  await quiet();
  const names = await benchNames(join(scratch, 'B', 'base'), small, runs);
  say(
    `  sizes printed: ${names['sizesPrinted']!.cpuMs} CPU-ms; each name looked at: ${names['eachNameLooked']!.cpuMs} CPU-ms`,
  );
  say(`A (${mixed.description}): the recording after rsync, with the early hashes`);
  await quiet();
  const recording = await benchRecording(scratch, mixed, runs);
  say(`  ${recording.wallMs} ms, ${recording.cpuMs} CPU-ms (${recording.early} files hashed early)`);

  const output = {
    date: new Date().toISOString(),
    node: process.version,
    machine: machineInfo(),
    runs,
    scale,
    patch,
    names,
    recording,
  };
  const name = outputName('manifest-parts');
  await writeResults(name, output);
  say(`Results: bench/results/${name}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`manifest-parts: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
