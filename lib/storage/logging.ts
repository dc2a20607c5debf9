import { createWorkloadLogger, openLocalLog, type Level, type WorkloadLogger } from '../common/workload-log.js';

/**
 * The storage programs' logger (docs/datapath.md, "Locks, logs and exit codes"): console named
 * after the storage, local log at DEBUG with the machine UUID in every line, as operators grep for
 * it.
 */
export function storageLogger(options: {
  readonly program: string;
  readonly storageName: string;
  readonly logFile: string;
  readonly consoleLevel: Level;
  readonly machineUuid?: string;
}): WorkloadLogger {
  const local = openLocalLog(options.logFile, options.program);
  const subject = options.machineUuid === undefined ? '' : ` ${options.machineUuid}`;
  const isFile = options.logFile !== 'systemd' && options.logFile !== 'syslog';
  const localPrefix = isFile ? `(${options.storageName})${subject}: ` : `${options.storageName}${subject}: `;
  return createWorkloadLogger({
    name: options.storageName,
    consoleLevel: options.consoleLevel,
    ...(local === undefined ? {} : { local }),
    localPrefix,
  });
}
