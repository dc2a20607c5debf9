// The Turku programs a packed charm carries in workload/: per program, a launcher
// (workload/<program>.cjs, what the wrappers on PATH run) and its esbuild bundle
// (workload/<program>.bundle.cjs), see launcher.ts. The agent's check-in runs every 5 minutes on
// every machine and the storage's ping once per backup session, so both start through the
// compile cache. Nothing native ships: the API's SQLite is Node's built-in node:sqlite, so the
// same files serve every architecture.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { WORKLOAD_PROGRAMS, type WorkloadProgram } from '../charm-host/workload.js';
import { bundleProgram } from './bundle.js';
import { bundleFileOf } from './launcher.js';

export interface WorkloadFile {
  /** Path inside the .charm, under workload/. */
  readonly path: string;
  readonly data: Buffer;
}

/** The source of a program: lib/agent/ping-main.js -> <root>/lib/agent/ping-main.ts. */
function sourceOf(root: string, program: WorkloadProgram): string {
  return join(root, WORKLOAD_PROGRAMS[program].replace(/\.js$/, '.ts'));
}

/** workload/<program>.cjs (the launcher) and workload/<program>.bundle.cjs for each program. */
export async function workloadFiles(root: string, programs: readonly WorkloadProgram[]): Promise<WorkloadFile[]> {
  const work = await mkdtemp(join(os.tmpdir(), 'charm-workload-'));
  try {
    const files: WorkloadFile[] = [];
    for (const program of programs) {
      const launcher = `workload/${program}.cjs`;
      await bundleProgram(sourceOf(root, program), join(work, launcher));
      for (const path of [launcher, bundleFileOf(launcher)])
        files.push({ path, data: await readFile(join(work, path)) });
    }
    return files;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
