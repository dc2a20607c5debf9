// The Turku programs a packed charm carries in workload/: one esbuild bundle per program
// (CommonJS: Node 20 starts a CommonJS file about 20 ms sooner than an ES module, and the agent's
// check-in runs every 5 minutes on every machine), plus the one native module, better-sqlite3,
// which cannot be bundled: its JavaScript, its compiled binding and the two small packages that
// load it.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'esbuild';

import { WORKLOAD_PROGRAMS, type WorkloadProgram } from '../charm-host/workload.js';
import { CHARM_NODE_TARGET } from './bundle.js';

export interface WorkloadFile {
  /** Path inside the .charm, under workload/. */
  readonly path: string;
  readonly data: Buffer;
}

/** Native or optional modules that stay outside the bundles. */
const EXTERNAL = ['better-sqlite3', 'pg-native'];

/** better-sqlite3 at run time: what `require('better-sqlite3')` loads, nothing of its build. */
const NATIVE_PACKAGES: ReadonlyArray<{ name: string; include: readonly string[] }> = [
  { name: 'better-sqlite3', include: ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node'] },
  { name: 'bindings', include: ['package.json', 'LICENSE.md', 'bindings.js'] },
  { name: 'file-uri-to-path', include: ['package.json', 'LICENSE', 'index.js'] },
];

async function filesUnder(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return [];
  if (info.isFile()) return [path];
  const entries = await readdir(path);
  return (await Promise.all(entries.map((entry) => filesUnder(join(path, entry))))).flat();
}

async function nativeFiles(root: string): Promise<WorkloadFile[]> {
  const files: WorkloadFile[] = [];
  for (const { name, include } of NATIVE_PACKAGES) {
    const dir = join(root, 'node_modules', name);
    if (!existsSync(dir)) throw new Error(`${dir}: missing (run npm ci)`);
    for (const part of include) {
      for (const file of await filesUnder(join(dir, part))) {
        files.push({ path: `workload/node_modules/${name}/${relative(dir, file)}`, data: await readFile(file) });
      }
    }
  }
  return files;
}

/** The source of a program: lib/agent/ping-main.js -> <root>/lib/agent/ping-main.ts. */
function sourceOf(root: string, program: WorkloadProgram): string {
  return join(root, WORKLOAD_PROGRAMS[program].replace(/\.js$/, '.ts'));
}

/** workload/<program>.cjs for each program, and better-sqlite3 when turku-api is among them. */
export async function workloadFiles(root: string, programs: readonly WorkloadProgram[]): Promise<WorkloadFile[]> {
  const work = await mkdtemp(join(os.tmpdir(), 'charm-workload-'));
  try {
    const files: WorkloadFile[] = [];
    for (const program of programs) {
      const outfile = join(work, `${program}.cjs`);
      await build({
        entryPoints: [sourceOf(root, program)],
        outfile,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: CHARM_NODE_TARGET,
        minify: true,
        legalComments: 'eof',
        external: EXTERNAL,
        logLevel: 'silent',
      });
      files.push({ path: `workload/${program}.cjs`, data: await readFile(outfile) });
    }
    if (programs.includes('turku-api')) files.push(...(await nativeFiles(root)));
    return files;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
