import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * [NEW] Tunnel ownership check (docs/datapath.md, "The storage's sshd"): the socket listening on
 * 127.0.0.1:<port> (or [::1]:<port>, see TunnelHost) must be held by one of this process's
 * ancestors, that is by the sshd session of the login that started us. Otherwise another machine
 * could have squatted the port and would serve us its data under this machine's name. Linux only
 * (/proc).
 *
 * Reading an ancestor's /proc/<pid>/fd needs ptrace access to it: a root ping has it, an
 * unprivileged ping account has none to sshd's session process (it changed its uid, so the kernel
 * made it non-dumpable). Such an account asks the root-run `turku-storage-tunnel-owner` through
 * sudo instead (lib/storage/tunnel-owner-check.ts).
 */

const LISTEN = '0A';

/**
 * Where a session's tunnel can be reached on the storage. sshd binds a forward with no address on
 * both loopbacks, and calls it a success when one of them binds: 127.0.0.1:<port> fails when that
 * port is already the source port of one of the storage's own connections (an rsync pulling
 * through another tunnel takes its source port from the same range as the agents' tunnel ports),
 * and then the tunnel is on [::1]:<port> only.
 */
export type TunnelHost = '127.0.0.1' | '::1';

export interface LoopbackListener {
  readonly port: number;
  readonly inode: string;
}

/** A tunnel a session holds: its port and the loopback to reach it on (IPv4 when it has both). */
export interface HeldTunnel {
  readonly port: number;
  readonly host: TunnelHost;
}

/** Listening sockets in a /proc/net/tcp or tcp6 text whose local address is `address` (hex). */
function listenersOn(procNetTcp: string, address: string): LoopbackListener[] {
  const listeners: LoopbackListener[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const [local, port] = (fields[1] ?? '').split(':');
    if (local === address && port !== undefined && /^[0-9A-F]{4}$/.test(port) && fields[3] === LISTEN) {
      if (fields[9] !== undefined) listeners.push({ port: Number.parseInt(port, 16), inode: fields[9] });
    }
  }
  return listeners;
}

/** Sockets listening on 127.0.0.1 in /proc/net/tcp, with their ports and inodes. */
export function loopbackListeners(procNetTcp: string): LoopbackListener[] {
  return listenersOn(procNetTcp, '0100007F');
}

/** Sockets listening on ::1 in /proc/net/tcp6 (the address as four host-order words). */
export function loopback6Listeners(procNetTcp6: string): LoopbackListener[] {
  return listenersOn(procNetTcp6, '00000000000000000000000001000000');
}

/** Inodes of sockets listening on 127.0.0.1:<port> in /proc/net/tcp. */
export function listeningInodes(procNetTcp: string, port: number): string[] {
  return loopbackListeners(procNetTcp)
    .filter((listener) => listener.port === port)
    .map((listener) => listener.inode);
}

/** Parent PID from the text of /proc/<pid>/stat (the command name may contain spaces). */
export function parentPid(statText: string): number {
  const afterName = statText.slice(statText.lastIndexOf(')') + 2);
  return Number(afterName.split(' ')[1]);
}

/**
 * The loopback tunnels whose listening sockets the ancestors of `pid` hold, by ascending port:
 * on 127.0.0.1 where they hold it there, else on ::1. An ancestor whose descriptors cannot be
 * read counts as holding none.
 */
export async function tunnelsOfAncestors(pid = process.pid): Promise<HeldTunnel[]> {
  const v4 = loopbackListeners(await readFile('/proc/net/tcp', 'utf8'));
  const v6 = loopback6Listeners(await readFile('/proc/net/tcp6', 'utf8').catch(() => ''));
  if (v4.length === 0 && v6.length === 0) return [];
  const held = new Set<string>();
  for (let current = parentPid(await readFile(`/proc/${pid}/stat`, 'utf8')); current > 1;) {
    for (const inode of await socketInodes(current)) held.add(inode);
    current = parentPid(await readFile(`/proc/${current}/stat`, 'utf8'));
  }
  const tunnels = new Map<number, TunnelHost>();
  for (const listener of v6) if (held.has(listener.inode)) tunnels.set(listener.port, '::1');
  for (const listener of v4) if (held.has(listener.inode)) tunnels.set(listener.port, '127.0.0.1');
  return [...tunnels].map(([port, host]) => ({ port, host })).sort((a, b) => a.port - b.port);
}

export async function tunnelOwnedByAncestor(port: number, pid = process.pid): Promise<boolean> {
  return (await tunnelsOfAncestors(pid)).some((tunnel) => tunnel.port === port);
}

async function socketInodes(pid: number): Promise<string[]> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.push(match[1]!);
  }
  return inodes;
}
