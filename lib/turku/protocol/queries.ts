import * as z from 'zod';

import { DEFAULT_QUERY_LIMIT, MAX_PATTERN_LENGTH, MAX_QUERY_LIMIT, MAX_QUERY_PATH_LENGTH } from './query-limits.js';

export * from './query-limits.js';

/**
 * [NEW] Read-only queries an operator runs before a restore (docs/datapath.md, "Queries (our
 * extension of the stdin protocol)"): the request's `query` key, and the answer our storage writes
 * on the session's stdout as JSON lines. The request also says `action: "restore"`, so that an
 * original storage, which ignores the key, only holds a restore session that ends with stdin.
 */

export const QUERY_VERSION = 1;

const Limit = z.number().int().min(1).max(MAX_QUERY_LIMIT).default(DEFAULT_QUERY_LIMIT);
const Source = z.string().min(1).max(255);

export const ListSnapshotsQuery = z.looseObject({ kind: z.literal('list-snapshots'), source: Source });
export const ListFilesQuery = z.looseObject({
  kind: z.literal('list-files'),
  source: Source,
  /** A snapshot name, or "latest". */
  snapshot: z.string().min(1).max(255).default('latest'),
  /** A directory (or file) inside the snapshot, relative; "" is its top. */
  path: z.string().max(MAX_QUERY_PATH_LENGTH).default(''),
  limit: Limit,
});
export const FindQuery = z.looseObject({
  kind: z.literal('find'),
  source: Source,
  pattern: z.string().min(1).max(MAX_PATTERN_LENGTH),
  limit: Limit,
});
export const Query = z.discriminatedUnion('kind', [ListSnapshotsQuery, ListFilesQuery, FindQuery]);
export type Query = z.output<typeof Query>;
export type QueryKind = Query['kind'];
/** What the agent sends (defaults filled in by the storage). */
export type OutgoingQuery = z.input<typeof Query>;

// ---- the answer: one JSON object per line ----------------------------------------------------

/** The first line: its presence is how the agent knows a storage of ours answered. */
export const AnswerHeader = z.looseObject({
  type: z.literal('answer'),
  version: z.number().int().min(1),
  kind: z.string(),
  source: z.string(),
});

export const SnapshotLine = z.looseObject({
  type: z.literal('snapshot'),
  name: z.string(),
  mode: z.string(),
  /** When its backup finished, ISO 8601 in UTC. */
  time: z.string(),
  /** Bytes of its regular files; null when not measured within the time allowed. */
  size: z.number().nullable(),
  /** How many regular files it holds; null as for size. */
  files: z.number().nullable(),
});
export type SnapshotLine = z.output<typeof SnapshotLine>;

export const ENTRY_TYPES = ['file', 'dir', 'symlink', 'fifo', 'socket', 'char', 'block', 'other'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** The directory list-files shows, before its entries. */
export const ListingLine = z.looseObject({
  type: z.literal('listing'),
  snapshot: z.string(),
  time: z.string(),
  path: z.string(),
});

export const EntryLine = z.looseObject({
  type: z.literal('entry'),
  name: z.string(),
  entry: z.enum(ENTRY_TYPES).catch('other'),
  size: z.number(),
  /** As `ls -l` shows it, e.g. `-rw-r--r--`. */
  mode: z.string(),
  mtime: z.string().nullable(),
  /** A symlink's target, as stored (never followed). */
  target: z.string().optional(),
});
export type EntryLine = z.output<typeof EntryLine>;

export const CHANGES = ['added', 'changed', 'removed'] as const;
export type Change = (typeof CHANGES)[number];

export const MatchEvent = z.looseObject({
  snapshot: z.string(),
  time: z.string(),
  change: z.enum(CHANGES),
  /** Absent for `removed`. */
  size: z.number().optional(),
  mtime: z.string().nullable().optional(),
});
export type MatchEvent = z.output<typeof MatchEvent>;

export const MatchLine = z.looseObject({
  type: z.literal('match'),
  path: z.string(),
  entry: z.enum(ENTRY_TYPES).catch('other'),
  /** How many of the searched snapshots hold it. */
  held: z.number(),
  events: z.array(MatchEvent),
});
export type MatchLine = z.output<typeof MatchLine>;

/** The last line of a complete answer. */
export const EndLine = z.looseObject({
  type: z.literal('end'),
  /** Lines of rows sent. */
  shown: z.number(),
  /** Rows left out by the limit (at least this many when `complete` is false). */
  more: z.number(),
  /** False when the time allowed ran out: what was found so far is what was sent. */
  complete: z.boolean(),
  note: z.string().optional(),
});
export type EndLine = z.output<typeof EndLine>;

export const ErrorLine = z.looseObject({ type: z.literal('error'), message: z.string() });

export const AnswerLine = z.discriminatedUnion('type', [
  AnswerHeader,
  SnapshotLine,
  ListingLine,
  EntryLine,
  MatchLine,
  EndLine,
  ErrorLine,
]);
export type AnswerLine = z.output<typeof AnswerLine>;

/** One line of the answer, with its newline. */
export function encodeAnswerLine(line: AnswerLine): string {
  return `${JSON.stringify(line)}\n`;
}

export interface ParsedAnswer {
  readonly header: z.output<typeof AnswerHeader>;
  readonly listing: z.output<typeof ListingLine> | undefined;
  readonly snapshots: SnapshotLine[];
  readonly entries: EntryLine[];
  readonly matches: MatchLine[];
  /** Absent when the answer was cut short. */
  readonly end: EndLine | undefined;
  readonly error: string | undefined;
}

/**
 * The answer in a session's stdout; undefined when no header line came (the storage is not one
 * of ours). Lines of later versions' new types, and anything that is not an answer line, are
 * skipped; reading stops at the end or error line.
 */
export function parseAnswer(stdout: string): ParsedAnswer | undefined {
  let answer: { -readonly [K in keyof ParsedAnswer]: ParsedAnswer[K] } | undefined;
  for (const text of stdout.split('\n')) {
    const line = parseLine(text);
    if (line === undefined) continue;
    if (answer === undefined) {
      if (line.type !== 'answer') continue;
      answer = {
        header: line,
        listing: undefined,
        snapshots: [],
        entries: [],
        matches: [],
        end: undefined,
        error: undefined,
      };
      continue;
    }
    switch (line.type) {
      case 'snapshot':
        answer.snapshots.push(line);
        break;
      case 'listing':
        answer.listing = line;
        break;
      case 'entry':
        answer.entries.push(line);
        break;
      case 'match':
        answer.matches.push(line);
        break;
      case 'end':
        answer.end = line;
        return answer;
      case 'error':
        answer.error = line.message;
        return answer;
      case 'answer':
        break;
    }
  }
  return answer;
}

function parseLine(text: string): AnswerLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const parsed = AnswerLine.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
