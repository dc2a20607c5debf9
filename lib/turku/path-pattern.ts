import { posix } from 'node:path';

import { hasControlCharacters } from './names.js';
import { MAX_PATTERN_LENGTH, MAX_PATTERN_WILDCARDS } from './protocol/query-limits.js';

/**
 * The glob of a `find` query (docs/datapath.md, "Queries (our extension of the stdin protocol)"),
 * matched against paths relative to a snapshot's top with Node's `path.matchesGlob`:
 *   - a pattern without "/" matches an entry's name at any depth (`*.conf`, `sshd_config`);
 *   - a pattern with "/" matches the whole relative path (`etc/ssh/*`, `home/**\/.bashrc`); a
 *     leading "/" is dropped, as is a trailing one;
 *   - as in a shell, `*` and `?` do not match a leading "." of a name.
 * The literal directories before the first wildcard tell where a walk starts, and a pattern
 * without `**` how deep it goes.
 */

export interface PathPattern {
  readonly text: string;
  /** The literal leading directories, e.g. ["etc", "ssh"] for `etc/ssh/*.pub`. */
  readonly prefix: readonly string[];
  /** How many components a matching path has at most (Infinity with `**` or a name pattern). */
  readonly maxDepth: number;
  matches(path: string): boolean;
}

const WILDCARD = /[*?[\]{}()!+@\\]/;

/** Why the pattern is refused, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'the pattern is empty';
  if (pattern.length > MAX_PATTERN_LENGTH) return `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (hasControlCharacters(pattern)) return 'the pattern holds control characters';
  const wildcards = (pattern.match(/[*?]/g) ?? []).length;
  if (wildcards > MAX_PATTERN_WILDCARDS) return `the pattern has more than ${MAX_PATTERN_WILDCARDS} * or ?`;
  if (trimmed(pattern) === '') return 'the pattern names no path';
  if (trimmed(pattern).split('/').includes('..')) return 'the pattern must not hold ".."';
  return undefined;
}

/** The compiled pattern; throws an Error with patternProblem's words when refused. */
export function compilePattern(pattern: string): PathPattern {
  const problem = patternProblem(pattern);
  if (problem !== undefined) throw new Error(problem);
  const text = trimmed(pattern);
  const parts = text.split('/').filter((part) => part !== '' && part !== '.');
  if (!text.includes('/')) {
    return { text, prefix: [], maxDepth: Infinity, matches: (path) => posix.matchesGlob(baseName(path), text) };
  }
  const glob = parts.join('/');
  const firstWild = parts.findIndex((part) => WILDCARD.test(part));
  const prefix = firstWild < 0 ? parts.slice(0, -1) : parts.slice(0, firstWild);
  return {
    text: glob,
    prefix,
    maxDepth: parts.includes('**') || parts.some((part) => part.includes('**')) ? Infinity : parts.length,
    matches: (path) => posix.matchesGlob(path, glob),
  };
}

function trimmed(pattern: string): string {
  return pattern.replace(/^\/+/, '').replace(/\/+$/, '');
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

/**
 * A path inside a snapshot as its components: "" and "." are its top; ".." anywhere, a NUL or a
 * control character is refused (undefined), so a request cannot climb out of the snapshot.
 */
export function snapshotPathParts(path: string): string[] | undefined {
  if (path.includes('\0') || hasControlCharacters(path)) return undefined;
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  return parts.includes('..') ? undefined : parts;
}
