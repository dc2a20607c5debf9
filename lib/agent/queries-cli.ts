import { UsageError } from '../common/errors.js';
import { patternProblem } from '../turku/path-pattern.js';
import type { OutgoingQuery } from '../turku/protocol/queries.js';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT } from '../turku/protocol/query-limits.js';

/**
 * [NEW] turku-agent-ping's query flags (docs/datapath.md, "Queries (our extension of the stdin
 * protocol)"): which query, with what, and how the answer is printed. ping.ts spreads these into
 * its own flags and usage.
 */

export const QUERY_OPTIONS = {
  'list-snapshots': { type: 'string' },
  'list-files': { type: 'string' },
  find: { type: 'string' },
  snapshot: { type: 'string' },
  path: { type: 'string' },
  pattern: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

export const QUERY_USAGE = `Queries (read-only; answered by the storage that keeps SOURCE):
      --list-snapshots SOURCE  each snapshot's name, mode, finish time, size and file count
      --list-files SOURCE      one directory of a snapshot: type and mode, size, mtime, name
        --snapshot NAME          the snapshot (default latest)
        --path PATH              the directory (or file) inside it (default its top)
      --find SOURCE --pattern GLOB
                               the paths matching GLOB in each snapshot, and where they
                               were added, changed or removed (a GLOB without "/" matches
                               names at any depth: '*.conf'; with "/" whole paths: 'etc/**')
      --limit N                entries or paths shown at most (default ${DEFAULT_QUERY_LIMIT}, at most ${MAX_QUERY_LIMIT})
      --json                   print the answer as JSON instead of a table
      --restore-storage NAME   the storage to ask when the source is on several`;

export interface QueryFlags {
  readonly 'list-snapshots'?: string | undefined;
  readonly 'list-files'?: string | undefined;
  readonly find?: string | undefined;
  readonly snapshot?: string | undefined;
  readonly path?: string | undefined;
  readonly pattern?: string | undefined;
  readonly limit?: string | undefined;
  readonly json?: boolean | undefined;
  readonly restore?: boolean | undefined;
  readonly 'restore-source'?: string | undefined;
  readonly 'restore-storage'?: string | undefined;
}

export interface QueryRequest {
  readonly query: OutgoingQuery;
  readonly json: boolean;
  readonly storage: string | undefined;
}

/** The query the flags ask for; undefined when they ask for none. Bad combinations: UsageError. */
export function queryFromFlags(flags: QueryFlags): QueryRequest | undefined {
  const modes = (['list-snapshots', 'list-files', 'find'] as const).filter((mode) => flags[mode] !== undefined);
  const extras = (['snapshot', 'path', 'pattern', 'limit'] as const).filter((flag) => flags[flag] !== undefined);
  if (modes.length === 0) {
    if (extras.length > 0 || flags.json === true) {
      throw new UsageError(`--${extras[0] ?? 'json'} goes with --list-snapshots, --list-files or --find`);
    }
    return undefined;
  }
  if (modes.length > 1) throw new UsageError(`--${modes[0]} and --${modes[1]} cannot be used together`);
  if (flags.restore === true || flags['restore-source'] !== undefined) {
    throw new UsageError(`--${modes[0]} cannot be used with --restore or --restore-source`);
  }
  const mode = modes[0]!;
  const source = flags[mode]!;
  if (source === '') throw new UsageError(`--${mode} expects a source name`);
  const allowed = { 'list-snapshots': [], 'list-files': ['snapshot', 'path', 'limit'], find: ['pattern', 'limit'] }[
    mode
  ] as readonly string[];
  const stray = extras.find((flag) => !allowed.includes(flag));
  if (stray !== undefined) throw new UsageError(`--${stray} does not go with --${mode}`);
  const limit = parseLimit(flags.limit);
  const common = { json: flags.json === true, storage: flags['restore-storage'] };
  switch (mode) {
    case 'list-snapshots':
      return { ...common, query: { kind: mode, source } };
    case 'list-files':
      return {
        ...common,
        query: { kind: mode, source, snapshot: flags.snapshot ?? 'latest', path: flags.path ?? '', limit },
      };
    case 'find': {
      if (flags.pattern === undefined) throw new UsageError('--find expects --pattern GLOB');
      const problem = patternProblem(flags.pattern);
      if (problem !== undefined) throw new UsageError(`--pattern: ${problem}`);
      return { ...common, query: { kind: mode, source, pattern: flags.pattern, limit } };
    }
  }
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_QUERY_LIMIT;
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || limit < 1 || limit > MAX_QUERY_LIMIT) {
    throw new UsageError(`--limit expects a whole number from 1 to ${MAX_QUERY_LIMIT}, not "${value}"`);
  }
  return limit;
}
