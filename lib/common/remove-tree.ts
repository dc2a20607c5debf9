import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Removes a tree that may hold a storage's finished snapshots, whose directories carry the
 * immutable flag (docs/datapath.md, "Immutable snapshots"): the flag is lifted first, or `rm`
 * would stop half-way. For tearing down what tests, benchmarks and the local model made; never
 * for a storage's own expiry, which lifts the flag only on the snapshots it expires.
 * Synchronous so that exit handlers can use it.
 */
export function removeTreeWithImmutables(path: string): void {
  try {
    execFileSync('find', ['-P', path, '-type', 'd', '-exec', 'chattr', '-f', '-i', '{}', '+'], { stdio: 'ignore' });
  } catch {
    // Nothing there, nothing immutable, or no chattr: rm says what is left.
  }
  rmSync(path, { recursive: true, force: true, maxRetries: 3 });
}
