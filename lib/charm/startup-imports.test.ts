// A charm that declares no schema must not carry zod: its module start-up is a noticeable part of
// a no-op hook (bench/dispatch). This bundles two tiny charms the way charm-pack does (esbuild,
// tree-shaken) and looks at which files end up in the output.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** The input files that contribute bytes to the bundle of `source` (a charm entry in lib/charm). */
async function bundledFiles(source: string): Promise<string[]> {
  const result = await build({
    stdin: { contents: source, resolveDir: HERE, loader: 'ts', sourcefile: 'charm.ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return Object.values(result.metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => path),
  );
}

test('a charm without schemas bundles the runtime without any zod module', async () => {
  const files = await bundledFiles(
    `import { defineCharm, main } from './index.js';\nvoid main(defineCharm({ reconcile: async () => {} }));\n`,
  );
  expect(files.some((file) => file.endsWith('lib/charm/dispatch.ts'))).toBe(true);
  expect(files.some((file) => file.endsWith('lib/charm/tools.ts'))).toBe(true);
  expect(files.filter((file) => file.includes('zod'))).toEqual([]);
});

test('a charm with a config schema does get zod (so the check above can see it)', async () => {
  const files = await bundledFiles(
    `import * as z from 'zod/mini';\nimport { defineCharm, main } from './index.js';\n` +
      `void main(defineCharm({ config: z.object({ port: z.int() }), reconcile: async () => {} }));\n`,
  );
  expect(files.some((file) => file.includes('node_modules/zod/'))).toBe(true);
});
