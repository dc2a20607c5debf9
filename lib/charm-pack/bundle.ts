// Compiles a charm's TypeScript entry point into one self-contained ES module, so a packed charm
// ships no node_modules and a hook's cold start parses one file (spec 7.3: "compile TypeScript
// into one self-contained file").
import { build } from 'esbuild';

/** The Node major the bundles target: the oldest the charms support. */
export const CHARM_NODE_TARGET = 'node20';

// Some CommonJS dependencies call require() for Node built-ins; an ES module has no require, so
// the bundle makes one (esbuild's own shim would throw "Dynamic require ... is not supported").
const REQUIRE_SHIM =
  "import { createRequire as __charmRequire } from 'node:module';\nconst require = __charmRequire(import.meta.url);";

export interface BundleResult {
  outFile: string;
  bytes: number;
}

/** Bundles `entry` (a .ts file) into `outFile` (an .mjs file), minified, with licence comments kept. */
export async function bundleCharm(entry: string, outFile: string): Promise<BundleResult> {
  const result = await build({
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: CHARM_NODE_TARGET,
    minify: true,
    legalComments: 'eof',
    banner: { js: REQUIRE_SHIM },
    metafile: true,
    logLevel: 'silent',
  });
  const output = result.metafile.outputs;
  const bytes = Object.values(output).reduce((sum, file) => sum + file.bytes, 0);
  return { outFile, bytes };
}
