import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { JujuCommon } from '../../lib/charm/index.js';
import { hostAt, stopService, workloadAt, type Host, type Workload } from '../../lib/charm-host/index.js';

/** This checkout's built programs (`npm run build` first: `npm test` does). */
export const checkoutDist = fileURLToPath(new URL('../../dist', import.meta.url));

export function checkoutWorkload(): Workload {
  if (!existsSync(join(checkoutDist, 'lib', 'agent', 'update-config-main.js'))) {
    throw new Error(`${checkoutDist} has no built programs: run npm run build first`);
  }
  return workloadAt(checkoutDist, { packed: false, node: process.execPath });
}

/**
 * One root directory per Juju machine, so each simulated unit's charm writes its own /etc,
 * /var/lib, ... and a subordinate shares its principal's. `hostFor` is what a charm factory takes.
 */
export class MachineRoots {
  private readonly roots = new Map<string, string>();
  private readonly workload = checkoutWorkload();
  private base: string | undefined;

  async init(): Promise<this> {
    this.base = await mkdtemp(join(tmpdir(), 'turku-machines-'));
    return this;
  }

  root(machineId: string): string {
    if (this.base === undefined) throw new Error('MachineRoots.init() first');
    let root = this.roots.get(machineId);
    if (root === undefined) {
      root = join(this.base, `machine-${machineId.replaceAll('/', '-')}`);
      this.roots.set(machineId, root);
    }
    return root;
  }

  /** The machine path `machinePath` inside machine `machineId`'s root. */
  path(machineId: string, machinePath: string): string {
    return join(this.root(machineId), machinePath);
  }

  hostFor = (juju: Pick<JujuCommon, 'machineId'>): Host => hostAt(this.root(juju.machineId || 'none'), this.workload);

  /** Stops every process a charm supervises on these machines, then deletes the roots. */
  async cleanup(): Promise<void> {
    for (const root of this.roots.values()) {
      const host = hostAt(root, this.workload);
      const pids = await readdir(join(root, 'run')).catch(() => [] as string[]);
      for (const file of pids.filter((name) => name.endsWith('.pid'))) await stopService(host, file.slice(0, -4));
    }
    if (this.base !== undefined) await rm(this.base, { recursive: true, force: true });
  }
}
