import type * as Fs from 'node:fs';
import type * as Os from 'node:os';

/**
 * Gives the calling thread a nice value: Linux keeps one per thread, and /proc/thread-self names
 * the thread's own id. Where that cannot be done (not Linux, no /proc), the thread keeps its
 * priority. Used by worker threads that should take only the CPU time others leave idle
 * (lib/storage/manifest/batch-hasher.ts, tree-record-worker.ts); it runs as their source text, so
 * it must stay self-contained: no reference to anything outside it but its parameters.
 */
export function setThreadNice(deps: { readonly fs: typeof Fs; readonly os: typeof Os }, nice: number): void {
  try {
    deps.os.setPriority(Number(deps.fs.readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // The normal priority, then.
  }
}
