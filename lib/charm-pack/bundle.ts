// Compiles a TypeScript entry point (a charm's src/main.ts, a Turku program's *-main.ts) into one
// self-contained, minified CommonJS file, so a packed charm ships no node_modules and a cold start
// parses one file (docs/charm-runtime.md, "Packing and start-up"). CommonJS, not ESM: Node's ES
// module loader costs ~6 ms more per start, and every hook, action and check-in is a cold start
// (bench/dispatch). The heavier built-in modules load on first use (lazy-builtins.ts); the
// module bodies esbuild wraps for lazy loading are compiled eagerly, so the compile cache keeps
// them (eager-modules.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { build } from 'esbuild';

import { eagerModuleBodies } from './eager-modules.js';
import { bundleFileOf, launcherSource } from './launcher.js';
import { lazyBuiltins } from './lazy-builtins.js';

/** The Node major the bundles target: the one the charms ship (lib/charm-pack/node-builds.ts). */
export const CHARM_NODE_TARGET = 'node24';

/** pg's optional native binding: never installed, so it stays an unresolved (and unused) require. */
const EXTERNAL = ['pg-native'];

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
    external: EXTERNAL,
    plugins: [lazyBuiltins()],
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (output === undefined || result.outputFiles.length !== 1)
    throw new Error(`esbuild wrote no single file for ${entry}`);
  const code = Buffer.from(eagerModuleBodies(output.text));
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, code);
  return { outFile, bytes: code.length };
}

/**
 * A program: its bundle in `bundleFileOf(outFile)` and, in `outFile`, the launcher that starts it
 * with the compile cache (launcher.ts). Returns the bundle's size.
 */
export async function bundleProgram(entry: string, outFile: string): Promise<BundleResult> {
  const bundleFile = bundleFileOf(outFile);
  const { bytes } = await bundleCharm(entry, bundleFile);
  await writeFile(outFile, launcherSource(basename(bundleFile)));
  return { outFile, bytes };
}
