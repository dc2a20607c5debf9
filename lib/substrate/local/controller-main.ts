#!/usr/bin/env node
// The local controller process: `controller-main.js <model dir>` serves the model in that
// directory (created by LocalController.createModel) on its socket until asked to shut down.
// Started detached by `turku-local bootstrap` and LocalDriver (controller-client.ts).
import { rm, writeFile } from 'node:fs/promises';

import { LocalController } from './controller.js';
import { controllerFiles } from './controller-protocol.js';
import { serveController } from './controller-server.js';

async function main(modelDir: string | undefined): Promise<void> {
  if (modelDir === undefined) throw new Error('usage: controller-main.js <model dir>');
  const files = controllerFiles(modelDir);
  const controller = await LocalController.start(modelDir);
  const server = await serveController(controller, files.socket);
  await writeFile(files.pid, `${process.pid}\n`, { mode: 0o600 });
  const stop = async () => {
    await server.close();
    await controller.close();
    await rm(files.pid, { force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  await server.shutdownRequested;
  await stop();
}

main(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(
    `turku-local controller: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
