// The charm's layer of the storage's configuration (config.d/50-juju.json,
// docs/datapath.md, "Configuration keys"): pure, from the charm config, the relation data and what
// the charm found on the machine.
import type { StorageConfig } from './schemas.js';

export interface Volume {
  /** The workload's volume key, e.g. "backups-0" for Juju storage backups/0, or "default". */
  readonly name: string;
  /** Absolute path as seen from this process (host.path applied). */
  readonly path: string;
}

export interface StorageConfigInputs {
  readonly config: StorageConfig;
  readonly name: string;
  /** The storage's own login secret at the API. */
  readonly secret: string;
  readonly apiUrl: string;
  /** The storage_reg registration credential (needed for the first registration only). */
  readonly registration: { readonly name: string; readonly secret: string } | undefined;
  readonly volumes: readonly Volume[];
  readonly sshHost: string;
  readonly pingUser: string;
  /** The `chattr` allowed to set the immutable flag (machine.ts); absent: the workload's default. */
  readonly chattrCommand?: readonly string[];
  /** Files that run as / are owned by the ping account; host.path applied. */
  readonly paths: {
    readonly varDir: string;
    readonly lockDir: string;
    readonly logFile: string;
    readonly authorizedKeysFile: string;
    readonly hostKeysGlob: string;
    /** The forced command, e.g. `/usr/local/bin/turku-storage-ping --config-dir /etc/turku-storage`. */
    readonly pingCommand: string;
  };
}

/** The JSON object the workload reads; keys are the workload's (lib/storage/settings.ts). */
export function storageConfigObject(inputs: StorageConfigInputs): Record<string, unknown> {
  const { config, paths } = inputs;
  const volumes: Record<string, { path: string }> = {};
  for (const volume of inputs.volumes) volumes[volume.name] = { path: volume.path };
  return {
    name: inputs.name,
    secret: inputs.secret,
    api_url: inputs.apiUrl,
    ...(inputs.registration === undefined
      ? {}
      : { api_auth_name: inputs.registration.name, api_auth_secret: inputs.registration.secret }),
    volumes,
    accept_new_high_water_pct: config['high-water-pct'],
    snapshot_mode: config['snapshot-mode'],
    rsync_compress: config['rsync-compress'],
    timezone: config.timezone,
    ssh_ping_host: inputs.sshHost,
    ssh_ping_port: config['ssh-port'],
    ssh_ping_user: inputs.pingUser,
    ssh_ping_host_keys_glob: paths.hostKeysGlob,
    authorized_keys_file: paths.authorizedKeysFile,
    authorized_keys_user: inputs.pingUser,
    authorized_keys_command: paths.pingCommand,
    original_agent_tunnels: config['original-agent-tunnels'],
    // 0 leaves the workload's own default, two per CPU.
    ...(config['max-concurrent-backups'] === 0 ? {} : { max_concurrent_backups: config['max-concurrent-backups'] }),
    // -1 leaves the workload's own default, as many as the slots.
    ...(config['max-waiting-backups'] === -1 ? {} : { max_waiting_backups: config['max-waiting-backups'] }),
    verify_bytes_per_day: config['verify-bytes-per-day'],
    min_age: config['min-age'],
    immutable_snapshots: config['immutable-snapshots'],
    ...(inputs.chattrCommand === undefined ? {} : { chattr_command: inputs.chattrCommand }),
    var_dir: paths.varDir,
    lock_dir: paths.lockDir,
    log_file: paths.logFile,
  };
}

/** `<app>-<n>` when unset; `{unit}` in a configured name is the unit number. */
export function storageName(configured: string, unitName: string): string {
  const [app, number] = unitName.split('/') as [string, string];
  if (configured === '') return `${app}-${number}`;
  return configured.replaceAll('{unit}', number);
}

/** The workload's volume key for a Juju storage id ("backups/3" -> "backups-3"). */
export function volumeName(storageId: string): string {
  return storageId.replace('/', '-');
}
