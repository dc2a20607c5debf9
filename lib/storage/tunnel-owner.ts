import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * [NEW] Tunnel ownership check (docs/datapath.md, "The storage's sshd"): the socket listening on
 * 127.0.0.1:<port> must be held by one of this process's ancestors, that is by the sshd session of
 * the login that started us. Otherwise another machine could have squatted the port and would serve
 * us its data under this machine's name. Linux only (/proc).
 */

const LISTEN = '0A';

/** Inodes of sockets listening on 127.0.0.1:<port> in /proc/net/tcp. */
export function listeningInodes(procNetTcp: string, port: number): string[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes: string[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields[1] === local && fields[3] === LISTEN && fields[9] !== undefined) inodes.push(fields[9]);
  }
  return inodes;
}

/** Parent PID from the text of /proc/<pid>/stat (the command name may contain spaces). */
export function parentPid(statText: string): number {
  const afterName = statText.slice(statText.lastIndexOf(')') + 2);
  return Number(afterName.split(' ')[1]);
}

export async function tunnelOwnedByAncestor(port: number, pid = process.pid): Promise<boolean> {
  const inodes = new Set(listeningInodes(await readFile('/proc/net/tcp', 'utf8'), port));
  if (inodes.size === 0) return false;
  for (let current = parentPid(await readFile(`/proc/${pid}/stat`, 'utf8')); current > 1;) {
    if (await holdsSocket(current, inodes)) return true;
    current = parentPid(await readFile(`/proc/${current}/stat`, 'utf8'));
  }
  return false;
}

async function holdsSocket(pid: number, inodes: ReadonlySet<string>): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match && inodes.has(match[1]!)) return true;
  }
  return false;
}
