#!/usr/bin/env node
import { parseArgs } from 'node:util';

import { errorMessage } from '../common/errors.js';
import { recoverAbandonedSessions } from './abandoned-sessions.js';
import { jitter, parseSeconds } from '../common/wait.js';
import { DEFAULT_STORAGE_CONFIG_DIR, loadStorageSettings } from './load-settings.js';
import { storageLogger } from './logging.js';
import { updateStorageConfig } from './update-config.js';

/**
 * `turku-storage-update-config`: register, report space, rewrite authorized_keys
 * (docs/datapath.md, "Programs").
 */

const USAGE = `Usage: turku-storage-update-config [options]

Registers this storage with the Turku API, reports its volumes' space and rewrites the ping
user's authorized_keys from the machines the API assigned here.

  -c, --config-dir DIR       configuration directory (default ${DEFAULT_STORAGE_CONFIG_DIR})
  -w, --wait SECONDS         first sleep a random time between 0 and SECONDS
      --debug                log API requests (secrets redacted) and responses
      --api-auth-name NAME   registration credential, instead of the config's api_auth_name
      --api-auth-secret S    its secret, instead of the config's api_auth_secret

Exit status: 0 on success; 1 on errors (one line on stderr).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'config-dir': { type: 'string', short: 'c', default: DEFAULT_STORAGE_CONFIG_DIR },
      wait: { type: 'string', short: 'w' },
      debug: { type: 'boolean', default: false },
      'api-auth-name': { type: 'string' },
      'api-auth-secret': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  await jitter(parseSeconds('--wait', values.wait));
  const settings = await loadStorageSettings(values['config-dir']);
  process.env.TZ = settings.timezone;
  const log = storageLogger({
    program: 'turku-storage-update-config',
    storageName: settings.name,
    logFile: settings.log_file,
    consoleLevel: values.debug ? 'debug' : 'warning',
  });
  try {
    await updateStorageConfig(settings, {
      log,
      ...(values['api-auth-name'] === undefined ? {} : { authName: values['api-auth-name'] }),
      ...(values['api-auth-secret'] === undefined ? {} : { authSecret: values['api-auth-secret'] }),
    });
    // Not part of updateStorageConfig's lock: each machine's own lock guards this.
    await recoverAbandonedSessions(settings, log).catch((error: unknown) =>
      log.error(`Cannot recover abandoned sessions: ${errorMessage(error)}`),
    );
  } finally {
    await log.close();
  }
}

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
void main().catch((error: unknown) => {
  process.stderr.write(`turku-storage-update-config: ${errorMessage(error)}\n`);
  process.exitCode = 1;
});
