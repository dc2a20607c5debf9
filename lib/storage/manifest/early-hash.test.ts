import { createHash } from 'node:crypto';
import { appendFile, lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EarlyHasher } from './early-hash.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'turku-early-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function settled(hasher: EarlyHasher) {
  // The hasher works in the background; give it a moment before it is stopped.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return hasher.finish();
}

test('hashes the named files that exist, in order; a file changed since is not reused', async () => {
  await writeFile(join(root, 'a'), 'alpha');
  await writeFile(join(root, 'b'), 'beta');
  await writeFile(join(root, 'c'), 'gamma');
  const hasher = new EarlyHasher(root, 0);
  for (const line of ['receiving incremental file list', 'dir/', 'a', 'b', 'c', 'x -> a', 'sent 1 bytes']) {
    hasher.offer(line);
  }
  const hashes = await settled(hasher);
  expect(hashes.size).toBe(3);
  expect(hashes.reuse('a', await lstat(join(root, 'a'), { bigint: true }))).toBe(sha('alpha'));
  expect(hashes.reuse('c', await lstat(join(root, 'c'), { bigint: true }))).toBe(sha('gamma'));
  await appendFile(join(root, 'b'), '!');
  expect(hashes.reuse('b', await lstat(join(root, 'b'), { bigint: true }))).toBeNull();
});

test('a name still missing is waited for; stopped, it is left to the manifest', async () => {
  const hasher = new EarlyHasher(root, 0);
  hasher.offer('late');
  await new Promise((resolve) => setTimeout(resolve, 120));
  await writeFile(join(root, 'late'), 'here now');
  hasher.offer('never');
  const hashes = await settled(hasher);
  expect(hashes.reuse('late', await lstat(join(root, 'late'), { bigint: true }))).toBe(sha('here now'));
  expect(hashes.size).toBe(1);
});

test('files under minBytes are left to the manifest', async () => {
  await writeFile(join(root, 'small'), 'tiny');
  await writeFile(join(root, 'large'), 'x'.repeat(1000));
  const hasher = new EarlyHasher(root, 1000);
  hasher.offer('small');
  hasher.offer('large');
  const hashes = await settled(hasher);
  expect(hashes.size).toBe(1);
  expect(hashes.reuse('large', await lstat(join(root, 'large'), { bigint: true }))).toBe(sha('x'.repeat(1000)));
});

test('nothing offered after finish is hashed', async () => {
  await writeFile(join(root, 'a'), 'alpha');
  const hasher = new EarlyHasher(root, 0);
  await hasher.finish();
  hasher.offer('a');
  expect((await hasher.finish()).size).toBe(0);
});
