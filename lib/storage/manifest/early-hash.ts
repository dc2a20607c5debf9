import { lstatSync, type BigIntStats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';

import { hashEntry } from '../../common/tree-manifest.js';

/**
 * Hashes the files of a full backup while rsync still transfers the rest (docs/datapath.md,
 * "Manifests and verify"), so that the manifest afterwards reads almost nothing.
 *
 * rsync `--verbose` names each file as it starts on it, and writes it to a temporary name that it
 * renames to the real one only once the content and the times are set; the receiver takes the
 * files in the order it names them. So a named file that exists under its name is finished, and
 * one still missing when a later one is finished will not come (a line that is not a file's name,
 * a file that vanished): it is dropped. A hash is kept when the file's device, inode, size, mtime
 * and ctime are the same before and after the read; the manifest takes it only for a file whose
 * `lstat` still shows all five, so anything that touched the file since is read again.
 *
 * Only files of `minBytes` and more: for a small file the opening and the trips through the event
 * loop cost more than its bytes, and the worker threads of the manifest's walk read those faster.
 */

interface Early {
  readonly stats: BigIntStats;
  readonly sha256: string;
}

const READ_SIZE = 1 << 20;
const MIN_BYTES = 64 * 1024;
/** How far past a missing name to look for a finished one, and how long to wait before looking again. */
const LOOK_AHEAD = 64;
const POLL_MS = 50;

export class EarlyHasher {
  private readonly named: string[] = [];
  private readonly hashed = new Map<string, Early>();
  private running: Promise<void> = Promise.resolve();
  /** Cleared synchronously when the loop ends, so a name offered after that starts another. */
  private draining = false;
  private stopped = false;
  private readonly buffer = Buffer.allocUnsafe(READ_SIZE);

  constructor(
    private readonly root: string,
    private readonly minBytes = MIN_BYTES,
  ) {}

  /** One line of rsync's output: a file's name relative to the tree, or anything else. */
  offer(line: string): void {
    if (this.stopped || line === '' || line.endsWith('/') || line.includes(' -> ') || line.includes('\\#')) return;
    this.named.push(line);
    if (!this.draining) {
      this.draining = true;
      this.running = this.drain();
    }
  }

  /** Stops (after the file in hand) and says what was hashed. */
  async finish(): Promise<EarlyHashes> {
    this.stopped = true;
    await this.running;
    return new EarlyHashes(this.hashed);
  }

  /** The named files in order, each once it exists; waits for the first missing one. */
  private async drain(): Promise<void> {
    while (!this.stopped && this.named.length > 0) {
      let ready = -1;
      let stats: BigIntStats | null = null;
      for (let i = 0; i < this.named.length && i < LOOK_AHEAD; i++) {
        // Sync: one cheap call, where a trip through the thread pool would cost several times more.
        stats = statOrNull(join(this.root, this.named[i]!));
        if (stats !== null) {
          ready = i;
          break;
        }
      }
      if (ready < 0 || stats === null) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      // Those before it are not coming (see above).
      const path = this.named.splice(0, ready + 1).at(-1)!;
      if (stats.isFile() && stats.size >= BigInt(this.minBytes)) await this.hash(path, stats);
    }
    // Right as the loop ends (nothing here throws): a name offered from now on starts another.
    this.draining = false;
  }

  private async hash(path: string, before: BigIntStats): Promise<void> {
    try {
      const sha256 = await hashEntry(join(this.root, path), 'f', this.buffer);
      const after = await lstat(join(this.root, path), { bigint: true });
      if (sameFile(before, after)) this.hashed.set(path, { stats: after, sha256 });
    } catch {
      // Read again by the manifest.
    }
  }
}

function statOrNull(path: string): BigIntStats | null {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // e.g. ENOTDIR: not a finished file's name
  }
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** What an `EarlyHasher` hashed, as the manifest's `reuse`. */
export class EarlyHashes {
  constructor(private readonly hashed: ReadonlyMap<string, Early>) {}

  get size(): number {
    return this.hashed.size;
  }

  /** The hash of the file at `path` when it is still the file that was read (same dev, inode, size, mtime, ctime). */
  reuse(path: string, stats: BigIntStats): string | null {
    const early = this.hashed.get(path);
    return early !== undefined && sameFile(early.stats, stats) ? early.sha256 : null;
  }
}
