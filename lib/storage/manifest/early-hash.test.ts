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

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
/** rsync's line for an entry (rsync.ts `SIZED_NAME_FORMAT`); the size as listed, 1 MiB unless said. */
const named = (name: string, size = 1 << 20) => `${size} ${name}`;

async function settled(hasher: EarlyHasher, ms = 200) {
  // The hasher works in the background; give it a moment before it is stopped.
  await new Promise((resolve) => setTimeout(resolve, ms));
  return hasher.finish();
}

test('hashes the named files that exist, in order; a file changed since is not reused', async () => {
  await writeFile(join(root, 'a'), 'alpha');
  await writeFile(join(root, 'b'), 'beta');
  await writeFile(join(root, 'c'), 'gamma');
  const hasher = new EarlyHasher(root, 0);
  for (const line of [
    'receiving incremental file list',
    named('dir/', 4096),
    named('a'),
    named('b'),
    named('c'),
    named('x -> a', 1),
    'sent 1 bytes  received 2 bytes  3.00 bytes/sec',
  ]) {
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
  hasher.offer(named('late'));
  await new Promise((resolve) => setTimeout(resolve, 120));
  await writeFile(join(root, 'late'), 'here now');
  hasher.offer(named('never'));
  const hashes = await settled(hasher);
  expect(hashes.reuse('late', await lstat(join(root, 'late'), { bigint: true }))).toBe(sha('here now'));
  expect(hashes.size).toBe(1);
});

test('files under 64 KiB are left to the manifest by default', async () => {
  await writeFile(join(root, 'small'), 'x'.repeat(64 * 1024 - 1));
  await writeFile(join(root, 'large'), 'x'.repeat(64 * 1024));
  const hasher = new EarlyHasher(root);
  for (const name of ['small', 'large']) hasher.offer(named(name));
  const hashes = await settled(hasher);
  expect(hashes.size).toBe(1);
  expect(hashes.reuse('small', await lstat(join(root, 'small'), { bigint: true }))).toBeNull();
  expect(hashes.reuse('large', await lstat(join(root, 'large'), { bigint: true }))).toBe(sha('x'.repeat(64 * 1024)));
});

test('with no threshold, small and large files alike, in batches; a file replaced since is not reused', async () => {
  const names = Array.from({ length: 600 }, (_, i) => `f${i}`);
  for (const name of names) await writeFile(join(root, name), name);
  await writeFile(join(root, 'large'), 'x'.repeat(3 << 20));
  const hasher = new EarlyHasher(root, 0);
  for (const name of [...names, 'large']) hasher.offer(named(name));
  const hashes = await settled(hasher);
  expect(hashes.size).toBe(601);
  expect(hashes.reuse('f599', await lstat(join(root, 'f599'), { bigint: true }))).toBe(sha('f599'));
  expect(hashes.reuse('large', await lstat(join(root, 'large'), { bigint: true }))).toBe(sha('x'.repeat(3 << 20)));
  await rm(join(root, 'f1'));
  await writeFile(join(root, 'f1'), 'f1'); // same content and size, another inode
  expect(hashes.reuse('f1', await lstat(join(root, 'f1'), { bigint: true }))).toBeNull();
});

test('thousands of names offered at once are each taken, in order, the queue dropping those done with', async () => {
  // More than a turn's names and than the queue keeps before it drops those taken (1,024).
  const names = Array.from({ length: 3000 }, (_, i) => `n${i}`);
  for (const name of names) await writeFile(join(root, name), name);
  const hasher = new EarlyHasher(root, 0);
  hasher.offer(named('missing')); // never comes: skipped once a later name is there
  for (const name of names) hasher.offer(named(name));
  const hashes = await settled(hasher, 1500); // some 30 ms of work, on a machine that may be busy
  expect(hashes.size).toBe(3000);
  for (const name of ['n0', 'n1023', 'n1024', 'n2999'])
    expect(hashes.reuse(name, await lstat(join(root, name), { bigint: true }))).toBe(sha(name));
});

test('a file appended to while it may be read: a hash kept is the content as it is now', async () => {
  // Large enough for the append below to land, at times, while the worker still reads it.
  await writeFile(join(root, 'growing'), Buffer.alloc(64 << 20, 1));
  const hasher = new EarlyHasher(root, 0);
  hasher.offer(named('growing'));
  await new Promise((resolve) => setTimeout(resolve, 30));
  await appendFile(join(root, 'growing'), 'more');
  const hashes = await hasher.finish();
  const kept = hashes.reuse('growing', await lstat(join(root, 'growing'), { bigint: true }));
  if (kept !== null) expect(kept).toBe(sha(Buffer.concat([Buffer.alloc(64 << 20, 1), Buffer.from('more')])));
});

test('nothing offered after finish is hashed', async () => {
  await writeFile(join(root, 'a'), 'alpha');
  const hasher = new EarlyHasher(root, 0);
  await hasher.finish();
  hasher.offer(named('a'));
  expect((await hasher.finish()).size).toBe(0);
});

test('a file listed under 64 KiB is passed over unlooked at, a line without a size too', async () => {
  // On disk each is large: only the size rsync printed can have kept them out.
  for (const name of ['listed-small', 'unsized', 'listed-large'])
    await writeFile(join(root, name), 'x'.repeat(1 << 17));
  const hasher = new EarlyHasher(root);
  hasher.offer(named('listed-small', 100));
  hasher.offer('unsized');
  hasher.offer(named('listed-large', 1 << 17));
  const hashes = await settled(hasher);
  expect(hashes.size).toBe(1);
  expect(hashes.reuse('listed-large', await lstat(join(root, 'listed-large'), { bigint: true }))).toBe(
    sha('x'.repeat(1 << 17)),
  );
});
