import { randomUUID } from 'node:crypto';
import { chown, rename, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/**
 * Writes a file so that readers see the old or the new content, never a mix
 * (docs/datapath.md, "The agent's local state"): the data goes to `<file>.tmp<uuid>~` with its
 * final mode and owner first, then is renamed over. `data` may be a stream (a failing one fails the write).
 */

export interface AtomicWriteOptions {
  /** Octal file mode; the temporary file is created with it, so the data is never exposed. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Readable,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temporary = `${path}.tmp${randomUUID()}~`;
  try {
    await writeFile(temporary, data, { mode: options.mode ?? 0o644, flag: 'wx' });
    if (options.uid !== undefined || options.gid !== undefined) {
      await chown(temporary, options.uid ?? -1, options.gid ?? -1);
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** JSON as the original writes its state and sidecars: sorted keys, 4-space indent. */
export function sortedJson(value: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify(sorted, null, 4)}\n`;
}
