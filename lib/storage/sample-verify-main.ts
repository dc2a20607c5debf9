#!/usr/bin/env node
import { parseArgs } from 'node:util';

import { errorMessage } from '../common/errors.js';
import { jitter, parseSeconds } from '../common/wait.js';
import { DEFAULT_STORAGE_CONFIG_DIR, loadStorageSettings } from './load-settings.js';
import { storageLogger } from './logging.js';
import { createVerifyReporter } from './sample-verify/report.js';
import { runSampleVerify } from './sample-verify/run.js';
import { verifierFor } from './sample-verify/wiring.js';

/**
 * `turku-storage-sample-verify`: the periodic sample verify, run hourly by the storage's timers
 * (docs/datapath.md, "The periodic sample verify").
 */

const USAGE = `Usage: turku-storage-sample-verify [options]

Verifies a random sample of the stored snapshots against their manifests, this run's share of
verify_bytes_per_day (0: off), the sources checked longest ago first, and reports each result
to the API.

  -c, --config-dir DIR   configuration directory (default ${DEFAULT_STORAGE_CONFIG_DIR})
  -w, --wait SECONDS     first sleep a random time between 0 and SECONDS
      --debug            log API requests (secrets redacted) and responses

Exit status: 0 when it ran (whatever it found: problems are logged and reported); 1 on errors.`;

const OPTIONS = {
  'config-dir': { type: 'string', short: 'c', default: DEFAULT_STORAGE_CONFIG_DIR },
  wait: { type: 'string', short: 'w' },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: OPTIONS });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  await jitter(parseSeconds('--wait', values.wait));
  const settings = await loadStorageSettings(values['config-dir']);
  process.env.TZ = settings.timezone;
  const consoleLevel = values.debug ? 'debug' : 'warning';
  const log = storageLogger({
    program: 'turku-storage-sample-verify',
    storageName: settings.name,
    logFile: settings.log_file,
    consoleLevel,
  });
  try {
    await runSampleVerify(settings, {
      verifySnapshot: verifierFor(settings, log),
      report: createVerifyReporter(settings, log),
      log,
    });
  } finally {
    await log.close();
  }
}

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
void main().catch((error: unknown) => {
  process.stderr.write(`turku-storage-sample-verify: ${errorMessage(error)}\n`);
  process.exitCode = 1;
});
