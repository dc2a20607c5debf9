import type { EntryType, MatchEvent, MatchLine } from '../../turku/protocol/queries.js';

/**
 * The history of matching paths across a source's snapshots, oldest first (the `find` query):
 * a path is `added` in the first snapshot that holds it (again, after a gap), `changed` where its
 * type, size or mtime differ from the previous snapshot holding it, `removed` in the first
 * snapshot without it after one with it. Bounded: at most `limit` paths are followed; others are
 * only counted (up to `countLimit` distinct ones).
 */

export interface PathState {
  readonly entry: EntryType;
  readonly size: number;
  readonly mtime: string | null;
}

export interface SnapshotRef {
  readonly name: string;
  readonly time: string;
}

interface Followed {
  entry: EntryType;
  held: number;
  last: PathState | undefined;
  readonly events: MatchEvent[];
}

export class ChangeTracker {
  private readonly followed = new Map<string, Followed>();
  private readonly overflow = new Set<string>();
  private overflowCapped = false;

  constructor(
    private readonly limit: number,
    private readonly countLimit = 100_000,
  ) {}

  /** One snapshot's matching paths; call in time order. */
  observe(snapshot: SnapshotRef, present: ReadonlyMap<string, PathState>): void {
    for (const [path, state] of present) {
      let followed = this.followed.get(path);
      if (followed === undefined) {
        if (this.followed.size >= this.limit) {
          this.countOverflow(path);
          continue;
        }
        followed = { entry: state.entry, held: 0, last: undefined, events: [] };
        this.followed.set(path, followed);
      }
      followed.held++;
      followed.entry = state.entry;
      const previous = followed.last;
      if (previous === undefined) followed.events.push(event(snapshot, 'added', state));
      else if (differs(previous, state)) followed.events.push(event(snapshot, 'changed', state));
      followed.last = state;
    }
    for (const [path, followed] of this.followed) {
      if (followed.last !== undefined && !present.has(path)) {
        followed.events.push({ snapshot: snapshot.name, time: snapshot.time, change: 'removed' });
        followed.last = undefined;
      }
    }
  }

  /** Paths in name order, each with its events. */
  matches(): MatchLine[] {
    return [...this.followed.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([path, f]) => ({ type: 'match', path, entry: f.entry, held: f.held, events: f.events }));
  }

  /** Matching paths not followed because of the limit. */
  get more(): number {
    return this.overflow.size;
  }

  /** Whether `more` stopped counting (it is then a lower bound). */
  get moreIsLowerBound(): boolean {
    return this.overflowCapped;
  }

  private countOverflow(path: string): void {
    if (this.overflow.size < this.countLimit) this.overflow.add(path);
    else if (!this.overflow.has(path)) this.overflowCapped = true;
  }
}

export function differs(a: PathState, b: PathState): boolean {
  return a.entry !== b.entry || a.size !== b.size || a.mtime !== b.mtime;
}

function event(snapshot: SnapshotRef, change: 'added' | 'changed', state: PathState): MatchEvent {
  return { snapshot: snapshot.name, time: snapshot.time, change, size: state.size, mtime: state.mtime };
}
