// An esbuild plugin that loads the heavier Node built-in modules on first use instead of when the
// bundle starts (docs/charm-runtime.md, "Packing and start-up"). In a CommonJS bundle every
// module of the program runs at start, so each `import ... from 'node:crypto'` loads the module
// then, used or not: the agent's check-in with nothing due loaded node:crypto (about 6 ms of CPU)
// and node:https with node:tls (about 10 ms more) without calling either. Here such an import
// gets an object whose properties, read when the code calls them, require the real module once.
//
// Only for our own code (node_modules keeps its requires as they are) and only for modules whose
// export is a plain object of functions and values: a module exported as a function or class
// (node:events, node:assert, node:stream) cannot be stood in for by an object.
import type { Plugin } from 'esbuild';

/** The built-ins loaded on first use: plain-object modules that cost a start-up noticeably. */
export const LAZY_BUILTINS: readonly string[] = [
  'node:child_process',
  'node:crypto',
  'node:dgram',
  'node:dns',
  'node:fs/promises',
  'node:http',
  'node:https',
  'node:net',
  'node:readline',
  'node:tls',
  'node:zlib',
];

const NAMESPACE = 'lazy-builtin';

/**
 * The stand-in module for `name`: its export names as this Node has them (the bundles target the
 * Node the charms ship, the same major as the one that packs), each a getter into the real module.
 */
export function lazyBuiltinSource(name: string): string {
  const real = process.getBuiltinModule(name) as Record<string, unknown> | undefined;
  if (real === undefined) throw new Error(`${name} is not a built-in module of this Node.js`);
  const getters = Object.keys(real)
    .map((key) => `  ${JSON.stringify(key)}: { enumerable: true, get: () => load()[${JSON.stringify(key)}] },`)
    .join('\n');
  return `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(name)}));\nmodule.exports = Object.defineProperties({}, {\n${getters}\n});\n`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export function lazyBuiltins(names: readonly string[] = LAZY_BUILTINS): Plugin {
  const filter = new RegExp(`^(${names.map(escapeRegExp).join('|')})$`);
  return {
    name: 'lazy-builtins',
    setup(build) {
      build.onResolve({ filter }, (args) => {
        // The stand-in's own require, and third-party code, get the real module.
        if (args.namespace === NAMESPACE || /[\\/]node_modules[\\/]/.test(args.importer)) {
          return { path: args.path, external: true };
        }
        return { path: args.path, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: lazyBuiltinSource(args.path),
        loader: 'js',
      }));
    },
  };
}
