import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BatchHasher, HASHER_NICE, statKey } from './batch-hasher.js';

let root: string;
let hasher: BatchHasher;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'turku-batch-'));
  hasher = new BatchHasher();
});
afterEach(async () => {
  await hasher.close();
  await rm(root, { recursive: true, force: true });
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function files(count: number) {
  const made = [];
  for (let i = 0; i < count; i++) {
    const path = join(root, `f${i}`);
    await writeFile(path, `file ${i}`);
    made.push({ path, before: statKey(await lstat(path, { bigint: true })) });
  }
  return made;
}

/** A /proc stat file's nice value: field 19, the state (after the command's parenthesis) being field 3. */
const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

/** The nice values of this process's threads. */
async function threadNices(): Promise<number[]> {
  const nices = [];
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => null);
    if (stat !== null) nices.push(niceOf(stat));
  }
  return nices;
}

test('hashes each file of a batch, in order', async () => {
  const batch = await files(3);
  expect(await hasher.hash(batch)).toEqual([sha('file 0'), sha('file 1'), sha('file 2')]);
});

test('its thread runs at the lowest priority, and no other thread of the program does', async () => {
  const own = niceOf(await readFile('/proc/self/stat', 'utf8'));
  expect(own).not.toBe(HASHER_NICE);
  expect(await threadNices()).not.toContain(HASHER_NICE);
  await hasher.hash(await files(1));
  const nices = await threadNices();
  expect(nices.filter((nice) => nice === HASHER_NICE)).toHaveLength(1);
  expect(nices.filter((nice) => nice === own).length).toBe(nices.length - 1);
  await hasher.close();
  expect(await threadNices()).not.toContain(HASHER_NICE);
});
