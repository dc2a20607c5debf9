#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';

import { printCliOutput } from '../common/closed-stdout.js';
import { runPolicyCli } from './cli.js';

const result = await runPolicyCli(process.argv.slice(2), {
  readText: (path) => (path === '-' ? text(process.stdin) : readFile(path, 'utf8')),
  now: () => new Date(),
});
printCliOutput(result);
