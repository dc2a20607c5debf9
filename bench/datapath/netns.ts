import { randomInt } from 'node:crypto';

import { atExit } from '../harness/lifecycle.js';
import { NO_INGRESS_RULES } from '../../tests/support/netns.js';
import { isAlive, killAll, mustRun, processTree, quietSync } from '../harness/processes.js';

/**
 * The agent machine of the data-path benchmark: a network namespace joined to the host by a veth
 * pair on a free /30, whose firewall drops every inbound connection (as an agent behind NAT).
 * Removed at exit; the namespaces of killed runs are swept at the next start.
 */

const NETNS_PREFIX = 'turku-bench-';

export interface Namespace {
  readonly name: string;
  readonly hostAddress: string;
  readonly hostInterface: string;
}

export function removeNamespaceSync(ns: Namespace): void {
  const pids = quietSync(['ip', 'netns', 'pids', ns.name]).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) killAll(processTree(pid));
  quietSync(['ip', 'netns', 'del', ns.name]);
  quietSync(['ip', 'link', 'del', ns.hostInterface]);
}

/** Removes the namespaces (and their veth links) of benchmark runs whose process is gone (killed runs). */
export function sweepNamespaces(): void {
  for (const line of quietSync(['ip', 'netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = new RegExp(`^${NETNS_PREFIX}(\\d+)$`).exec(name);
    if (match !== null && !isAlive(Number(match[1]))) {
      removeNamespaceSync({ name, hostAddress: '', hostInterface: `tb${match[1]}h` });
    }
  }
}

/** A /30 in 10.64-254.x.x that no route or address of the root namespace overlaps (a /24 check). */
function freeSubnet(): { hostAddress: string; nsAddress: string } {
  const used = quietSync(['ip', '-4', 'route', 'show', 'table', 'all']) + quietSync(['ip', '-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const x = randomInt(64, 255);
    const y = randomInt(0, 256);
    if (!used.includes(`10.${x}.${y}.`)) {
      return { hostAddress: `10.${x}.${y}.1`, nsAddress: `10.${x}.${y}.2` };
    }
  }
  throw new Error('No free 10.x.y.0/30 subnet for the agent namespace');
}

export async function createNamespace(): Promise<Namespace> {
  const { hostAddress, nsAddress } = freeSubnet();
  const ns: Namespace = { name: `${NETNS_PREFIX}${process.pid}`, hostAddress, hostInterface: `tb${process.pid}h` };
  const nsInterface = `tb${process.pid}n`;
  atExit(() => removeNamespaceSync(ns));
  await mustRun(['ip', 'netns', 'add', ns.name]);
  await mustRun(['ip', 'link', 'add', ns.hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', ns.name]);
  await mustRun(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', ns.hostInterface]);
  await mustRun(['ip', 'link', 'set', ns.hostInterface, 'up']);
  await mustRun(['ip', '-n', ns.name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsInterface]);
  await mustRun(['ip', '-n', ns.name, 'link', 'set', nsInterface, 'up']);
  await mustRun(['ip', '-n', ns.name, 'link', 'set', 'lo', 'up']);
  await mustRun(['ip', '-n', ns.name, 'route', 'add', 'default', 'via', hostAddress]);
  for (const restore of ['iptables-restore', 'ip6tables-restore']) {
    await mustRun([restore, '-w', '5'], { netns: ns.name, input: NO_INGRESS_RULES });
  }
  return ns;
}
