import { readdir, readFile } from 'node:fs/promises';

/** A /proc stat file's nice value: field 19, the state (after the command's parenthesis) being field 3. */
export const niceOf = (stat: string): number => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

/** The nice values of this process's threads (one that ends while they are read is passed over). */
export async function threadNices(): Promise<number[]> {
  const nices = [];
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => null);
    if (stat !== null) nices.push(niceOf(stat));
  }
  return nices;
}
