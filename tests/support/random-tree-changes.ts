import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { CloneChanges } from '../../lib/storage/manifest/patch.js';

/**
 * Seeded random trees of odd names, random changes to them, and what rsync's dry run would list
 * for those changes: for the tests of an incremental's manifest made from its base's
 * (lib/storage/manifest/patch.test.ts, delta.test.ts).
 */

/** Names that sort around each other and around `/`, with escapes and characters beyond the BMP. */
const PARTS = ['a', 'a-', 'a.', 'a b', 'ab', 'A', 'z', 't\tb', 'n\nl', 'b\\s', '\u00e9', '\u{1f600}', '0', '~'];
const OLD = new Date('2021-03-03T03:03:03Z');

export async function oldFile(root: string, path: string, content: string): Promise<void> {
  await writeFile(join(root, path), content);
  await utimes(join(root, path), OLD, OLD);
}

export interface RandomTree {
  readonly dirs: readonly string[];
  readonly files: readonly string[];
}

/** About 40 directories and 150 files under `root`. */
export async function writeRandomTree(root: string, random: () => number): Promise<RandomTree> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const dirs = [''];
  for (let i = 0; i < 40; i++) {
    const dir = [pick(dirs), pick(PARTS)].filter((part) => part !== '').join('/');
    if (dirs.includes(dir)) continue;
    await mkdir(join(root, dir), { recursive: true });
    dirs.push(dir);
  }
  const files: string[] = [];
  for (let i = 0; i < 150; i++) {
    const path = [pick(dirs), `${pick(PARTS)}${i % 3 === 0 ? '' : i}`].filter((part) => part !== '').join('/');
    if (dirs.includes(path) || files.includes(path)) continue;
    await oldFile(root, path, `old ${path}`);
    files.push(path);
  }
  return { dirs, files };
}

/** Files rewritten, removed or made directories; directories removed, made files or given a file (`tag` in new names). */
export async function changeRandomly(root: string, tree: RandomTree, random: () => number, tag: string): Promise<void> {
  // Each step may find its path gone or under a file by now (an earlier step): then it does nothing.
  const attempt = (step: Promise<unknown>) => step.catch(() => undefined);
  for (const path of tree.files) {
    const roll = random();
    if (roll < 0.05) await attempt(oldFile(root, path, `new ${path} ${tag}`));
    else if (roll < 0.08) await attempt(rm(join(root, path)));
    else if (roll < 0.1) {
      await attempt(rm(join(root, path)));
      await attempt(mkdir(join(root, path))); // a file becomes a directory
    }
  }
  for (const dir of tree.dirs.slice(1)) {
    const roll = random();
    if (roll < 0.08) await attempt(rm(join(root, dir), { recursive: true }));
    else if (roll < 0.12) {
      await attempt(rm(join(root, dir), { recursive: true }));
      await attempt(writeFile(join(root, dir), 'a directory became a file'));
    } else if (roll < 0.16) await attempt(oldFile(root, `${dir}/added ${tag}`, 'new'));
  }
}

/**
 * What rsync itemizes between two manifests' lines (escaped path first): every entry whose line is
 * new or changed, the directories above it, and the deleted ones' tops.
 */
export function itemized(before: readonly string[], after: readonly string[]): CloneChanges {
  const byPath = (lines: readonly string[]) => new Map(lines.map((line) => [line.split('\t')[0]!, line]));
  const was = byPath(before);
  const is = byPath(after);
  const touched = new Set<string>();
  const deleted: string[] = [];
  for (const [path, line] of is) {
    if (was.get(path) === line) continue;
    for (let p = unescaped(path); p !== ''; p = parentOf(p)) touched.add(p);
  }
  for (const path of was.keys()) {
    if (is.has(path)) continue;
    const plain = unescaped(path);
    if (is.has(parentOf(path)) || parentOf(plain) === '') {
      deleted.push(plain);
      for (let p = parentOf(plain); p !== ''; p = parentOf(p)) touched.add(p);
    }
  }
  return { touched: [...touched], deleted };
}

export function unescaped(path: string): string {
  return path.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r' })[c] ?? c);
}

function parentOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf('/')));
}
