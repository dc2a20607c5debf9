#!/usr/bin/env node
// `turku-local` (npx turku-local after npm run build): the local substrate's Juju-shaped CLI (cli.ts).
import { exitQuietlyWhenStdoutCloses } from '../../common/closed-stdout.js';
import { Cli } from './cli.js';

exitQuietlyWhenStdoutCloses();
const cli = new Cli({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdoutIsTty: process.stdout.isTTY,
});
const argv = process.argv.slice(2);
const needsRoot = argv[0] !== undefined && !['help', '--help', '-h'].includes(argv[0]);
const run =
  needsRoot && process.getuid?.() !== 0
    ? Promise.reject(new Error('turku-local needs root (network namespaces, the controller socket is root-only)'))
    : cli.run(argv);
run.then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    // One line (the usage text excepted), as Juju's `ERROR ...`.
    process.stderr.write(message.startsWith('Usage:') ? `${message}\n` : `ERROR ${message.split('\n')[0] ?? ''}\n`);
    process.exit(message.startsWith('Usage:') ? 0 : 1);
  },
);
