// The launcher a packed program starts as: it runs the bundle beside it with Node's
// compile cache in a directory only the user can write, and without the cache (silently) when
// that directory is unsafe or its content is damaged.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { bundleFileOf, launcherSource, USER_CACHE_DIR } from './launcher.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(os.tmpdir(), 'launcher-test-'));
  await chmod(work, 0o755);
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** workload/program.cjs (the launcher, caching in <dir>/cache) and a bundle that prints a line. */
async function programDir(): Promise<{ dir: string; launcher: string; cache: string }> {
  const dir = join(work, 'unit');
  await mkdir(join(dir, 'workload'), { recursive: true });
  const launcher = join(dir, 'workload', 'program.cjs');
  const cache = join(dir, 'cache');
  await writeFile(launcher, launcherSource('program.bundle.cjs', JSON.stringify(cache)));
  await writeFile(bundleFileOf(launcher), "process.stdout.write('ran ' + process.argv.slice(2).join(' ') + '\\n');\n");
  return { dir, launcher, cache };
}

function run(launcher: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [launcher, 'a', 'b'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under `dir`, relative. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

test('names the bundle beside the launcher', () => {
  expect(bundleFileOf('/x/workload/turku-agent-ping.cjs')).toBe('/x/workload/turku-agent-ping.bundle.cjs');
  const source = launcherSource('turku-agent-ping.bundle.cjs');
  expect(source).toMatch(/^"use strict";/);
  expect(source).toContain("require('./turku-agent-ping.bundle.cjs');");
  expect(source).toContain(`const dir = ${USER_CACHE_DIR};`);
  expect(USER_CACHE_DIR).toContain("'/var/cache/turku/node-compile-cache'");
});

test('runs the bundle with its arguments and keeps the compile cache in a new 0700 directory', async () => {
  const { launcher, cache } = await programDir();
  expect(run(launcher)).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
  expect((await import('node:fs')).statSync(cache).mode & 0o777).toBe(0o700);
  expect(await filesUnder(cache)).toHaveLength(1);
  // The second start reads the cache and runs the same.
  expect(run(launcher)).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
});

test('a cache directory others can write is not used', async () => {
  const { launcher, cache } = await programDir();
  await mkdir(cache, { mode: 0o777 });
  await chmod(cache, 0o777);
  expect(run(launcher)).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
  expect(await filesUnder(cache)).toEqual([]);
});

test('a cache under a directory others can write is not used', async () => {
  const { dir, launcher, cache } = await programDir();
  await chmod(dir, 0o777);
  expect(run(launcher)).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
  expect(await filesUnder(cache)).toEqual([]);
});

test('a cache directory that is a file, or cannot be created, leaves the program running as before', async () => {
  const { launcher, cache } = await programDir();
  await writeFile(cache, 'not a directory');
  expect(run(launcher)).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
  expect(await readFile(cache, 'utf8')).toBe('not a directory');
});

test('a damaged cache entry is ignored and rewritten', async () => {
  const { launcher, cache } = await programDir();
  run(launcher);
  const [entry] = await filesUnder(cache);
  await writeFile(entry!, 'garbage');
  expect(run(launcher)).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
  expect(await readFile(entry!, 'utf8')).not.toBe('garbage');
});

test("Node's NODE_DISABLE_COMPILE_CACHE=1 turns the cache off", async () => {
  const { launcher, cache } = await programDir();
  expect(run(launcher, { NODE_DISABLE_COMPILE_CACHE: '1' })).toEqual({ status: 0, stdout: 'ran a b\n', stderr: '' });
  expect(await filesUnder(cache).catch(() => [])).toEqual([]);
});

test('an error in the bundle is the program’s own, with its exit status', async () => {
  const { launcher } = await programDir();
  await writeFile(bundleFileOf(launcher), "process.stderr.write('boom\\n'); process.exit(3);\n");
  expect(run(launcher)).toEqual({ status: 3, stdout: '', stderr: 'boom\n' });
});
