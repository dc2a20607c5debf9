// `npm run pack`: node dist/lib/charm-pack/pack-main.js [--out DIR] [--node PATH | --no-node] [--charmcraft] [CHARM_DIR...]
// Packs each charm directory (by default every directory under charms/ with a charmcraft.yaml)
// into <out>/<name>.charm. Errors: exit 1 with one line on stderr.
// Each charm carries a Node.js binary by default (the one running this, or --node PATH): Ubuntu's
// own nodejs package is older than the Node 20 the charms need. --no-node leaves it out for units
// that have Node 20 or later on PATH.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

import { CharmPackError, packCharm, prepareForCharmcraft } from './pack.js';

const USAGE = 'usage: pack-main [--out DIR] [--node PATH | --no-node] [--charmcraft] [CHARM_DIR...]';

async function charmsUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'charmcraft.yaml')))
    .map((entry) => join(dir, entry.name))
    .sort();
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
  const options = args.values['no-node'] ? {} : { node: args.values.node ?? process.execPath };
  for (const dir of dirs) {
    if (args.values.charmcraft) {
      for (const file of await prepareForCharmcraft(dir)) process.stdout.write(`wrote ${file}\n`);
    }
    const result = await packCharm(dir, args.values.out, options);
    process.stdout.write(`packed ${relative(process.cwd(), result.file)} (${result.bytes} bytes)\n`);
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
