import { runProcess, type ProcessResult } from '../common/process.js';
import { loopbackPortsOfAncestors } from './tunnel-owner.js';

/**
 * [NEW] Whether the tunnel on a port belongs to this session (docs/datapath.md, "The storage's
 * sshd"), the way this process can find out. As root it reads its ancestors' descriptors itself.
 * Any other account cannot read those of its sshd session (a process that changed its uid is not
 * dumpable, so its /proc/<pid>/fd is root's), and asks `tunnel_owner_command` instead: by default
 * `turku-storage-tunnel-owner` through `sudo -n`, which lists the ports its own ancestors (sudo,
 * this process, the sshd session) listen on.
 */

/** How long the helper may take; it reads a few /proc entries. */
const HELPER_TIMEOUT_MS = 20_000;

export interface TunnelOwnerProbe {
  /** This process's effective uid (undefined off POSIX). */
  readonly uid: number | undefined;
  /** The ports listened on by this process's ancestors, read directly (needs root). */
  readonly ownPorts: () => Promise<number[]>;
  readonly run: (argv: readonly string[]) => Promise<ProcessResult>;
}

const REAL_PROBE: TunnelOwnerProbe = {
  uid: process.geteuid?.(),
  ownPorts: () => loopbackPortsOfAncestors(),
  run: (argv) => runProcess(argv, { timeoutMs: HELPER_TIMEOUT_MS }),
};

/** The helper's output: one port per line, nothing else (empty when no ancestor listens). */
export function parsePortLines(stdout: string): number[] | undefined {
  const lines = stdout.split('\n').filter((line) => line !== '');
  const ports = lines.map((line) => (/^[1-9][0-9]{0,4}$/.test(line) ? Number(line) : NaN));
  return ports.every((port) => port <= 65_535) ? ports : undefined;
}

/** The helper's failure as one line: its last line of stderr, else how it ended. */
export function helperFailure(command: readonly string[], result: ProcessResult): string {
  const name = command.join(' ');
  if (result.startError !== undefined) return `${name}: ${result.startError.message}`;
  if (result.timedOut) return `${name}: no answer within ${HELPER_TIMEOUT_MS / 1000} s`;
  const said = result.stderr.trim().split('\n').at(-1)?.trim();
  if (said) return `${name}: ${said}`;
  return `${name}: ${result.exitCode === null ? `killed by ${result.signal}` : `exit status ${result.exitCode}`}`;
}

/**
 * undefined when this session's ancestors hold the listener on 127.0.0.1:<port>; otherwise the
 * summary to report for every source: not owned, or why it could not be checked (then nothing
 * is pulled either: an unchecked tunnel is not trusted).
 */
export async function tunnelOwnerProblem(
  port: number,
  command: readonly string[],
  probe: TunnelOwnerProbe = REAL_PROBE,
): Promise<string | undefined> {
  const notOwned = `Tunnel on port ${port} is not owned by this session`;
  if (probe.uid === 0) return (await probe.ownPorts()).includes(port) ? undefined : notOwned;
  const result = await probe.run(command);
  const ports = result.exitCode === 0 ? parsePortLines(result.stdout) : undefined;
  if (ports === undefined) {
    const why = result.exitCode === 0 ? `${command.join(' ')}: unexpected output` : helperFailure(command, result);
    return `Cannot check who owns the tunnel on port ${port}: ${why}`;
  }
  return ports.includes(port) ? undefined : notOwned;
}
