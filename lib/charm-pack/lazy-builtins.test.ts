// The bundles load node:crypto, node:https and the like when the code first uses them, not when
// the program starts; what the code sees of them is the same.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

import { LAZY_BUILTINS, lazyBuiltins, lazyBuiltinSource } from './lazy-builtins.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(os.tmpdir(), 'lazy-builtins-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Bundles `source` as charm-pack does and runs it; its stdout lines. */
async function bundleAndRun(source: string): Promise<string[]> {
  const entry = join(work, 'entry.ts');
  const outfile = join(work, 'out.cjs');
  await writeFile(entry, source);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    plugins: [lazyBuiltins()],
    logLevel: 'silent',
  });
  const result = spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.trim().split('\n');
}

const LOADED = `const loaded = (name: string) => process.moduleLoadList.includes('NativeModule ' + name);`;

test('named, namespace and default imports work and load the module at first use', async () => {
  const lines = await bundleAndRun(`
    ${LOADED}
    import { randomBytes, createHash } from 'node:crypto';
    import * as https from 'node:https';
    import http from 'node:http';
    console.log(loaded('crypto'), loaded('https'), loaded('http'));
    console.log(randomBytes(4).length, createHash('sha256').update('x').digest('hex').slice(0, 8), loaded('crypto'));
    console.log(typeof https.request, loaded('https'), http.STATUS_CODES[404], loaded('http'));
  `);
  expect(lines).toEqual(['false false false', '4 2d711642 true', 'function true Not Found true']);
});

test('classes and errors from a lazy module are the real ones', async () => {
  const lines = await bundleAndRun(`
    import { Socket } from 'node:net';
    import * as realNet from 'node:net';
    const socket = new Socket();
    console.log(socket instanceof realNet.Socket, Socket === require('node:net').Socket);
    socket.destroy();
  `);
  expect(lines).toEqual(['true true']);
});

test('the stand-in has every export of the real module, as getters', () => {
  for (const name of LAZY_BUILTINS) {
    const source = lazyBuiltinSource(name);
    for (const key of Object.keys(process.getBuiltinModule(name) as object)) {
      expect(source).toContain(
        `${JSON.stringify(key)}: { enumerable: true, get: () => load()[${JSON.stringify(key)}] }`,
      );
    }
  }
  expect(() => lazyBuiltinSource('node:no-such-module')).toThrow('node:no-such-module is not a built-in module');
});

test('only plain-object modules are stood in for', () => {
  for (const name of LAZY_BUILTINS) {
    const real: unknown = process.getBuiltinModule(name);
    expect([name, typeof real]).toEqual([name, 'object']);
  }
});
