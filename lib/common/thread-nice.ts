import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread at a nice value, from its first instruction: Linux keeps a nice value
 * per thread, and a new thread takes its creator's. `new Worker` creates the thread before it
 * returns, so the thread that is in /proc/self/task after the call and was not before it is the
 * worker's; it is given `nice` at once, before Node.js has booted in it (some 35 CPU-ms, which
 * would otherwise run at the creator's priority). Used for the threads that should take only the
 * CPU time others leave idle (lib/storage/manifest/batch-hasher.ts, tree-record-worker.ts).
 * Where that cannot be done (not Linux, no /proc), the worker keeps its creator's priority.
 *
 * Only the calling thread creates threads in this program while the call runs (the thread pool
 * and V8's threads are started with the program), so no other thread is taken for the worker's.
 */
export function startNiced(nice: number, start: () => Worker, options: { idlePolicy?: boolean } = {}): Worker {
  const before = threadIds();
  const worker = start();
  if (before !== null) {
    for (const id of threadIds() ?? []) {
      if (before.has(id)) continue;
      try {
        setPriority(Number(id), nice);
      } catch {
        // Gone already (the worker failed at once), or not allowed: its creator's priority, then.
      }
      if (options.idlePolicy === true) setIdlePolicy(id);
    }
  }
  return worker;
}

/**
 * Linux's SCHED_IDLE for one thread (`chrt`, util-linux: there is no Node.js call for it). Lower
 * than nice 19 and, more to the point, a thread of normal policy that wakes up takes the CPU from
 * it at once, and the kernel places a waking thread on a CPU running only such threads as on an
 * idle one: rsync's short bursts no longer wait behind it (docs/datapath.md, "Manifests and
 * verify"). Any user may lower its own thread's policy so; without `chrt` it stays at its nice value.
 */
function setIdlePolicy(threadId: string): void {
  try {
    execFileSync('chrt', ['--idle', '--pid', '0', threadId], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // No chrt, or the thread is gone: nice 19 alone.
  }
}

function threadIds(): Set<string> | null {
  try {
    return new Set(readdirSync('/proc/self/task'));
  } catch {
    return null;
  }
}
