// `list-snapshots --sizes`: each snapshot's size and file count, measured as the agent's
// list-snapshots query measures them (lib/storage/queries/snapshots.ts), within a time budget.
import { QUERY_BUDGET_MS } from '../queries/answer.js';
import { snapshotTotals, storedSnapshots } from '../queries/snapshots.js';
import type { Machine } from './machines.js';
import type { SnapshotEntry, SnapshotStore } from './store.js';

export interface SizedEntry extends SnapshotEntry {
  /** Bytes of its regular files; null when not measured in the time allowed. */
  readonly size: number | null;
  /** Its regular files; null as for size. */
  readonly files: number | null;
}

export async function withSizes(
  store: SnapshotStore,
  machine: Machine,
  source: string,
  entries: readonly SnapshotEntry[],
): Promise<SizedEntry[]> {
  const where = { machineDir: machine.dir, source, settings: store.snapshotSettings, log: store.log };
  const stored = await storedSnapshots(where);
  const deadline = Date.now() + QUERY_BUDGET_MS['list-snapshots'];
  const totals = await snapshotTotals(stored, where, () => Date.now() > deadline);
  return entries.map((entry) => {
    const snapshot = stored.find((s) => s.name === entry.name && s.mode === entry.mode);
    const measured = snapshot === undefined ? undefined : totals.get(snapshot);
    return { ...entry, size: measured?.size ?? null, files: measured?.files ?? null };
  });
}
