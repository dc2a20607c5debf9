#!/usr/bin/env node
import { errorMessage } from '../common/errors.js';
import { formatTunnelLines } from './tunnel-owner-check.js';
import { tunnelsOfAncestors } from './tunnel-owner.js';

/**
 * `turku-storage-tunnel-owner`: prints, one per line, the loopback ports whose listening sockets
 * this program's ancestors hold (see formatTunnelLines). An unprivileged ping account runs it as
 * root through sudo (the storage charm's sudoers rule allows exactly this command without
 * arguments), because it may not read the descriptors of its own sshd session (docs/datapath.md,
 * "The storage's sshd"). It looks only at its own ancestry, so it tells the caller about its own
 * session and nothing else.
 */

const USAGE = `Usage: turku-storage-tunnel-owner

Prints the loopback TCP ports listened on by this program's ancestor processes (the sshd
session of the login that runs it), one per line: PORT when it listens on 127.0.0.1,
[::1]:PORT when on ::1 only. Takes no arguments.
`;

async function main(args: readonly string[]): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  process.stdout.write(formatTunnelLines(await tunnelsOfAncestors()));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`turku-storage-tunnel-owner: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  },
);
