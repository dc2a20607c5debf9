#!/usr/bin/env node
import { startApi, openDatabase } from './app.js';
import { runApiCli } from './cli.js';
import { contextFromSettings } from './context.js';
import { createLogger } from './logger.js';
import { loadSettings } from './settings.js';

/** `turku-api`: `serve` runs until SIGTERM/SIGINT; every other command is an admin command. */

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'serve') {
    const configAt = argv.indexOf('--config');
    const file = configAt >= 0 ? argv[configAt + 1] : undefined;
    if (file === undefined || argv.length !== 3) {
      process.stderr.write('turku-api: usage: turku-api serve --config FILE\n');
      process.exit(2);
    }
    let api;
    try {
      api = await startApi(await loadSettings(file));
    } catch (error) {
      process.stderr.write(`turku-api: ${(error as Error).message}\n`);
      process.exit(1);
    }
    const running = api;
    const stop = () => {
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } else {
    const result = await runApiCli(argv, {
      loadSettings,
      async openContext(settings) {
        const db = await openDatabase(settings);
        return { ctx: contextFromSettings(db, settings, createLogger(settings.log_level)), close: () => db.close() };
      },
    });
    for (const line of result.stdout) process.stdout.write(`${line}\n`);
    for (const line of result.stderr) process.stderr.write(`${line}\n`);
    process.exitCode = result.exitCode;
  }
}

void main(process.argv.slice(2));
