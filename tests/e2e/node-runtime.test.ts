// The Node.js builds the charms ship (node/<arch>/bin/node), against the bases they declare:
//  - always: each build's ELF says which glibc and libstdc++ symbol versions it needs, and every
//    base declaring its architecture provides them (lib/charm-pack/base-runtimes.ts, the table
//    of each Ubuntu release's runtime);
//  - actually started on the oldest declared base's C library: a root filesystem with Debian 11's
//    glibc 2.31 and GCC 10 libstdc++ (what Ubuntu 20.04 has), prepared by scripts/setup, where
//    each build runs `node -e` in a chroot (arm64 through qemu-aarch64-static), reports the glibc
//    it runs on and opens a node:sqlite database. A missing root filesystem fails the test.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';

import { UBUNTU_RUNTIMES, runtimeMismatch } from '../../lib/charm-pack/base-runtimes.js';
import { highestOf, highestVersion, readElfRequirements, type CharmArch } from '../../lib/charm-pack/elf.js';
import { devCacheDir, nodeBuild, pinnedNodes } from '../../lib/charm-pack/node-builds.js';
import { baseName, declaredBases } from '../../lib/charm-pack/bases.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARCHES: CharmArch[] = ['amd64', 'arm64'];
const SETUP = 'run scripts/setup (it fills the cache the tests use offline)';

/** Every base each charm under charms/ declares, by charm. */
function charmBases() {
  return readdirSync(join(ROOT, 'charms'))
    .filter((name) => existsSync(join(ROOT, 'charms', name, 'charmcraft.yaml')))
    .map((name) => ({
      name,
      bases: declaredBases(
        load(readFileSync(join(ROOT, 'charms', name, 'charmcraft.yaml'), 'utf8')) as Record<string, unknown>,
      ),
    }));
}

/** The build a charm ships for `arch`; one missing from node_modules and the cache fails naming scripts/setup. */
async function shippedNode(arch: CharmArch): Promise<string> {
  return (await nodeBuild(ROOT, arch, { offline: true })).binary;
}

describe('the C and C++ runtime each shipped Node.js needs', () => {
  test('the Turku charms declare the bases and architectures of issue 16', () => {
    const declared = Object.fromEntries(
      charmBases().map(({ name, bases }) => [name, bases.map((b) => `${baseName(b)} ${b.architectures.join(',')}`)]),
    );
    expect(declared['turku-agent']).toEqual([
      'ubuntu@24.04 amd64,arm64',
      'ubuntu@22.04 amd64,arm64',
      'ubuntu@20.04 amd64,arm64',
    ]);
    for (const name of ['turku-api', 'turku-storage']) {
      expect([name, declared[name]]).toEqual([name, ['ubuntu@24.04 amd64,arm64', 'ubuntu@22.04 amd64,arm64']]);
    }
  });

  test('the runtime table covers every base a charm declares', () => {
    for (const { bases } of charmBases()) {
      for (const base of bases) expect(Object.keys(UBUNTU_RUNTIMES)).toContain(baseName(base));
    }
  });

  test.each(ARCHES)(
    '%s: the pinned build is an ELF for its architecture that every declaring base can run',
    async (arch) => {
      const pin = (await pinnedNodes(ROOT))[arch];
      expect(pin.version).toMatch(/^24\./);
      const requirements = await readElfRequirements(await shippedNode(arch));
      expect(requirements.arch).toBe(arch);
      // What it links against: glibc and libstdc++ only (plus libgcc_s), no other shared library.
      expect(
        Object.keys(requirements.needed).filter(
          (lib) => !/^(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux-[\w-]+)\.so/.test(lib),
        ),
      ).toEqual([]);
      expect(highestVersion(requirements, 'GLIBC_')).toBeDefined();
      expect(highestVersion(requirements, 'GLIBCXX_')).toBeDefined();
      let checked = 0;
      for (const { name, bases } of charmBases()) {
        for (const base of bases.filter((b) => b.architectures.includes(arch))) {
          expect([name, baseName(base), runtimeMismatch(requirements, baseName(base))]).toEqual([
            name,
            baseName(base),
            undefined,
          ]);
          checked += 1;
        }
      }
      expect(checked).toBeGreaterThan(0);
    },
  );

  test('a binary needing a newer glibc or libstdc++ than a base has is refused, naming both', () => {
    const requirements = {
      arch: 'amd64' as const,
      needed: { 'libc.so.6': ['GLIBC_2.17', 'GLIBC_2.34'], 'libstdc++.so.6': ['GLIBCXX_3.4.21', 'GLIBCXX_3.4.29'] },
      defined: [],
    };
    expect(runtimeMismatch(requirements, 'ubuntu@20.04')).toBe(
      'needs GLIBC_2.34, ubuntu@20.04 has glibc 2.31; needs GLIBCXX_3.4.29, ubuntu@20.04 has GLIBCXX_3.4.28',
    );
    expect(runtimeMismatch(requirements, 'ubuntu@22.04')).toBeUndefined();
    expect(runtimeMismatch(requirements, 'ubuntu@18.04')).toMatch(/^no C runtime figures for ubuntu@18\.04/);
  });
});

// ---- started on glibc 2.31 -------------------------------------------------------------

const TRIPLETS: Record<CharmArch, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function rootfs(arch: CharmArch): string {
  const dir = join(devCacheDir(), 'rootfs', `bullseye-${arch}`);
  if (!existsSync(join(dir, '.complete'))) throw new Error(`${dir} is missing: ${SETUP}`);
  return dir;
}

/** Prints what the Node.js that runs it sees: its version, architecture, glibc, and SQLite. */
const PROBE = [
  "const { DatabaseSync } = require('node:sqlite');",
  "const db = new DatabaseSync(':memory:');",
  "db.exec('CREATE TABLE t (x INTEGER)'); db.prepare('INSERT INTO t VALUES (?)').run(42);",
  'console.log(JSON.stringify({',
  '  version: process.version, arch: process.arch,',
  '  glibc: process.report.getReport().header.glibcVersionRuntime,',
  "  sqlite: db.prepare('SELECT sqlite_version() AS v').get().v,",
  "  row: db.prepare('SELECT x FROM t').get().x,",
  '}));',
].join('\n');

describe('each shipped Node.js started on the oldest declared base (Debian 11: glibc 2.31, GCC 10 libstdc++)', () => {
  test.each(ARCHES)('%s: the root filesystem has exactly the runtime of Ubuntu 20.04', async (arch) => {
    const lib = join(rootfs(arch), 'lib', TRIPLETS[arch]);
    const usrLib = join(rootfs(arch), 'usr', 'lib', TRIPLETS[arch]);
    const libc = await readElfRequirements(join(lib, 'libc.so.6'));
    const libstdcxx = await readElfRequirements(join(usrLib, 'libstdc++.so.6'));
    expect([libc.arch, libstdcxx.arch]).toEqual([arch, arch]);
    const focal = UBUNTU_RUNTIMES['ubuntu@20.04']!;
    // glibc names its release inside libc.so.6; 2.31 added no symbol version of its own, so the
    // highest one it defines is 2.30.
    expect((await readFile(join(lib, 'libc.so.6'))).toString('latin1')).toContain(
      `stable release version ${focal.glibc}.`,
    );
    expect(highestOf(libc.defined, 'GLIBC_')).toBe('2.30');
    expect(highestOf(libstdcxx.defined, 'GLIBCXX_')).toBe(focal.glibcxx);
  });

  test.each(ARCHES)(
    '%s: `node -e` runs in a chroot there, on glibc 2.31, with node:sqlite',
    async (arch) => {
      const root = rootfs(arch);
      const binary = await shippedNode(arch);
      // The chroot sees only its own tree: the binary is copied in (again when it changed).
      const inside = join(root, 'opt', `node-${arch}`);
      const [source, copy] = await Promise.all([stat(binary), stat(inside).catch(() => undefined)]);
      if (copy?.size !== source.size || copy.mtimeMs < source.mtimeMs) {
        await mkdir(join(root, 'opt'), { recursive: true });
        await copyFile(binary, inside);
      }
      const argv = arch === 'arm64' ? ['/usr/bin/qemu-aarch64-static', `/opt/node-${arch}`] : [`/opt/node-${arch}`];
      const run = spawnSync('chroot', [root, ...argv, '-e', PROBE], { encoding: 'utf8', timeout: 120_000 });
      expect(run.error).toBeUndefined();
      expect([run.status, run.stderr]).toEqual([0, '']);
      const pin = (await pinnedNodes(ROOT))[arch];
      expect(JSON.parse(run.stdout)).toEqual({
        version: `v${pin.version}`,
        arch: arch === 'amd64' ? 'x64' : 'arm64',
        glibc: '2.31',
        sqlite: expect.stringMatching(/^3\.\d+\.\d+$/),
        row: 42,
      });
    },
    180_000,
  );
});
