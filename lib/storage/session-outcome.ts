import type { SourceResult } from '../turku/protocol/api.js';
import { encodeResultLine, type ResultLineSource } from '../turku/protocol/session-result.js';

/**
 * What a check-in session tells the agent at its end: each due source's result, as reported to
 * the API, in one `turku-result` line on stdout (lib/turku/protocol/session-result.ts). The
 * agent has no other way to learn that a source failed: the storage exits 0 after reporting a
 * failed rsync to the API.
 */

export interface SessionOutcomes {
  /** Notes one source's result and whether the API took it; returns `reported`. */
  add(name: string, result: SourceResult, reported: boolean): boolean;
  /** Writes the result line and returns `exitCode`, for `return outcomes.finish(code)`. */
  finish(exitCode: number): number;
}

export function sessionOutcomes(write: ((text: string) => void) | undefined): SessionOutcomes {
  const sources: Record<string, ResultLineSource> = {};
  return {
    add(name, result, reported) {
      sources[name] = {
        success: result.success === true,
        snapshot: result.snapshot ?? null,
        summary: result.summary ?? null,
        ...(result.skipped === true ? { skipped: true } : {}),
        reported,
      };
      return reported;
    },
    finish(exitCode) {
      write?.(encodeResultLine(sources));
      return exitCode;
    },
  };
}
