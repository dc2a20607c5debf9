#!/usr/bin/env node
import { printCliOutput } from '../common/closed-stdout.js';
import { errorLine } from '../common/errors.js';
import { PROGRAM } from './admin/cli.js';
import { runStorageAdmin } from './admin/run.js';

/** `turku-storage-admin`: list, verify and expire the snapshots on this storage (admin/cli.ts). */

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
void runStorageAdmin(process.argv.slice(2)).then(printCliOutput, (error: unknown) => {
  process.stderr.write(`${errorLine(PROGRAM, error)}\n`);
  process.exitCode = 1;
});
