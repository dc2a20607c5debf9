import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as z from 'zod';

import { writeFileAtomic } from '../../common/atomic-write.js';
import { isErrno } from '../../common/errors.js';
import type { SampleState } from './plan.js';

/**
 * The periodic sample verify's memory (docs/datapath.md, "The periodic sample verify"):
 * `<var_dir>/sample-verify.json`, when each source was last checked and when the last run was.
 * A missing or unreadable file starts over (every source is then "never checked").
 */

export const STATE_FILE = 'sample-verify.json';

const StateFile = z.object({
  lastRun: z.number().finite().optional(),
  checked: z.record(z.string(), z.object({ at: z.number().finite(), snapshot: z.string(), ok: z.boolean() })),
});

export function statePath(varDir: string): string {
  return join(varDir, STATE_FILE);
}

export async function readSampleState(varDir: string, warn: (line: string) => void): Promise<SampleState> {
  let text: string;
  try {
    text = await readFile(statePath(varDir), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return { checked: {} };
    throw error;
  }
  try {
    const parsed = StateFile.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: as below
  }
  warn(`${statePath(varDir)} is not a sample verify state; starting over`);
  return { checked: {} };
}

export async function writeSampleState(varDir: string, state: SampleState): Promise<void> {
  await writeFileAtomic(statePath(varDir), `${JSON.stringify(state)}\n`, { mode: 0o600 });
}
