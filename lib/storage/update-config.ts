import { chown, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { createApiClient } from '../common/api-client.js';
import { writeFileAtomic } from '../common/atomic-write.js';
import { registrationAuth } from '../common/registration-auth.js';
import { isErrno } from '../common/errors.js';
import { runProcess } from '../common/process.js';
import { tryLock } from '../common/lock.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { StorageUpdateConfigResponse } from '../turku/protocol/api.js';
import { isWeakSecret, STRONG_SECRET_LENGTH } from '../turku/secret-strength.js';
import type { SnapshotMode } from '../turku/protocol/descriptor.js';
import { lookupAccount } from './accounts.js';
import { buildAuthorizedKeys } from './authorized-keys.js';
import { readHostKeys } from './host-keys.js';
import { sessionGate } from './session-gate.js';
import type { StorageSettings } from './settings.js';
import { measureVolumes, spaceReport, spaceWarnings } from './volumes.js';

/**
 * `turku-storage-update-config` (docs/datapath.md, "Programs"): report this storage and its space to the API,
 * then rewrite the ping user's authorized_keys from the machines the API assigns here.
 */

export interface StorageUpdateOptions {
  readonly authName?: string;
  readonly authSecret?: string;
  readonly log: WorkloadLogger;
}

export interface StorageUpdateResult {
  /** False when another update held the lock. */
  readonly ran: boolean;
  readonly machines: number;
  readonly authorizedKeysChanged: boolean;
}

export async function updateStorageConfig(
  settings: StorageSettings,
  options: StorageUpdateOptions,
): Promise<StorageUpdateResult> {
  const { log } = options;
  const lock = await tryLock(settings.lock_dir, 'turku-storage-update-config');
  if (lock === undefined) {
    log.warning('Another turku-storage-update-config is running; nothing done');
    return { ran: false, machines: 0, authorizedKeysChanged: false };
  }
  try {
    // Accepted (original storages have operator-chosen short secrets), but worth replacing.
    if (isWeakSecret(settings.secret)) {
      log.warning(
        `The storage secret is shorter than ${STRONG_SECRET_LENGTH} characters: the API accepts it but lists ` +
          'it as weak; a long random secret is safer (the API then needs the new one registered)',
      );
    }
    const volumes = await measureVolumes(settings, (problem) => log.error(problem));
    if (volumes.length === 0) throw new Error('Incomplete config: no usable volume');
    const { spaceTotal, spaceAvailable } = spaceReport(volumes);
    const warnings = spaceWarnings(volumes);
    for (const warning of warnings) log.warning(warning);
    for (const volume of volumes) {
      log.info(
        `Volume ${volume.name}: ${Math.floor(volume.availableMiB)} of ${Math.floor(volume.totalMiB)} MiB free ` +
          `(${volume.pctUsed.toFixed(1)}% used)${volume.acceptsNew ? '' : ', takes no new machines'}`,
      );
    }

    const api = createApiClient({
      url: settings.api_url,
      timeoutSeconds: settings.api_timeout,
      debug: (line) => log.debug(line),
    });
    const reply = await api.post(
      'storage_update_config',
      {
        ...optional('auth', registrationAuth(settings, { name: options.authName, secret: options.authSecret })),
        storage: {
          name: settings.name,
          secret: settings.secret,
          ssh_ping_host: settings.ssh_ping_host,
          ssh_ping_port: settings.ssh_ping_port,
          ssh_ping_user: settings.ssh_ping_user,
          ssh_ping_host_keys: settings.ssh_ping_host_keys ?? (await readHostKeys(settings.ssh_ping_host_keys_glob)),
          space_total: spaceTotal,
          space_available: spaceAvailable,
          snapshot_modes: await supportedModes(settings),
          ...(warnings.length === 0 ? {} : { space_warnings: warnings }),
          ...(settings.published === undefined ? {} : { published: settings.published }),
          ...(settings.comment === undefined ? {} : { comment: settings.comment }),
        },
      },
      StorageUpdateConfigResponse,
    );

    const changed = await writeAuthorizedKeys(settings, reply.machines, log);
    return { ran: true, machines: Object.keys(reply.machines).length, authorizedKeysChanged: changed };
  } finally {
    await lock.release();
  }
}

/** `borg` is advertised only where the borg program runs, so the API never assigns it in vain. */
async function supportedModes(settings: StorageSettings): Promise<SnapshotMode[]> {
  const [command, ...args] = settings.borg_command;
  const borg = await runProcess([command!, ...args, '--version'], { timeoutMs: 10_000 });
  return borg.exitCode === 0 ? ['link-dest', 'none', 'borg'] : ['link-dest', 'none'];
}

async function writeAuthorizedKeys(
  settings: StorageSettings,
  machines: StorageUpdateConfigResponse['machines'],
  log: WorkloadLogger,
): Promise<boolean> {
  const owner = await lookupAccount(settings.authorized_keys_user ?? settings.ssh_ping_user);
  const file = settings.authorized_keys_file ?? join(owner.home, '.ssh', 'authorized_keys');
  const { text, skipped, withheld } = buildAuthorizedKeys({
    file,
    command: settings.authorized_keys_command,
    options: settings.authorized_keys_options,
    ...optional('staticText', await readIfPresent(`${file}.static`)),
    machines,
    originalAgentTunnels: settings.original_agent_tunnels,
    gate: sessionGate(settings),
  });
  for (const reason of skipped) log.error(reason);
  for (const reason of withheld) log.warning(reason);
  if ((await readIfPresent(file)) === text) return false;
  const dir = dirname(file);
  try {
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, owner.uid, owner.gid);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
  }
  await writeFileAtomic(file, text, { mode: 0o600, uid: owner.uid, gid: owner.gid });
  log.info(`Wrote ${file} with ${Object.keys(machines).length - skipped.length - withheld.length} machine keys`);
  return true;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** `{key: value}`, or nothing when the value is absent (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
