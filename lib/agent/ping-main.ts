#!/usr/bin/env node
// First: it configures zod before any schema is built.
import '../common/one-shot-zod.js';

import { hostname } from 'node:os';

import { runAgentPing } from './ping.js';

// SIGINT/SIGTERM end the session in order (stdin closed, daemon stopped, files removed); a
// second one exits at once, and the exit hook still stops helpers and removes private files.
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupt.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
  interrupt.abort(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// No top-level await: the packed program is a CommonJS bundle, which Node starts faster.
void runAgentPing(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  hostname,
  signal: interrupt.signal,
  isTty: process.stdout.isTTY,
}).then((code) => {
  process.exitCode = code;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
});
