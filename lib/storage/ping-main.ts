#!/usr/bin/env node
// First: it configures zod before any schema is built.
import '../common/one-shot-zod.js';

import { parseArgs } from 'node:util';

import { errorMessage } from '../common/errors.js';
import { canonicalUuid } from '../turku/uuid.js';
import { DEFAULT_STORAGE_CONFIG_DIR, loadStorageSettings } from './load-settings.js';
import { storageLogger } from './logging.js';
import { storagePing } from './ping.js';

/**
 * `turku-storage-ping [--config-dir DIR] <machine-uuid>`: sshd's forced command for an agent's
 * key. Its stderr is the agent's view of the session.
 */

const USAGE = 'usage: turku-storage-ping [--config-dir DIR] <machine-uuid>';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      'config-dir': { type: 'string', short: 'c', default: DEFAULT_STORAGE_CONFIG_DIR },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const uuid = positionals.length === 1 ? canonicalUuid(positionals[0]!) : undefined;
  if (uuid === undefined) throw new Error(USAGE);
  const settings = await loadStorageSettings(values['config-dir']);
  process.env.TZ = settings.timezone;
  const log = storageLogger({
    program: 'turku-storage-ping',
    storageName: settings.name,
    logFile: settings.log_file,
    consoleLevel: 'error',
    machineUuid: uuid,
  });
  try {
    // stdout carries only the session's result line back to the agent (a pipe: written at once).
    // An agent already gone is no error of the session: its results are with the API.
    process.stdout.on('error', () => undefined);
    const output = (text: string) => void process.stdout.write(text);
    return await storagePing(settings, { uuid, input: process.stdin, log, output });
  } catch (error) {
    // Unexpected: the stack goes to the local log, one line to the agent.
    log.error(errorMessage(error));
    if (error instanceof Error && error.stack !== undefined) log.debug(error.stack);
    return 1;
  } finally {
    await log.close();
  }
}

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
void main()
  .catch((error: unknown) => {
    process.stderr.write(`turku-storage-ping: ${errorMessage(error)}\n`);
    return 1;
  })
  // A paused stdin must not keep a finished session open.
  .then((exitCode) => process.exit(exitCode));
