#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { printCliOutput } from '../common/closed-stdout.js';
import { describeExit, runProcess, startProblem } from '../common/process.js';
import { runTimersCli } from './cli.js';

// This file is dist/lib/timers/main.js once built: dist/ holds the programs the jobs run. From the
// script's path, not import.meta: the packed program is a CommonJS bundle (and passes --bin-dir).
const distDir = resolve(dirname(realpathSync(process.argv[1] ?? '.')), '../..');

async function main(): Promise<void> {
  const result = await runTimersCli(process.argv.slice(2), {
    execPath: process.execPath,
    distDir,
    hostRoot: '/',
    systemctl: async (args) => {
      const run = await runProcess(['systemctl', ...args]);
      if (run.exitCode !== 0) {
        const detail =
          run.stderr.split('\n').find((line) => line.trim() !== '') ??
          (run.startError === undefined ? describeExit(run) : `cannot run systemctl: ${startProblem(run.startError)}`);
        throw new Error(`systemctl ${args.join(' ')} failed: ${detail.trim()}`);
      }
    },
  });
  printCliOutput(result);
}

void main();
