import type { SnapshotMode } from '../../turku/protocol/descriptor.js';

/**
 * The periodic sample verify's budget and choice (docs/datapath.md, "The periodic sample
 * verify"), pure: each run spends the share of `verify_bytes_per_day` that the time since the
 * last run earned, on the sources checked longest ago (never checked first, ties in random
 * order), a few sources a run so each sample is worth its start-up, one random snapshot each.
 */

export const DAY_MS = 24 * 60 * 60 * 1000;
/** The job's timer interval (lib/timers/jobs.ts): what a first run, with no last run, is worth. */
export const NOMINAL_INTERVAL_MS = 60 * 60 * 1000;
/** A run visits at most one source per this many bytes of its share, and at least one. */
export const MIN_SAMPLE_BYTES = 32 * 1024 * 1024;

/** One source of one machine held here, in one mode. */
export interface SampleTarget {
  readonly machine: string;
  readonly source: string;
  readonly mode: SnapshotMode;
  /** The machine's directory on its volume. */
  readonly machineDir: string;
}

export interface CheckedEntry {
  /** When it was last checked, epoch milliseconds. */
  readonly at: number;
  readonly snapshot: string;
  readonly ok: boolean;
}

/** What the state file keeps between runs. */
export interface SampleState {
  readonly lastRun?: number | undefined;
  readonly checked: Readonly<Record<string, CheckedEntry>>;
}

export function targetKey(target: Pick<SampleTarget, 'machine' | 'source' | 'mode'>): string {
  return `${target.machine}/${target.mode}/${target.source}`;
}

/** The bytes this run may read: the day's budget times the part of a day since the last run. */
export function runShare(bytesPerDay: number, lastRun: number | undefined, now: number): number {
  if (bytesPerDay <= 0) return 0;
  const elapsed = lastRun === undefined || now <= lastRun ? NOMINAL_INTERVAL_MS : now - lastRun;
  return Math.floor((bytesPerDay * Math.min(elapsed, DAY_MS)) / DAY_MS);
}

/** The targets this run visits, in order: oldest checked first, never checked before all. */
export function chooseTargets(
  targets: readonly SampleTarget[],
  state: SampleState,
  share: number,
  random: () => number,
): SampleTarget[] {
  if (share <= 0 || targets.length === 0) return [];
  const shuffled = shuffle(targets, random);
  const lastChecked = (target: SampleTarget) => state.checked[targetKey(target)]?.at ?? Number.NEGATIVE_INFINITY;
  // A stable sort keeps the shuffled order among equals.
  const ordered = shuffled.sort((a, b) => lastChecked(a) - lastChecked(b) || 0);
  const count = Math.max(1, Math.min(ordered.length, Math.floor(share / MIN_SAMPLE_BYTES)));
  return ordered.slice(0, count);
}

/** The next visit's sample: what is left, shared among the visits left (unspent bytes carry on). */
export function nextSampleBytes(remaining: number, visitsLeft: number): number {
  if (remaining <= 0 || visitsLeft <= 0) return 0;
  return Math.max(1, Math.floor(remaining / visitsLeft));
}

/** A uniformly random element, or undefined for none. */
export function pickOne<T>(items: readonly T[], random: () => number): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))];
}

/** The state after a run: its time, the entries of the targets still here, the new checks. */
export function nextState(
  state: SampleState,
  targets: readonly SampleTarget[],
  checks: ReadonlyMap<string, CheckedEntry>,
  now: number,
): SampleState {
  const checked: Record<string, CheckedEntry> = {};
  for (const target of targets) {
    const key = targetKey(target);
    const entry = checks.get(key) ?? state.checked[key];
    if (entry !== undefined) checked[key] = entry;
  }
  return { lastRun: now, checked };
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
