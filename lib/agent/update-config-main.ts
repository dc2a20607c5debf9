#!/usr/bin/env node
import { hostname } from 'node:os';

import { runUpdateConfig } from './update-config.js';

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
void runUpdateConfig(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  hostname,
  signal: new AbortController().signal,
}).then((code) => {
  process.exitCode = code;
});
