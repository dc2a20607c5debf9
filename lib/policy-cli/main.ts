#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';

import { exitQuietlyWhenStdoutCloses } from '../common/closed-stdout.js';
import { runPolicyCli } from './cli.js';

exitQuietlyWhenStdoutCloses();

const result = await runPolicyCli(process.argv.slice(2), {
  readText: (path) => (path === '-' ? text(process.stdin) : readFile(path, 'utf8')),
  now: () => new Date(),
});
process.exitCode = result.exitCode;
if (result.stdout.length > 0) process.stdout.write(`${result.stdout.join('\n')}\n`);
for (const line of result.stderr) process.stderr.write(`${line}\n`);
