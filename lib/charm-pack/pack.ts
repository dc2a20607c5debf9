// Packs a charm directory (unified charmcraft.yaml + src/main.ts) into the .charm zip Juju deploys
// (docs/charm-runtime.md, "Packing"), without charmcraft: the files charmcraft would generate from
// charmcraft.yaml (metadata.yaml, config.yaml, actions.yaml, manifest.yaml), our `dispatch`, the
// esbuild bundle and, optionally, one Node.js binary per declared architecture so the unit needs no
// Node of its own (docs/charm-runtime.md, "Bases, platforms and the shipped Node.js"). Unlike
// charmcraft, which writes one .charm per platform, one .charm covers every base and architecture
// charmcraft.yaml declares: its manifest lists them all.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump, load } from 'js-yaml';
import JSZip from 'jszip';

import { CHARM_WORKLOADS } from '../charm-host/workload.js';
import { baseName, declaredBases, type CharmBase } from './bases.js';
import { parseCharmMeta } from './charm-meta.js';
import { runtimeMismatch } from './base-runtimes.js';
import { bundleCharm } from './bundle.js';
import { DISPATCH_SCRIPT } from './dispatch-script.js';
import { ElfError, readElfRequirements, type CharmArch } from './elf.js';
import { workloadFiles } from './workload.js';

/** A charm that cannot be packed; the message is one line naming the file and the problem. */
export class CharmPackError extends Error {
  override name = 'CharmPackError';
}

/** A Node.js binary to ship, and the LICENSE of its distribution. */
export interface ShippedNode {
  readonly binary: string;
  readonly license?: string | undefined;
}

export interface PackOptions {
  /**
   * The Node.js to ship per architecture, as node/<arch>/bin/node (dispatch picks the one for
   * the machine's `uname -m`, else a node on PATH). Each must be an ELF executable for that
   * architecture whose C and C++ runtime needs every declared base with it satisfies.
   */
  nodes?: Partial<Record<CharmArch, ShippedNode>>;
}

export interface PackResult {
  /** The written .charm file. */
  file: string;
  bytes: number;
  /** The zip's entries, in archive order. */
  entries: string[];
}

// charmcraft.yaml keys that describe the build, not the charm: they stay out of metadata.yaml.
const BUILD_KEYS = new Set([
  'type',
  'base',
  'bases',
  'build-base',
  'platforms',
  'parts',
  'config',
  'actions',
  'charmhub',
  'charm-libs',
  'analysis',
]);

// charmcraft turns `links:` into these metadata.yaml keys.
const LINK_KEYS: Record<string, string> = {
  documentation: 'docs',
  issues: 'issues',
  source: 'source',
  contact: 'maintainers',
  website: 'website',
};

// Regular-file type bits plus permissions: without S_IFREG, `unzip -Z` shows `?rwxr-xr-x`.
const EXECUTABLE = 0o100755;
const REGULAR = 0o100644;

type Doc = Record<string, unknown>;

function isMap(value: unknown): value is Doc {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** First line of a message: js-yaml and esbuild errors carry multi-line snippets. */
function oneLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/** The repository root (holding package.json and LICENSE), from this module's location in lib/ or dist/lib/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (package.json) above lib/charm-pack');
    dir = parent;
  }
  return dir;
}

/**
 * The charmcraft linter's rules that Juju itself does not enforce
 * (docs/charm-runtime.md, "Charm metadata" and "Packing").
 */
function lint(doc: Doc): void {
  if (doc.type !== 'charm') throw new Error(`type must be "charm", got ${JSON.stringify(doc.type)}`);
  for (const key of ['name', 'summary', 'description']) {
    if (typeof doc[key] !== 'string' || doc[key].trim() === '') throw new Error(`${key} is required`);
  }
  const options = isMap(doc.config) && isMap(doc.config.options) ? doc.config.options : {};
  for (const [name, option] of Object.entries(options)) {
    if (!isMap(option) || option.type === undefined) throw new Error(`config option "${name}" has no type`);
  }
}

/**
 * manifest.yaml's bases: every base charmcraft.yaml declares, with its architectures (Juju reads
 * `bases` and lets the charm run on, and subordinates attach to, any of them).
 */
function manifestBases(doc: Doc): CharmBase[] {
  if (doc.bases !== undefined) throw new Error('"bases" is deprecated: use "base" and "platforms"');
  if (doc.platforms === undefined || doc.platforms === null) {
    throw new Error('platforms is required: name the architectures (and bases) the charm runs on');
  }
  return declaredBases(doc);
}

/** metadata.yaml as charmcraft generates it: the charm's keys without the build ones. */
function metadataOf(doc: Doc): Doc {
  const metadata: Doc = {};
  for (const [key, value] of Object.entries(doc)) {
    if (BUILD_KEYS.has(key)) continue;
    if (key === 'title') metadata['display-name'] = value;
    else if (key === 'links' && isMap(value)) {
      for (const [link, target] of Object.entries(value)) if (link in LINK_KEYS) metadata[LINK_KEYS[link]!] = target;
    } else metadata[key] = value;
  }
  return metadata;
}

function yaml(doc: unknown): string {
  return dump(doc, { lineWidth: -1, noRefs: true });
}

async function packageVersion(root: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name?: string; version?: string };
  return `${pkg.name ?? 'unknown'} ${pkg.version ?? '0.0.0'}`;
}

/**
 * Reads and checks a charm directory's charmcraft.yaml: Juju's metadata rules (parseCharmMeta,
 * with Juju's messages) and charmcraft's linter and build rules. Errors name the file.
 */
export async function readCharmcraft(charmDir: string): Promise<{ text: string; doc: Doc; bases: CharmBase[] }> {
  const file = join(charmDir, 'charmcraft.yaml');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CharmPackError(`${file}: cannot read (a charm directory needs a charmcraft.yaml)`);
  });
  try {
    const doc = load(text);
    if (!isMap(doc)) throw new Error('not a map');
    lint(doc);
    const bases = manifestBases(doc);
    parseCharmMeta(text);
    return { text, doc, bases };
  } catch (err) {
    throw new CharmPackError(`${file}: ${oneLine((err as Error).message)}`);
  }
}

/** Bundles src/main.ts into a temporary directory and returns the bundle's text. */
async function bundleText(charmDir: string): Promise<string> {
  const entry = join(charmDir, 'src', 'main.ts');
  if (!existsSync(entry)) throw new CharmPackError(`${entry}: missing (the charm's entry point)`);
  const work = await mkdtemp(join(os.tmpdir(), 'charm-pack-'));
  try {
    const outFile = join(work, 'charm.cjs');
    await bundleCharm(entry, outFile).catch((err: { errors?: Array<{ text: string; location?: unknown }> }) => {
      const first = err.errors?.[0];
      const where = first?.location as { file?: string; line?: number; column?: number } | null | undefined;
      const at = where?.file ? `${where.file}:${where.line ?? 0}:${where.column ?? 0}` : entry;
      throw new CharmPackError(`${at}: ${oneLine(first?.text ?? (err as Error).message)}`);
    });
    return await readFile(outFile, 'utf8');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function regularFile(path: string, what: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new CharmPackError(`${path}: not a file (${what})`);
}

/**
 * Checks a Node.js binary before it ships for `arch`: an ELF executable for that architecture
 * whose glibc and libstdc++ needs every base declaring `arch` satisfies (lib/charm-pack/base-runtimes.ts).
 */
async function checkShippedNode(node: ShippedNode, arch: CharmArch, bases: readonly CharmBase[]): Promise<void> {
  await regularFile(node.binary, `Node.js for ${arch}`);
  const requirements = await readElfRequirements(node.binary).catch((err: unknown) => {
    throw new CharmPackError(err instanceof ElfError ? err.message : `${node.binary}: ${(err as Error).message}`);
  });
  if (requirements.arch !== arch) {
    throw new CharmPackError(`${node.binary}: built for ${requirements.arch}, shipped as Node.js for ${arch}`);
  }
  const on = bases.filter((base) => base.architectures.includes(arch));
  if (on.length === 0) throw new CharmPackError(`${node.binary}: the charm declares no ${arch} platform`);
  for (const base of on) {
    const mismatch = runtimeMismatch(requirements, baseName(base));
    if (mismatch !== undefined)
      throw new CharmPackError(`${node.binary}: cannot run on ${baseName(base)}: ${mismatch}`);
  }
}

/** Packs `charmDir` into `<outDir>/<name>.charm` and returns the file, its size and entries. */
export async function packCharm(charmDir: string, outDir: string, options: PackOptions = {}): Promise<PackResult> {
  const { text, doc, bases } = await readCharmcraft(charmDir);
  const name = doc.name as string;
  const nodes = Object.entries(options.nodes ?? {}) as Array<[CharmArch, ShippedNode]>;
  for (const [arch, node] of nodes) await checkShippedNode(node, arch, bases);
  const root = repoRoot();
  const zip = new JSZip();
  const add = (path: string, data: string | Buffer, mode = REGULAR): void => {
    zip.file(path, data, { unixPermissions: mode, createFolders: false });
  };

  add('dispatch', DISPATCH_SCRIPT, EXECUTABLE);
  add('dist/charm.cjs', await bundleText(charmDir));
  for (const file of await workloadFiles(root, CHARM_WORKLOADS[name] ?? [])) add(file.path, file.data);
  add('metadata.yaml', yaml(metadataOf(doc)));
  if (doc.config !== undefined && doc.config !== null) add('config.yaml', yaml(doc.config));
  if (doc.actions !== undefined && doc.actions !== null) add('actions.yaml', yaml(doc.actions));
  // Juju reads `bases`; like charmcraft's own keys, ours are ignored by it.
  add('manifest.yaml', yaml({ bases, 'packed-by': `${await packageVersion(root)} (lib/charm-pack)` }));
  add('charmcraft.yaml', text);
  if (existsSync(join(charmDir, 'README.md'))) add('README.md', await readFile(join(charmDir, 'README.md')));
  // Files for operators beside the charm (turku-api's alert rules and dashboard, docs/api.md, "Alert rules").
  if (existsSync(join(charmDir, 'cos'))) {
    for (const name of (await readdir(join(charmDir, 'cos'))).sort())
      add(`cos/${name}`, await readFile(join(charmDir, 'cos', name)));
  }
  add('LICENSE', await readFile(join(root, 'LICENSE')));
  for (const [arch, node] of nodes) {
    add(`node/${arch}/bin/node`, await readFile(node.binary), EXECUTABLE);
    // The official builds keep Node.js's LICENSE beside bin/: it ships with the binary.
    if (node.license !== undefined && existsSync(node.license))
      add(`node/${arch}/LICENSE`, await readFile(node.license));
  }

  const data = await zip.generateAsync({ type: 'nodebuffer', platform: 'UNIX', compression: 'DEFLATE' });
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${name}.charm`);
  await writeFile(file, data);
  return { file, bytes: data.length, entries: Object.keys(zip.files) };
}

/**
 * Writes into the charm directory what its `parts.charm.prime` list takes but the source tree lacks
 * (dispatch, dist/charm.cjs, workload/, LICENSE), so `charmcraft pack` can run there
 * (docs/charm-runtime.md, "Packing").
 */
export async function prepareForCharmcraft(charmDir: string): Promise<string[]> {
  const { doc } = await readCharmcraft(charmDir);
  const written = [join(charmDir, 'dispatch'), join(charmDir, 'dist', 'charm.cjs'), join(charmDir, 'LICENSE')];
  await writeFile(written[0]!, DISPATCH_SCRIPT);
  await chmod(written[0]!, 0o755);
  await mkdir(join(charmDir, 'dist'), { recursive: true });
  await writeFile(written[1]!, await bundleText(charmDir));
  await writeFile(written[2]!, await readFile(join(repoRoot(), 'LICENSE')));
  for (const file of await workloadFiles(repoRoot(), CHARM_WORKLOADS[doc.name as string] ?? [])) {
    const path = join(charmDir, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.data);
    written.push(path);
  }
  return written.map((path) => relative(process.cwd(), path) || path);
}
