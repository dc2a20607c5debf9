import { readdir, readFile } from 'node:fs/promises';

/** A /proc stat file's nice value: field 19, the state (after the command's parenthesis) being field 3. */
export const niceOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

/** A /proc stat file's scheduling policy: field 41 (0 SCHED_OTHER, 5 SCHED_IDLE). */
export const policyOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);

/** SCHED_IDLE's number in a stat file's policy field. */
export const SCHED_IDLE = 5;

/** The nice values of this process's threads (one that ends while they are read is passed over). */
export async function threadNices(): Promise<number[]> {
  return (await threadStats()).map(niceOf);
}

/** The nice value and scheduling policy of each of this process's threads. */
export async function threadSchedules(): Promise<{ nice: number; policy: number }[]> {
  return (await threadStats()).map((stat) => ({ nice: niceOf(stat), policy: policyOf(stat) }));
}

async function threadStats(): Promise<string[]> {
  const stats = [];
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => null);
    if (stat !== null) stats.push(stat);
  }
  return stats;
}
