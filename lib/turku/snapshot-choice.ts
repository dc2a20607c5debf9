/**
 * Which snapshot a restore "as of" a moment takes (docs/datapath.md, "Restore as of a moment"):
 * the newest one taken at or before it. A snapshot's time counts to the whole second, as its name
 * shows it: asking as of `01:00:00` takes the snapshot named `…_20261205-010000_…` even though it
 * finished at 01:00:00.4. Pure; the storage gives it the snapshots it has.
 */

export interface TimedSnapshot {
  readonly name: string;
  readonly finishedAt: Date;
}

export interface AsOfChoice<S extends TimedSnapshot> {
  /** The newest at or before the moment; undefined when none is. */
  readonly chosen: S | undefined;
  /** The oldest of all, for the error when none is chosen. */
  readonly first: S | undefined;
}

export function chooseAsOf<S extends TimedSnapshot>(snapshots: readonly S[], asOf: Date): AsOfChoice<S> {
  const limit = asOf.getTime();
  let chosen: S | undefined;
  let first: S | undefined;
  for (const snapshot of snapshots) {
    if (first === undefined || isLater(first, snapshot)) first = snapshot;
    if (wholeSecond(snapshot.finishedAt) > limit) continue;
    if (chosen === undefined || isLater(snapshot, chosen)) chosen = snapshot;
  }
  return { chosen, first };
}

/** Later finish, or the same and a later name (the order retention and `latest` use). */
function isLater(a: TimedSnapshot, b: TimedSnapshot): boolean {
  const byTime = a.finishedAt.getTime() - b.finishedAt.getTime();
  return byTime !== 0 ? byTime > 0 : a.name > b.name;
}

function wholeSecond(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}
