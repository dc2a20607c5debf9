import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { niceOf, threadNices } from '../../../tests/support/thread-nices.js';
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
