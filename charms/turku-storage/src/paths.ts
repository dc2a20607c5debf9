// Where the storage's files are on its machine. Always through host.path, so a unit in a test
// root (or on the local substrate) keeps everything inside its own tree.
import type { Host } from '../../../lib/charm-host/index.js';

export const MACHINE_PATHS = {
  configDir: '/etc/turku-storage',
  varDir: '/var/lib/turku-storage',
  /** The charm's own state (the storage's login secret); root only. */
  charmDir: '/var/lib/turku-storage/charm',
  /** Whole outputs of actions too long for their result (root only). */
  actionResults: '/var/lib/turku-storage/charm/action-results',
  lockDir: '/var/lib/turku-storage/lock',
  logDir: '/var/log/turku-storage',
  /** The default volume when no `backups` storage is attached. */
  defaultVolume: '/var/lib/turku-storage/backups',
  /** The ping user's home (useradd --home-dir), holding .ssh/authorized_keys. */
  pingHome: '/var/lib/turku-storage/ping',
  hostKeysGlob: '/etc/ssh/ssh_host_*_key.pub',
} as const;

export interface StoragePaths {
  readonly configDir: string;
  /** config.d/50-juju.json: the charm's layer of the workload config. */
  readonly configFile: string;
  readonly varDir: string;
  readonly charmDir: string;
  readonly secretFile: string;
  readonly actionResults: string;
  readonly lockDir: string;
  readonly logFile: string;
  readonly defaultVolume: string;
  readonly pingHome: string;
  readonly hostKeysGlob: string;
}

export function storagePaths(host: Host): StoragePaths {
  const configDir = host.path(MACHINE_PATHS.configDir);
  const charmDir = host.path(MACHINE_PATHS.charmDir);
  return {
    configDir,
    configFile: `${configDir}/config.d/50-juju.json`,
    varDir: host.path(MACHINE_PATHS.varDir),
    charmDir,
    secretFile: `${charmDir}/login-secret`,
    actionResults: host.path(MACHINE_PATHS.actionResults),
    lockDir: host.path(MACHINE_PATHS.lockDir),
    logFile: `${host.path(MACHINE_PATHS.logDir)}/turku-storage.log`,
    defaultVolume: host.path(MACHINE_PATHS.defaultVolume),
    pingHome: host.path(MACHINE_PATHS.pingHome),
    hostKeysGlob: host.path(MACHINE_PATHS.hostKeysGlob),
  };
}
