// `npm run pack`: node dist/lib/charm-pack/pack-main.js [--out DIR] [--node PATH | --no-node] [--offline] [--charmcraft] [CHARM_DIR...]
// Packs each charm directory (by default every directory under charms/ with a charmcraft.yaml)
// into <out>/<name>.charm. Errors: exit 1 with one line on stderr.
//
// Each charm carries Node.js for every architecture it declares, as node/<arch>/bin/node: the
// official builds pinned in package.json / package-lock.json (lib/charm-pack/node-builds.ts),
// from node_modules or the cache, downloaded with `npm pack` when missing (not with --offline).
// Ubuntu's own nodejs package is older than the Node 24 the charms need.
//   --node PATH  ships PATH instead of the pinned build for the architecture PATH is built for
//                (read from its ELF header); the other architectures get the pinned builds.
//   --no-node    ships no Node.js: the units then need Node.js 24 or later as `node` on PATH.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { readElfRequirements, type CharmArch } from './elf.js';
import { isCharmArch, nodeBuild, type NodeBuild } from './node-builds.js';
import { CharmPackError, packCharm, prepareForCharmcraft, readCharmcraft, repoRoot, type ShippedNode } from './pack.js';

const USAGE = 'usage: pack-main [--out DIR] [--node PATH | --no-node] [--offline] [--charmcraft] [CHARM_DIR...]';

async function charmsUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'charmcraft.yaml')))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** The Node.js builds a charm ships: one per declared architecture, `given` replacing the pinned one. */
async function nodesFor(
  charmDir: string,
  given: NodeBuild | undefined,
  builds: Map<CharmArch, Promise<NodeBuild>>,
  offline: boolean,
): Promise<Partial<Record<CharmArch, ShippedNode>>> {
  const { bases } = await readCharmcraft(charmDir);
  const nodes: Partial<Record<CharmArch, ShippedNode>> = {};
  for (const arch of new Set(bases.flatMap((base) => base.architectures))) {
    if (!isCharmArch(arch)) {
      throw new CharmPackError(
        `${join(charmDir, 'charmcraft.yaml')}: no Node.js build is pinned for ${arch}: pack it with --no-node`,
      );
    }
    if (given?.arch === arch) {
      nodes[arch] = given;
      continue;
    }
    if (!builds.has(arch)) builds.set(arch, nodeBuild(repoRoot(), arch, { offline }));
    nodes[arch] = await builds.get(arch)!;
  }
  return nodes;
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', default: 'build' },
        node: { type: 'string' },
        'no-node': { type: 'boolean', default: false },
        offline: { type: 'boolean', default: false },
        charmcraft: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`ERROR ${(err as Error).message}; ${USAGE}\n`);
    return 1;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const dirs = args.positionals.length > 0 ? args.positionals : await charmsUnder('charms');
  if (dirs.length === 0) {
    process.stderr.write('no charms found under charms/\n');
    return 0;
  }
  if (args.values['no-node'] && args.values.node !== undefined) {
    process.stderr.write(`ERROR --node and --no-node exclude each other; ${USAGE}\n`);
    return 1;
  }
  let given: NodeBuild | undefined;
  if (args.values.node !== undefined) {
    const binary = resolve(args.values.node);
    const { arch } = await readElfRequirements(binary).catch((err: Error) => {
      throw new CharmPackError(`${binary}: ${err.message.replace(`${binary}: `, '')} (--node)`);
    });
    // An official tarball keeps Node.js's LICENSE beside bin/.
    given = { arch, binary, license: join(dirname(dirname(binary)), 'LICENSE'), source: 'given' };
  }
  const offline = args.values.offline || process.env['TURKU_NODE_OFFLINE'] === '1';
  const builds = new Map<CharmArch, Promise<NodeBuild>>();
  for (const dir of dirs) {
    if (args.values.charmcraft) {
      for (const file of await prepareForCharmcraft(dir)) process.stdout.write(`wrote ${file}\n`);
    }
    const nodes = args.values['no-node'] ? {} : await nodesFor(dir, given, builds, offline);
    const result = await packCharm(dir, args.values.out, { nodes });
    const shipped = Object.keys(nodes).join(', ');
    process.stdout.write(
      `packed ${relative(process.cwd(), result.file)} (${result.bytes} bytes${shipped ? `; Node.js for ${shipped}` : ''})\n`,
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof CharmPackError ? err.message : String((err as Error).message ?? err);
    process.stderr.write(`ERROR ${message.split('\n')[0]}\n`);
    process.exitCode = 1;
  },
);
