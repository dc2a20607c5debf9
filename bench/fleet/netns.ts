import { randomInt } from 'node:crypto';

import { atExit } from '../harness/lifecycle.js';
import { isAlive, killAll, mustRun, processTree, quietSync } from '../harness/processes.js';
import { NO_INGRESS_RULES } from '../../tests/support/netns.js';

/**
 * The fleet benchmark's agent machines: N network namespaces behind one bridge in the root
 * namespace, which holds the storage's address (`10.X.Y.1/24`); agent k is `10.X.Y.(k+2)`. Each
 * has the same no-ingress firewall as the data-path benchmark's agent (tests/support/netns.ts):
 * it connects out, nothing connects in. Removed at exit; those of killed runs are swept at the
 * next start (their names carry the benchmark's pid).
 */

const PREFIX = 'turku-fleet-';
/** Set-up commands run at once (each is a short `ip` or `iptables-restore`). */
const PARALLEL = 8;
export const MAX_AGENTS = 250;

export interface Fleet {
  readonly bridge: string;
  readonly hostAddress: string;
  /** The namespaces' names, agent 0 first. */
  readonly namespaces: readonly string[];
  remove(): void;
}

const bridgeName = (pid: number) => `tfb${pid}`;
const hostSide = (pid: number, index: number) => `tf${pid}a${index}`;
const namespaceName = (pid: number, index: number) => `${PREFIX}${pid}-${index}`;

function removeSync(pid: number, namespaces: readonly string[]): void {
  for (const name of namespaces) {
    const pids = quietSync(['ip', 'netns', 'pids', name]).split(/\s+/).filter(Boolean).map(Number);
    for (const inside of pids) killAll(processTree(inside));
    quietSync(['ip', 'netns', 'del', name]);
  }
  quietSync(['ip', 'link', 'del', bridgeName(pid)]);
}

/** Namespaces and bridges of fleet runs whose process is gone. */
export function sweepFleets(): void {
  const stale = new Map<number, string[]>();
  for (const line of quietSync(['ip', 'netns', 'list']).split('\n')) {
    const match = new RegExp(`^(${PREFIX}(\\d+)-\\d+)`).exec(line);
    if (match === null || isAlive(Number(match[2]))) continue;
    stale.set(Number(match[2]), [...(stale.get(Number(match[2])) ?? []), match[1]!]);
  }
  for (const line of quietSync(['ip', '-o', 'link', 'show', 'type', 'bridge']).split('\n')) {
    const match = /^\d+: tfb(\d+)[:@]/.exec(line);
    if (match !== null && !isAlive(Number(match[1])) && !stale.has(Number(match[1]))) stale.set(Number(match[1]), []);
  }
  for (const [pid, namespaces] of stale) removeSync(pid, namespaces);
}

/** A /24 in 10.64-254.x that no route or address of the root namespace touches. */
function freeNetwork(): string {
  const used = quietSync(['ip', '-4', 'route', 'show', 'table', 'all']) + quietSync(['ip', '-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const prefix = `10.${randomInt(64, 255)}.${randomInt(0, 256)}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('No free 10.x.y.0/24 network for the fleet');
}

/** Runs `job` on every item, `parallel` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  job: (item: T) => Promise<unknown>,
  parallel = PARALLEL,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await job(items[next++]!);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

export async function createFleet(count: number): Promise<Fleet> {
  if (count > MAX_AGENTS) throw new Error(`At most ${MAX_AGENTS} agents (one /24)`);
  sweepFleets();
  const pid = process.pid;
  const network = freeNetwork();
  const hostAddress = `${network}.1`;
  const bridge = bridgeName(pid);
  const indexes = Array.from({ length: count }, (_, index) => index);
  const namespaces = indexes.map((index) => namespaceName(pid, index));
  const remove = () => removeSync(pid, namespaces);
  atExit(remove);
  // The root namespace's part in one `ip -batch`: the bridge, then each namespace and its veth.
  const rootCommands = [
    `link add ${bridge} type bridge`,
    `addr add ${hostAddress}/24 dev ${bridge}`,
    `link set ${bridge} up`,
    ...indexes.flatMap((index) => [
      `netns add ${namespaces[index]}`,
      `link add ${hostSide(pid, index)} type veth peer name eth0 netns ${namespaces[index]}`,
      `link set ${hostSide(pid, index)} master ${bridge} up`,
    ]),
  ];
  await mustRun(['ip', '-batch', '-'], { input: `${rootCommands.join('\n')}\n` });
  await inBatches(indexes, async (index) => {
    const name = namespaces[index]!;
    const inside = [
      `addr add ${network}.${index + 2}/24 dev eth0`,
      'link set eth0 up',
      'link set lo up',
      `route add default via ${hostAddress}`,
    ];
    await mustRun(['ip', '-n', name, '-batch', '-'], { input: `${inside.join('\n')}\n` });
    for (const restore of ['iptables-restore', 'ip6tables-restore']) {
      await mustRun([restore, '-w', '5'], { netns: name, input: NO_INGRESS_RULES });
    }
  });
  return { bridge, hostAddress, namespaces, remove };
}
