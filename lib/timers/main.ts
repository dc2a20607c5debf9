#!/usr/bin/env node
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

import { runTimersCli } from './cli.js';

// This file is dist/lib/timers/main.js once built: dist/ holds the programs the jobs run.
const distDir = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

const result = await runTimersCli(process.argv.slice(2), {
  execPath: process.execPath,
  distDir,
  hostRoot: '/',
  systemctl: async (args) => {
    const run = await execa('systemctl', args, { reject: false });
    if (run.failed) {
      const detail = run.stderr.split('\n').find((line) => line.trim() !== '') ?? run.shortMessage ?? 'failed';
      throw new Error(`systemctl ${args.join(' ')} failed: ${detail.trim()}`);
    }
  },
});
for (const line of result.stdout) process.stdout.write(`${line}\n`);
for (const line of result.stderr) process.stderr.write(`${line}\n`);
process.exitCode = result.exitCode;
