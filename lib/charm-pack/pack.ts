// Packs a charm directory (unified charmcraft.yaml + src/main.ts) into the .charm zip Juju
// deploys (spec 7.4), without charmcraft: the files charmcraft would generate from
// charmcraft.yaml (metadata.yaml, config.yaml, actions.yaml, manifest.yaml), our `dispatch`, the
// esbuild bundle and, optionally, a Node binary so the unit needs no Node of its own (spec 7.3).
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump, load } from 'js-yaml';
import JSZip from 'jszip';

import { CHARM_WORKLOADS } from '../charm-host/workload.js';
import { parseCharmMeta } from '../charm-testing/charm-meta.js';
import { bundleCharm } from './bundle.js';
import { DISPATCH_SCRIPT } from './dispatch-script.js';
import { workloadFiles } from './workload.js';

/** A charm that cannot be packed; the message is one line naming the file and the problem. */
export class CharmPackError extends Error {
  override name = 'CharmPackError';
}

export interface PackOptions {
  /** A Node binary to ship as node/bin/node; dispatch prefers it over a node on PATH. */
  node?: string;
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

const ARCHITECTURES = new Set(['amd64', 'arm64', 'armhf', 'ppc64el', 'riscv64', 's390x', 'all']);

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
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (package.json) above lib/charm-pack');
    dir = parent;
  }
  return dir;
}

/** The charmcraft linter's rules that Juju itself does not enforce (spec 1.2, 1.5, 7.1). */
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

interface Base {
  name: string;
  channel: string;
  architectures: string[];
}

/** manifest.yaml's single base, from `base:` and the one entry of `platforms:`. */
function manifestBase(doc: Doc): Base {
  if (doc.bases !== undefined) throw new Error('"bases" is deprecated: use "base" and "platforms"');
  const base = typeof doc.base === 'string' ? /^([a-z]+)@(\d+\.\d+)$/.exec(doc.base) : null;
  if (!base) throw new Error(`base must look like "ubuntu@24.04", got ${JSON.stringify(doc.base)}`);
  const platforms = isMap(doc.platforms) ? Object.entries(doc.platforms) : [];
  if (platforms.length !== 1) {
    throw new Error(`platforms must name exactly one platform (one .charm per platform), got ${platforms.length}`);
  }
  const [key, value] = platforms[0]!;
  // `amd64:` alone means build-on and build-for amd64; otherwise `build-for: [arch]` or `[base:arch]`.
  const buildFor = isMap(value) && Array.isArray(value['build-for']) ? value['build-for'] : [key];
  const architectures = buildFor.map((entry) => String(entry).split(':').pop()!);
  for (const arch of architectures) {
    if (!ARCHITECTURES.has(arch)) throw new Error(`platform "${key}" has unknown architecture "${arch}"`);
  }
  return { name: base[1]!, channel: base[2]!, architectures };
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
export async function readCharmcraft(charmDir: string): Promise<{ text: string; doc: Doc; base: Base }> {
  const file = join(charmDir, 'charmcraft.yaml');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CharmPackError(`${file}: cannot read (a charm directory needs a charmcraft.yaml)`);
  });
  try {
    const doc = load(text);
    if (!isMap(doc)) throw new Error('not a map');
    lint(doc);
    parseCharmMeta(text);
    return { text, doc, base: manifestBase(doc) };
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

/** Packs `charmDir` into `<outDir>/<name>.charm` and returns the file, its size and entries. */
export async function packCharm(charmDir: string, outDir: string, options: PackOptions = {}): Promise<PackResult> {
  const { text, doc, base } = await readCharmcraft(charmDir);
  const name = doc.name as string;
  if (options.node !== undefined) await regularFile(options.node, '--node');
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
  add('manifest.yaml', yaml({ bases: [base], 'packed-by': `${await packageVersion(root)} (lib/charm-pack)` }));
  add('charmcraft.yaml', text);
  if (existsSync(join(charmDir, 'README.md'))) add('README.md', await readFile(join(charmDir, 'README.md')));
  add('LICENSE', await readFile(join(root, 'LICENSE')));
  if (options.node !== undefined) {
    add('node/bin/node', await readFile(options.node), EXECUTABLE);
    // An official Node tarball keeps its LICENSE beside bin/: ship it with the binary.
    const nodeLicense = join(dirname(dirname(resolve(options.node))), 'LICENSE');
    if (existsSync(nodeLicense)) add('node/LICENSE', await readFile(nodeLicense));
  }

  const data = await zip.generateAsync({ type: 'nodebuffer', platform: 'UNIX', compression: 'DEFLATE' });
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${name}.charm`);
  await writeFile(file, data);
  return { file, bytes: data.length, entries: Object.keys(zip.files) };
}

/**
 * Writes into the charm directory what its `parts.charm.prime` list takes but the source tree
 * lacks (dispatch, dist/charm.cjs, workload/, LICENSE), so `charmcraft pack` can run there (spec 7.1).
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
