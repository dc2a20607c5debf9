#!/usr/bin/env node
import { printCliOutput } from '../common/closed-stdout.js';
import { startApi, openDatabase } from './app.js';
import { isBcryptWorker, serveBcrypt, useBcryptWorker } from './bcrypt-worker.js';
import { runApiCli, serveArguments } from './cli.js';
import { contextFromSettings } from './context.js';
import { createLogger } from './logger.js';
import { loadSettings } from './settings.js';

/** `turku-api`: `serve` runs until SIGTERM/SIGINT; every other command is an admin command. */

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'serve') {
    const serve = serveArguments(argv.slice(1));
    if ('exitCode' in serve) {
      printCliOutput(serve);
      return;
    }
    const file = serve.config;
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
    printCliOutput(result);
  }
}

// The same program serves as the API's bcrypt worker thread (bcrypt-worker.ts).
if (isBcryptWorker()) {
  serveBcrypt();
} else {
  if (process.argv[1] !== undefined) useBcryptWorker(process.argv[1]);
  void main(process.argv.slice(2));
}
