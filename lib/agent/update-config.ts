import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { createApiClient } from '../common/api-client.js';
import { loadAgentConfig } from '../common/config-files.js';
import { UserError } from '../common/errors.js';
import { parseSeconds } from '../common/wait.js';
import { tryLock } from '../common/lock.js';
import { registrationAuth } from '../common/registration-auth.js';
import type { ConfigObject } from '../turku/config.js';
import { EmptyResponse } from '../turku/protocol/api.js';
import { consoleLogger, DEFAULT_CONFIG_DIR, parseFlags, randomWait, reportFailure, type AgentIo } from './cli.js';
import { parseAgentSettings, type AgentSettings } from './settings.js';
import { cleanUpLegacyState, ensureIdentity, ensureSshKey, type Identity } from './state.js';

/**
 * turku-update-config (docs/datapath.md, "Programs"): registers the machine with the API and sends
 * it the sources to back up. Deployment hooks run it and rely on a non-zero exit status for any
 * failure.
 */

export const PROGRAM = 'turku-update-config';

export const USAGE = `Usage: ${PROGRAM} [options]

Registers this machine with the Turku API (creating its identity and SSH key on first use) and
sends it the sources configured in <config-dir>/sources.d.

  -c, --config-dir DIR      configuration directory (default ${DEFAULT_CONFIG_DIR})
  -w, --wait SECONDS        first sleep a random time between 0 and SECONDS
      --api-auth-name NAME  registration credential name (first registration only)
      --api-auth-secret S   registration credential secret (first registration only)
      --debug               log API requests (secrets redacted) and responses

Exit status: 0 on success, 1 on any error (one line on stderr), 2 on bad flags.`;

const OPTIONS = {
  'config-dir': { type: 'string', short: 'c', default: DEFAULT_CONFIG_DIR },
  wait: { type: 'string', short: 'w' },
  debug: { type: 'boolean', default: false },
  'api-auth-name': { type: 'string' },
  'api-auth-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runUpdateConfig(argv: readonly string[], io: AgentIo): Promise<number> {
  let debug = argv.includes('--debug');
  try {
    const { values } = parseFlags(argv, OPTIONS);
    debug = values.debug;
    if (values.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    const configDir = values['config-dir'];
    const log = consoleLogger(PROGRAM, debug, io);
    await randomWait(parseSeconds('--wait', values.wait), io, log);

    // 1. Load the configuration.
    const loaded = await loadAgentConfig(configDir);
    for (const warning of loaded.warnings) log.warning(warning);
    // The API would refuse the whole request; say which file to fix instead.
    const unsafe = loaded.unsafeNames[0];
    if (unsafe !== undefined) {
      throw new UserError(`${unsafe.file}: source "${unsafe.name}": the name ${unsafe.problem}; rename it`);
    }
    const settings = parseAgentSettings(loaded.config, { hostname: io.hostname() });
    const apiUrl = settings.api_url;
    if (apiUrl === undefined) throw new UserError(`api_url is not set in ${join(configDir, 'config.d')}`);

    // 2. Lock.
    await mkdir(settings.lock_dir, { recursive: true });
    const lock = await tryLock(settings.lock_dir, PROGRAM);
    if (lock === undefined) throw new UserError(`Another ${PROGRAM} is running (lock ${settings.lock_dir})`);
    try {
      // 3. Local state: directories, identity, SSH key, pre-2020 leftovers.
      for (const dir of [
        join(configDir, 'config.d'),
        join(configDir, 'sources.d'),
        join(settings.var_dir, 'config.d'),
      ]) {
        await mkdir(dir, { recursive: true });
      }
      const identity = await ensureIdentity(settings, log);
      const sshPublicKey = await ensureSshKey(settings, log);
      for (const removed of await cleanUpLegacyState(settings.var_dir, Object.keys(loaded.sources))) {
        log.info(`Removed the pre-2020 leftover ${removed}`);
      }

      // 4. Register and send the sources.
      const request = updateConfigRequest(settings, identity, sshPublicKey, loaded.sources, {
        name: values['api-auth-name'],
        secret: values['api-auth-secret'],
      });
      const api = createApiClient({
        url: apiUrl,
        timeoutSeconds: settings.api_timeout,
        debug: (line) => log.debug(line),
      });
      await api.post('update_config', request, EmptyResponse);
      log.debug(`Sent ${Object.keys(loaded.sources).length} source(s) for machine ${identity.machine_uuid}`);
    } finally {
      await lock.release();
    }
    return 0;
  } catch (error) {
    return reportFailure(PROGRAM, error, io, debug);
  }
}

/**
 * The `update_config` body (docs/api.md, "update_config", docs/datapath.md, "Programs"): optional
 * fields only when set.
 */
export function updateConfigRequest(
  settings: AgentSettings,
  identity: Identity,
  sshPublicKey: string,
  sources: Record<string, ConfigObject>,
  flags: { readonly name?: string | undefined; readonly secret?: string | undefined } = {},
): Record<string, unknown> {
  const machine: Record<string, unknown> = { uuid: identity.machine_uuid, secret: identity.machine_secret };
  if (settings.environment_name !== undefined) machine.environment_name = settings.environment_name;
  if (settings.service_name !== undefined) machine.service_name = settings.service_name;
  machine.unit_name = settings.unit_name;
  machine.ssh_public_key = sshPublicKey;
  if (settings.published !== undefined) machine.published = settings.published;
  machine.sources = sources;
  // [NEW] Ask for a tunnel port allowance (docs/datapath.md); an original API ignores the key.
  machine.tunnel_allowance = true;
  const auth = registrationAuth(settings, flags);
  return auth === undefined ? { machine } : { auth, machine };
}
