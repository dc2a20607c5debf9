// Compiles a charm's TypeScript entry point into one self-contained CommonJS file, so a packed
// charm ships no node_modules and a hook's cold start parses one file
// (docs/charm-runtime.md, "Packing and start-up"). CommonJS, not ESM: Node's ES module loader costs
// ~6 ms more per start, and every hook and action is a cold start (bench/dispatch).
import { build } from 'esbuild';

/** The Node major the bundles target: the one the charms ship (lib/charm-pack/node-builds.ts). */
export const CHARM_NODE_TARGET = 'node24';

export interface BundleResult {
  outFile: string;
  bytes: number;
}

/** Bundles `entry` (a .ts file) into `outFile` (a .cjs file), minified, with licence comments kept. */
export async function bundleCharm(entry: string, outFile: string): Promise<BundleResult> {
  const result = await build({
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: CHARM_NODE_TARGET,
    minify: true,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'silent',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, file) => sum + file.bytes, 0);
  return { outFile, bytes };
}
