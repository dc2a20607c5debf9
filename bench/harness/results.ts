import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { say } from './lifecycle.js';

/**
 * bench/results/<name>.json, committed: the README's figures cite them, so each benchmark keeps its
 * file's shape. Every file ends with the targets checked, each PASS or FAIL.
 */

/** bench/results/ in the repository (this file runs from dist/bench/harness/). */
const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

export interface Target {
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
}

/** Writes `output` as bench/results/`name` (pretty JSON, one trailing newline). */
export async function writeResults(name: string, output: unknown): Promise<void> {
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, name), `${JSON.stringify(output, null, 2)}\n`);
}

export function sayTargets(targets: readonly Target[]): void {
  for (const target of targets) say(`${target.pass ? 'PASS' : 'FAIL'}  ${target.target}: ${target.measured}`);
}
