import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Turku programs a charm runs on its unit. A packed charm carries them in
 * `$CHARM_DIR/workload/<program>.cjs` (one esbuild bundle each, see lib/charm-pack); a checkout
 * runs the compiled `dist/` of this package instead (tests, the local substrate).
 */

export const WORKLOAD_PROGRAMS = {
  'turku-api': 'lib/api/main.js',
  'turku-update-config': 'lib/agent/update-config-main.js',
  'turku-agent-ping': 'lib/agent/ping-main.js',
  'turku-storage-update-config': 'lib/storage/update-config-main.js',
  'turku-storage-ping': 'lib/storage/ping-main.js',
  'turku-storage-admin': 'lib/storage/admin-main.js',
  'turku-storage-sample-verify': 'lib/storage/sample-verify-main.js',
  'turku-storage-tunnel-owner': 'lib/storage/tunnel-owner-main.js',
  'turku-timers': 'lib/timers/main.js',
} as const;

export type WorkloadProgram = keyof typeof WORKLOAD_PROGRAMS;

/** The programs each charm carries in its workload/ directory (lib/charm-pack). */
export const CHARM_WORKLOADS: Readonly<Record<string, readonly WorkloadProgram[]>> = {
  'turku-agent': ['turku-update-config', 'turku-agent-ping', 'turku-timers'],
  'turku-api': ['turku-api'],
  'turku-storage': [
    'turku-storage-update-config',
    'turku-storage-ping',
    'turku-storage-admin',
    'turku-storage-sample-verify',
    'turku-storage-tunnel-owner',
    'turku-timers',
  ],
};

export interface Workload {
  /** The Node.js that runs the programs. */
  readonly node: string;
  /** Where the program files are: `<dir>/<program>.cjs` when packed, `<dist>/lib/...` otherwise. */
  readonly dir: string;
  readonly packed: boolean;
  /** The program's file. */
  file(program: WorkloadProgram): string;
  /** The argv that runs the program (Node.js first, then its own options, then the program's). */
  command(program: WorkloadProgram, args?: readonly string[], nodeOptions?: readonly string[]): string[];
}

export function workloadAt(dir: string, options: { packed: boolean; node: string }): Workload {
  const file = (program: WorkloadProgram) =>
    options.packed ? join(dir, `${program}.cjs`) : join(dir, WORKLOAD_PROGRAMS[program]);
  return {
    node: options.node,
    dir,
    packed: options.packed,
    file,
    command: (program, args = [], nodeOptions = []) => [options.node, ...nodeOptions, file(program), ...args],
  };
}

/** This machine's architecture as Debian (and a packed charm's node/<arch>/ directory) names it. */
export function debianArch(nodeArch: string = process.arch): string {
  return nodeArch === 'x64' ? 'amd64' : nodeArch;
}

/**
 * The Node.js a packed charm ships for this machine (`<charm>/node/<arch>/bin/node`, what its
 * `dispatch` runs), else `fallback`: the Node that runs the charm, which dispatch found on PATH.
 */
export function charmNode(charmDir: string, fallback: string, arch: string = debianArch()): string {
  const shipped = join(charmDir, 'node', arch, 'bin', 'node');
  return existsSync(shipped) ? shipped : fallback;
}

/**
 * The workload of a running charm: `$CHARM_DIR/workload` when the charm was packed with it,
 * else `TURKU_WORKLOAD_DIST` (a built checkout's dist/ directory).
 */
export function locateWorkload(
  charmDir: string,
  env: Readonly<Record<string, string | undefined>>,
  node: string,
): Workload {
  const packed = join(charmDir, 'workload');
  if (existsSync(packed)) return workloadAt(packed, { packed: true, node });
  const dist = env['TURKU_WORKLOAD_DIST'];
  if (dist !== undefined && dist !== '') return workloadAt(dist, { packed: false, node });
  throw new Error(`the Turku programs are missing: no ${packed} and TURKU_WORKLOAD_DIST is not set`);
}
