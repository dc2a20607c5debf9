import { runProcess, type ProcessResult } from '../common/process.js';
import { tunnelsOfAncestors, type HeldTunnel, type TunnelHost } from './tunnel-owner.js';

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
  /** The tunnels this process's ancestors listen on, read directly (needs root). */
  readonly ownTunnels: () => Promise<HeldTunnel[]>;
  readonly run: (argv: readonly string[]) => Promise<ProcessResult>;
}

const REAL_PROBE: TunnelOwnerProbe = {
  uid: process.geteuid?.(),
  ownTunnels: () => tunnelsOfAncestors(),
  run: (argv) => runProcess(argv, { timeoutMs: HELPER_TIMEOUT_MS }),
};

/**
 * The helper's output: one tunnel per line, `<port>` for one on 127.0.0.1 and `[::1]:<port>` for
 * one its session could bind on ::1 only, nothing else. A helper older than the `[::1]` lines
 * prints only the first kind, read the same; an older ping reads this helper's output the same
 * but for a `[::1]` line, which only a tunnel it could not use anyway gives.
 */
export function formatTunnelLines(tunnels: readonly HeldTunnel[]): string {
  return tunnels.map(({ port, host }) => (host === '::1' ? `[::1]:${port}\n` : `${port}\n`)).join('');
}

/** The helper's output read back (see formatTunnelLines); undefined for anything else. */
export function parseTunnelLines(stdout: string): HeldTunnel[] | undefined {
  const tunnels: HeldTunnel[] = [];
  for (const line of stdout.split('\n').filter((text) => text !== '')) {
    const match = /^(\[::1\]:)?([1-9][0-9]{0,4})$/.exec(line);
    const port = Number(match?.[2]);
    if (match === null || port > 65_535) return undefined;
    tunnels.push({ port, host: match[1] === undefined ? '127.0.0.1' : '::1' });
  }
  return tunnels;
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

/** Where to pull through a tunnel this session owns, or why it may not be used. */
export type TunnelVerdict = { readonly host: TunnelHost } | { readonly problem: string };

/**
 * The loopback this session's ancestors hold the listener for `port` on; otherwise the summary to
 * report for every source: not owned, or why it could not be checked (then nothing is pulled
 * either: an unchecked tunnel is not trusted).
 */
export async function checkTunnelOwner(
  port: number,
  command: readonly string[],
  probe: TunnelOwnerProbe = REAL_PROBE,
): Promise<TunnelVerdict> {
  const notOwned = { problem: `Tunnel on port ${port} is not owned by this session` };
  const found = (tunnels: readonly HeldTunnel[]): TunnelVerdict => {
    const held = tunnels.find((tunnel) => tunnel.port === port);
    return held === undefined ? notOwned : { host: held.host };
  };
  if (probe.uid === 0) return found(await probe.ownTunnels());
  const result = await probe.run(command);
  const tunnels = result.exitCode === 0 ? parseTunnelLines(result.stdout) : undefined;
  if (tunnels === undefined) {
    const why = result.exitCode === 0 ? `${command.join(' ')}: unexpected output` : helperFailure(command, result);
    return { problem: `Cannot check who owns the tunnel on port ${port}: ${why}` };
  }
  return found(tunnels);
}
