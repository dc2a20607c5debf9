import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * [NEW] Tunnel ownership check (docs/datapath.md, "The storage's sshd"): the socket listening on
 * 127.0.0.1:<port> must be held by one of this process's ancestors, that is by the sshd session of
 * the login that started us. Otherwise another machine could have squatted the port and would serve
 * us its data under this machine's name. Linux only (/proc).
 *
 * Reading an ancestor's /proc/<pid>/fd needs ptrace access to it: a root ping has it, an
 * unprivileged ping account has none to sshd's session process (it changed its uid, so the kernel
 * made it non-dumpable). Such an account asks the root-run `turku-storage-tunnel-owner` through
 * sudo instead (lib/storage/tunnel-owner-check.ts).
 */

const LISTEN = '0A';

export interface LoopbackListener {
  readonly port: number;
  readonly inode: string;
}

/** Sockets listening on 127.0.0.1 in /proc/net/tcp, with their ports and inodes. */
export function loopbackListeners(procNetTcp: string): LoopbackListener[] {
  const listeners: LoopbackListener[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const match = /^0100007F:([0-9A-F]{4})$/.exec(fields[1] ?? '');
    if (match && fields[3] === LISTEN && fields[9] !== undefined) {
      listeners.push({ port: Number.parseInt(match[1]!, 16), inode: fields[9] });
    }
  }
  return listeners;
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
 * The loopback ports whose listening sockets the ancestors of `pid` hold, ascending. An ancestor
 * whose descriptors cannot be read counts as holding none.
 */
export async function loopbackPortsOfAncestors(pid = process.pid): Promise<number[]> {
  const listeners = loopbackListeners(await readFile('/proc/net/tcp', 'utf8'));
  if (listeners.length === 0) return [];
  const held = new Set<string>();
  for (let current = parentPid(await readFile(`/proc/${pid}/stat`, 'utf8')); current > 1;) {
    for (const inode of await socketInodes(current)) held.add(inode);
    current = parentPid(await readFile(`/proc/${current}/stat`, 'utf8'));
  }
  const ports = listeners.filter((listener) => held.has(listener.inode)).map((listener) => listener.port);
  return [...new Set(ports)].sort((a, b) => a - b);
}

export async function tunnelOwnedByAncestor(port: number, pid = process.pid): Promise<boolean> {
  return (await loopbackPortsOfAncestors(pid)).includes(port);
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
