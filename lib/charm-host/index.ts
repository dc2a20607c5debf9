// What the Turku charms share about the machine they run on (see host.ts).
export { failureLine, hostAt, runProgram, unitHost, type Host, type RunOptions, type RunResult } from './host.js';
export { BIN_DIR, LIB_DIR, installPrograms, installTimers, removeTimers } from './install.js';
export { ensurePackages, missingPackages } from './packages.js';
export {
  isProcessAlive,
  ensureService,
  reloadDaemon,
  serviceLogFile,
  stopService,
  usesSystemd,
  type ServiceSpec,
  type ServiceState,
  type SystemDaemon,
} from './services.js';
export {
  charmNode,
  debianArch,
  locateWorkload,
  WORKLOAD_PROGRAMS,
  workloadAt,
  type Workload,
  type WorkloadProgram,
} from './workload.js';
