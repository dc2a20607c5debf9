// The Turku programs a packed charm carries in workload/: one esbuild bundle per program
// (CommonJS: Node starts a CommonJS file about 20 ms sooner than an ES module, and the agent's
// check-in runs every 5 minutes on every machine). Nothing native ships: the API's SQLite is
// Node's built-in node:sqlite, so the same files serve every architecture.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

import { WORKLOAD_PROGRAMS, type WorkloadProgram } from '../charm-host/workload.js';
import { CHARM_NODE_TARGET } from './bundle.js';

export interface WorkloadFile {
  /** Path inside the .charm, under workload/. */
  readonly path: string;
  readonly data: Buffer;
}

/** pg's optional native binding: never installed, so it stays an unresolved (and unused) require. */
const EXTERNAL = ['pg-native'];

/** The source of a program: lib/agent/ping-main.js -> <root>/lib/agent/ping-main.ts. */
function sourceOf(root: string, program: WorkloadProgram): string {
  return join(root, WORKLOAD_PROGRAMS[program].replace(/\.js$/, '.ts'));
}

/** workload/<program>.cjs for each program. */
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
    return files;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
