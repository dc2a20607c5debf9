import { type Temporal } from 'temporal-polyfill';

import { localDate, resolveCalendar, startOfWeek, toInstant, type CalendarOptions } from './time.js';

/**
 * Retention policies (docs/domain.md, "Retention", docs/datapath.md, "Retention on the storage"):
 * which snapshots to keep and which to delete.
 *
 *   last N days | last N snapshots | earliest of [N] day|week|fortnight|month   (comma-separated)
 *
 * The API validates strictly; the storage parses leniently (an original API does not validate)
 * but still refuses to apply a policy with any clause it does not understand.
 */

export class RetentionError extends Error {
  override name = 'RetentionError';
  constructor(
    readonly detail: string,
    /** The offending clause, trimmed. */
    readonly clause: string,
  ) {
    super(`retention: ${detail}`);
  }
}

export type EarliestUnit = 'day' | 'week' | 'fortnight' | 'month';

export type RetentionClause = { readonly text: string } & (
  | { readonly kind: 'last-days'; readonly count: number }
  | { readonly kind: 'last-snapshots'; readonly count: number }
  | {
      readonly kind: 'earliest-of';
      readonly count: number;
      readonly unit: EarliestUnit;
    }
);

/** An empty list keeps everything. */
export type RetentionPolicy = readonly RetentionClause[];

export interface ParseRetentionOptions {
  /** Storage-side reading: any whitespace, and text after the unit word is tolerated. */
  lenient?: boolean;
}

const STRICT = {
  last: /^last[ \t]+(\d+)[ \t]+(day|snapshot)s?$/i,
  earliest: /^earliest[ \t]+of(?:[ \t]+(\d+))?[ \t]+(day|week|fortnight|month)s?$/i,
};
const LENIENT = {
  last: /^last\s+(\d+)\s+(day|snapshot)s?\b/i,
  earliest: /^earliest\s+of(?:\s+(\d+))?\s+(day|week|fortnight|month)s?\b/i,
};

export function parseRetention(text: string, options: ParseRetentionOptions = {}): RetentionPolicy {
  const patterns = options.lenient ? LENIENT : STRICT;
  const clauses: RetentionClause[] = [];
  for (const raw of text.split(',')) {
    const clause = options.lenient ? raw.trim() : raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (clause === '') continue;
    const last = patterns.last.exec(clause);
    const earliest = last ? null : patterns.earliest.exec(clause);
    if (!last && !earliest) throw new RetentionError(`unrecognised clause "${clause}"`, clause);
    const countText = (last ?? earliest)![1];
    const count = countText === undefined ? 1 : Number(countText);
    if (count < 1) throw new RetentionError(`count must be at least 1 in "${clause}"`, clause);
    if (last) {
      const kind = last[2]!.toLowerCase() === 'day' ? 'last-days' : 'last-snapshots';
      clauses.push({ text: clause, kind, count });
    } else {
      const unit = earliest![2]!.toLowerCase() as EarliestUnit;
      clauses.push({ text: clause, kind: 'earliest-of', count, unit });
    }
  }
  return clauses;
}

export interface Snapshot {
  readonly name: string;
  /** When the snapshot's sync finished: its age for every clause. */
  readonly finishedAt: Date;
}

/** Why a snapshot is kept: the text of each clause that keeps it, or one of these reasons. */
export const KEPT_AS_NEWEST = 'newest snapshot';
export const KEPT_BY_SAFETY_NET = 'safety net: the policy keeps nothing';
export const KEPT_WITHOUT_POLICY = 'no retention policy';

export interface RetentionDecision<S extends Snapshot> {
  readonly snapshot: S;
  readonly keep: boolean;
  /** Empty for a deleted snapshot. */
  readonly keptBy: readonly string[];
}

export interface RetentionOptions extends CalendarOptions, ParseRetentionOptions {}

/**
 * Decides every snapshot, in the order given. The newest snapshot is always kept (it is the
 * base of the next incremental backup), and a policy whose clauses keep nothing deletes nothing.
 * A policy given as text is parsed first, and an unrecognised clause throws RetentionError.
 */
export function evaluateRetention<S extends Snapshot>(
  snapshots: readonly S[],
  policy: string | RetentionPolicy,
  now: Date,
  options: RetentionOptions = {},
): RetentionDecision<S>[] {
  const clauses = typeof policy === 'string' ? parseRetention(policy, options) : policy;
  const calendar = resolveCalendar(options);
  const nowInstant = toInstant(now);
  const newestFirst = [...snapshots].sort(byNewest);
  const reasons = new Map<S, string[]>();
  const keepFor = (snapshot: S, reason: string): void => {
    const list = reasons.get(snapshot);
    if (list) list.push(reason);
    else reasons.set(snapshot, [reason]);
  };

  for (const clause of clauses) {
    for (const snapshot of clauseKeeps(clause, newestFirst, nowInstant, calendar)) keepFor(snapshot, clause.text);
  }
  if (clauses.length === 0) {
    for (const snapshot of snapshots) keepFor(snapshot, KEPT_WITHOUT_POLICY);
  } else if (reasons.size === 0) {
    for (const snapshot of snapshots) keepFor(snapshot, KEPT_BY_SAFETY_NET);
  }
  const newest = newestFirst[0];
  if (newest !== undefined) keepFor(newest, KEPT_AS_NEWEST);

  return snapshots.map((snapshot) => {
    const keptBy = reasons.get(snapshot) ?? [];
    return { snapshot, keep: keptBy.length > 0, keptBy };
  });
}

export function snapshotsToKeep<S extends Snapshot>(
  snapshots: readonly S[],
  policy: string | RetentionPolicy,
  now: Date,
  options: RetentionOptions = {},
): S[] {
  return decided(evaluateRetention(snapshots, policy, now, options), true);
}

export function snapshotsToDelete<S extends Snapshot>(
  snapshots: readonly S[],
  policy: string | RetentionPolicy,
  now: Date,
  options: RetentionOptions = {},
): S[] {
  return decided(evaluateRetention(snapshots, policy, now, options), false);
}

function decided<S extends Snapshot>(decisions: readonly RetentionDecision<S>[], keep: boolean): S[] {
  return decisions.filter((decision) => decision.keep === keep).map((decision) => decision.snapshot);
}

/** Newest first; equal finish times are ordered by name, greatest first. */
function byNewest(a: Snapshot, b: Snapshot): number {
  const byTime = b.finishedAt.getTime() - a.finishedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}

/** Counts beyond this only push a cutoff further back than any snapshot can be. */
const MAX_CALENDAR_COUNT = 100_000;

function clauseKeeps<S extends Snapshot>(
  clause: RetentionClause,
  newestFirst: readonly S[],
  now: Temporal.Instant,
  calendar: { timeZone: string; weekStart: 'sunday' | 'monday' },
): S[] {
  switch (clause.kind) {
    case 'last-snapshots':
      return newestFirst.slice(0, clause.count);
    case 'last-days': {
      // A rolling window of N×24 h, not calendar days.
      const cutoffMs = now.epochMilliseconds - clause.count * 86_400_000;
      return newestFirst.filter((snapshot) => snapshot.finishedAt.getTime() >= cutoffMs);
    }
    case 'earliest-of': {
      const cutoffMs = earliestCutoff(clause.unit, Math.min(clause.count, MAX_CALENDAR_COUNT), now, calendar);
      // The oldest snapshot since the cutoff; newestFirst puts equal times' smallest name last.
      let oldest: S | undefined;
      for (const snapshot of newestFirst) {
        if (snapshot.finishedAt.getTime() >= cutoffMs) oldest = snapshot;
      }
      return oldest === undefined ? [] : [oldest];
    }
  }
}

/** Local midnight starting the period N units back (the current one counts as the first). */
function earliestCutoff(
  unit: EarliestUnit,
  count: number,
  now: Temporal.Instant,
  calendar: { timeZone: string; weekStart: 'sunday' | 'monday' },
): number {
  const today = localDate(now, calendar.timeZone);
  let start: Temporal.PlainDate;
  switch (unit) {
    case 'day':
      start = today.subtract({ days: count - 1 });
      break;
    case 'week':
      start = startOfWeek(today, calendar.weekStart).subtract({
        weeks: count - 1,
      });
      break;
    case 'fortnight':
      start = startOfWeek(today, calendar.weekStart).subtract({
        weeks: 2 * count - 1,
      });
      break;
    case 'month':
      start = today.with({ day: 1 }).subtract({ months: count - 1 });
      break;
  }
  return start.toZonedDateTime({ timeZone: calendar.timeZone }).epochMilliseconds;
}
