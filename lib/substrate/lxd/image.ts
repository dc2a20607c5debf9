// Building, caching and importing the LXD substrate's machine image (image-recipe.ts). No image
// server is reachable from the build machines, so the image is made here: debootstrap from the
// Debian mirror apt uses, the recipe's files and commands, a squashfs of the root and a small
// metadata tarball. The result is kept under the dev cache by recipe hash and imported into LXD
// under an alias with that hash: a machine is rebuilt only when the recipe changes.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

import { devCacheDir } from '../../charm-pack/node-builds.js';
import { removeTreeWithImmutables } from '../../common/remove-tree.js';
import { lxc, lxdHas } from './lxc.js';
import { IMAGE_RECIPE, type ImageRecipe, imageAlias, metadataYaml, recipeHash, TEMPLATES } from './image-recipe.js';

export interface ImageFiles {
  readonly dir: string;
  readonly metadata: string;
  readonly rootfs: string;
}

export interface EnsuredImage {
  readonly alias: string;
  /** What was done: nothing, an import of the cached build, or a build then an import. */
  readonly action: 'present' | 'imported' | 'built';
  readonly buildMs?: number;
  readonly importMs?: number;
}

export interface ImageOptions {
  readonly recipe?: ImageRecipe;
  /** Defaults to `<devCacheDir()>/lxd`. */
  readonly cacheDir?: string;
  /** Progress lines (the build takes minutes). */
  readonly log?: (line: string) => void;
}

export async function debianArch(): Promise<string> {
  return (await execa('dpkg', ['--print-architecture'])).stdout.trim();
}

export function lxdCacheDir(options: Pick<ImageOptions, 'cacheDir'> = {}): string {
  return options.cacheDir ?? join(devCacheDir(), 'lxd');
}

export function imageFiles(cacheDir: string, hash: string): ImageFiles {
  const dir = join(cacheDir, 'images', hash);
  return { dir, metadata: join(dir, 'metadata.tar'), rootfs: join(dir, 'rootfs.squashfs') };
}

async function run(argv: readonly string[], cwd?: string): Promise<void> {
  const [file, ...args] = argv;
  const result = await execa(file!, args, { reject: false, stdin: 'ignore', all: true, ...(cwd ? { cwd } : {}) });
  if (result.exitCode !== 0) {
    const tail = (result.all ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${argv.join(' ')} failed (exit ${result.exitCode}):\n${tail}`);
  }
}

/**
 * Builds the recipe's image into the cache (metadata.tar and rootfs.squashfs), downloading the
 * packages once into `<cacheDir>/debs` so a rebuild needs only the mirror's indexes.
 */
export async function buildImage(recipe: ImageRecipe, arch: string, cacheDir: string, log: (line: string) => void) {
  const hash = recipeHash(recipe, arch);
  const files = imageFiles(cacheDir, hash);
  const work = `${files.dir}.build`;
  removeTreeWithImmutables(work);
  const root = join(work, 'rootfs');
  const debs = join(cacheDir, 'debs');
  await mkdir(root, { recursive: true });
  await mkdir(debs, { recursive: true });
  log(`image: debootstrap ${recipe.suite} (${recipe.variant}, ${arch}) into ${root}`);
  await run([
    'debootstrap',
    `--variant=${recipe.variant}`,
    `--arch=${arch}`,
    `--include=${recipe.packages.join(',')}`,
    `--cache-dir=${debs}`,
    recipe.suite,
    root,
    recipe.mirror,
  ]);
  log('image: customising the root');
  for (const [path, text] of Object.entries(recipe.files)) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { force: true });
    await writeFile(target, text, { mode: 0o644 });
  }
  for (const command of recipe.commands) await run(['chroot', root, 'sh', '-euc', command]);
  for (const pattern of recipe.remove) await run(['chroot', root, 'sh', '-c', `rm -rf ${pattern}`]);
  // An empty machine-id: systemd makes each machine its own at first boot.
  await writeFile(join(root, 'etc/machine-id'), '');

  log('image: packing rootfs.squashfs and metadata.tar');
  const templates = join(work, 'templates');
  await mkdir(templates, { recursive: true });
  for (const [name, text] of Object.entries(TEMPLATES)) await writeFile(join(templates, name), text);
  await writeFile(join(work, 'metadata.yaml'), metadataYaml(recipe, arch, new Date()));
  await run(['tar', '-cf', join(work, 'metadata.tar'), 'metadata.yaml', 'templates'], work);
  await run(['mksquashfs', root, join(work, 'rootfs.squashfs'), '-noappend', '-comp', 'zstd', '-quiet']);
  removeTreeWithImmutables(root);
  removeTreeWithImmutables(templates);
  await rm(join(work, 'metadata.yaml'));
  removeTreeWithImmutables(files.dir);
  await rename(work, files.dir);
  return files;
}

/**
 * Makes the recipe's image available to `lxc launch` under imageAlias: already in LXD, or
 * imported from the cache, or built then imported. LXD must be running (daemon.ts).
 */
export async function ensureImage(options: ImageOptions = {}): Promise<EnsuredImage> {
  const recipe = options.recipe ?? IMAGE_RECIPE;
  const log = options.log ?? (() => {});
  const arch = await debianArch();
  const alias = imageAlias(recipe, arch);
  if (await lxdHas(`/1.0/images/aliases/${alias}`)) return { alias, action: 'present' };
  const cacheDir = lxdCacheDir(options);
  let files = imageFiles(cacheDir, recipeHash(recipe, arch));
  let buildMs: number | undefined;
  if (!existsSync(files.metadata) || !existsSync(files.rootfs)) {
    const started = Date.now();
    files = await buildImage(recipe, arch, cacheDir, log);
    buildMs = Date.now() - started;
    log(`image: built in ${(buildMs / 1000).toFixed(1)} s`);
  }
  const started = Date.now();
  await lxc(['image', 'import', files.metadata, files.rootfs, '--alias', alias]);
  const importMs = Date.now() - started;
  log(`image: imported as ${alias} in ${(importMs / 1000).toFixed(1)} s`);
  return { alias, action: buildMs === undefined ? 'imported' : 'built', importMs, ...(buildMs ? { buildMs } : {}) };
}

/** Removes the recipe's image from LXD (the cached build stays). */
export async function removeImage(alias: string): Promise<void> {
  if (await lxdHas(`/1.0/images/aliases/${alias}`)) await lxc(['image', 'delete', alias]);
}
