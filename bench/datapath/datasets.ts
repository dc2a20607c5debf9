import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, utimesSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { seededRandom } from '../../lib/common/seeded-random.js';

/**
 * The benchmark's source trees, generated at start. Every file's size, place and content follow
 * from the seed: content is an AES-128-CTR keystream keyed by (seed, dataset, file, version), so it
 * is incompressible and the same on every run, and every mtime is set explicitly.
 */

export interface FileSpec {
  /** Relative to the dataset's root. */
  readonly path: string;
  readonly size: number;
}

export interface Dataset {
  readonly name: string;
  readonly description: string;
  readonly files: readonly FileSpec[];
  readonly bytes: number;
}

export interface Mutation {
  readonly round: number;
  readonly files: number;
  readonly bytes: number;
  readonly filesPercent: number;
  readonly bytesPercent: number;
}

/** All files get this mtime when written; a file rewritten in round r gets it plus r hours. */
const BASE_MTIME_SECONDS = Date.UTC(2024, 0, 1) / 1000;
const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);

/** A small seeded generator (mulberry32 over a hash of the label) for sizes and choices. */
export function rng(label: string): () => number {
  return seededRandom(createHash('sha256').update(label).digest().readUInt32LE(0));
}

function logUniform(random: () => number, min: number, max: number): number {
  return Math.round(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))));
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/**
 * Dataset A, "mixed": about 2,000 files and 500 MB (at scale 1): 90 % small files (512 B - 96 kB),
 * 10 % of 0.5 - 4 MB (scaled so that the total is exact), and four of 20 - 40 MB; about 50 files
 * per directory, two levels deep, sizes shuffled over the tree.
 */
export function mixedDataset(seed: string, scale: number): Dataset {
  const random = rng(`${seed}:A:sizes`);
  const count = Math.max(20, Math.round(2000 * scale));
  const totalBytes = Math.round(500_000_000 * scale);
  const large = [20, 25, 30, 40].map((mb) => Math.round(mb * 1_000_000 * scale));
  const mediumCount = Math.max(1, Math.round(count * 0.1) - large.length);
  const smallCount = count - large.length - mediumCount;
  const small = Array.from({ length: smallCount }, () => logUniform(random, 512, 96_000));
  let medium = Array.from({ length: mediumCount }, () => logUniform(random, 500_000, 4_000_000));
  const fixed = [...large, ...small].reduce((sum, size) => sum + size, 0);
  const mediumSum = medium.reduce((sum, size) => sum + size, 0);
  const factor = (totalBytes - fixed) / mediumSum;
  medium = medium.map((size) => Math.max(1, Math.round(size * factor)));
  medium[0]! += totalBytes - fixed - medium.reduce((sum, size) => sum + size, 0);
  const sizes = shuffle([...large, ...medium, ...small], random);
  const files = sizes.map((size, i) => {
    const leaf = Math.floor(i / 50);
    return { path: join(`d${pad(Math.floor(leaf / 8), 2)}`, `s${pad(leaf % 8, 1)}`, `file-${pad(i, 5)}.bin`), size };
  });
  return {
    name: 'A',
    description: `${files.length} files, mixed sizes (512 B - ${Math.max(...large) / 1e6} MB)`,
    files,
    bytes: files.reduce((sum, file) => sum + file.size, 0),
  };
}

/** Dataset B, "small files": 50,000 files of 128 B - 4 kB (at scale 1), 100 per directory. */
export function smallFilesDataset(seed: string, scale: number): Dataset {
  const random = rng(`${seed}:B:sizes`);
  const count = Math.max(100, Math.round(50_000 * scale));
  const files = Array.from({ length: count }, (_, i) => {
    const leaf = Math.floor(i / 100);
    return {
      path: join(`t${pad(Math.floor(leaf / 20), 2)}`, `l${pad(leaf % 20, 2)}`, `f${pad(i, 5)}.dat`),
      size: logUniform(random, 128, 4096),
    };
  });
  return {
    name: 'B',
    description: `${files.length} small files (128 B - 4 kB)`,
    files,
    bytes: files.reduce((sum, file) => sum + file.size, 0),
  };
}

/** Writes one file's content for `version` (0 at generation, r after round r). */
function writeContent(root: string, seed: string, dataset: string, file: FileSpec, version: number): void {
  const key = createHash('sha256').update(`${seed}:${dataset}:${file.path}:${version}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const path = join(root, file.path);
  const fd = openSync(path, 'w', 0o644);
  try {
    for (let left = file.size; left > 0; left -= CHUNK) {
      const block = cipher.update(left >= CHUNK ? ZEROS : ZEROS.subarray(0, left));
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  const mtime = BASE_MTIME_SECONDS + version * 3600;
  utimesSync(path, mtime, mtime);
}

export function writeDataset(root: string, seed: string, dataset: Dataset): void {
  const made = new Set<string>();
  for (const file of dataset.files) {
    const dir = dirname(join(root, file.path));
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    writeContent(root, seed, dataset.name, file, 0);
  }
}

/**
 * Round `round` (1, 2, ...) of changes: about 1 % of the files, chosen by the seed, rewritten
 * whole with new content of the same size and a new mtime, within a budget of 1 % of the bytes
 * (so one of the few very large files cannot make it 8 %).
 */
export function mutateDataset(root: string, seed: string, dataset: Dataset, round: number): Mutation {
  const random = rng(`${seed}:${dataset.name}:mutate:${round}`);
  const wanted = Math.max(1, Math.round(dataset.files.length / 100));
  const budget = dataset.bytes / 100;
  let files = 0;
  let bytes = 0;
  for (const index of shuffle(
    dataset.files.map((_, i) => i),
    random,
  )) {
    if (files >= wanted) break;
    const file = dataset.files[index]!;
    if (bytes + file.size > budget) continue;
    writeContent(root, seed, dataset.name, file, round);
    files++;
    bytes += file.size;
  }
  return {
    round,
    files,
    bytes,
    filesPercent: Math.round((files / dataset.files.length) * 10_000) / 100,
    bytesPercent: Math.round((bytes / dataset.bytes) * 10_000) / 100,
  };
}

/** Reads every file of the dataset once (into the page cache), returning the bytes read. */
export function warmUp(root: string, dataset: Dataset): number {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  for (const file of dataset.files) {
    const fd = openSync(join(root, file.path), 'r');
    try {
      for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) total += read;
    } finally {
      closeSync(fd);
    }
  }
  return total;
}
