import * as z from 'zod';

import { FrequencyError, parseFrequency } from '../frequency.js';
import { bwlimitProblem } from '../names.js';
import { parseRetention, RetentionError } from '../retention.js';
import { SNAPSHOT_MODES } from './descriptor.js';
import { checked, Flag, SourceName } from './fields.js';

/**
 * A source as an agent declares it in `sources.d` and sends it in `update_config`
 * (docs/api.md, "update_config"). The API's description of a source to agents and storages is in
 * descriptor.ts.
 */

/** Text without line breaks or NUL: it ends up as one line of an rsync filter file. */
const FilterLine = checked(z.string(), (value) =>
  /[\r\n\0]/.test(value) ? 'must not contain line breaks or NUL' : undefined,
);

/** A string in one of the domain grammars; the problem is the parser's own detail. */
function grammar(parse: (text: string) => unknown, ErrorType: abstract new (...args: never[]) => { detail: string }) {
  return checked(z.string(), (value) => {
    try {
      parse(value);
      return undefined;
    } catch (error) {
      if (error instanceof ErrorType) return error.detail;
      throw error;
    }
  });
}

const Frequency = grammar(parseFrequency, FrequencyError);
const Retention = grammar(parseRetention, RetentionError);

/**
 * One source's settings. Every key is optional: for an existing source an absent key leaves
 * the stored value alone (admin edits survive); the API applies defaults for new sources and
 * requires `path` there. Unknown keys (including pre-2020 `username`/`password`) are dropped.
 */
export const SourceSettings = z.object({
  path: checked(z.string().min(1).max(4096), (value) =>
    value.includes('\0') ? 'must not contain NUL' : undefined,
  ).optional(),
  frequency: Frequency.nullable().optional(),
  /** `""` keeps everything. */
  retention: Retention.nullable().optional(),
  comment: z.string().max(200).nullable().optional(),
  /** A number or a string, stored as a string. */
  bwlimit: z
    .preprocess((value) => (typeof value === 'number' ? String(value) : value), checked(z.string(), bwlimitProblem))
    .nullable()
    .optional(),
  snapshot_mode: z
    .enum([...SNAPSHOT_MODES, ''])
    .nullable()
    .optional()
    .transform((value) => (value === '' ? null : value)),
  preserve_hard_links: Flag.optional(),
  shared_service: Flag.optional(),
  large_rotating_files: Flag.optional(),
  large_modifying_files: Flag.optional(),
  filter: z.array(FilterLine).optional(),
  exclude: z.array(FilterLine).optional(),
});
export type SourceSettings = z.output<typeof SourceSettings>;

/** The agent's whole `sources` map, keyed by validated source name. */
export const SourceSettingsMap = z.record(SourceName, SourceSettings, {
  // Only for a non-object: problems with a name or a value keep their own messages.
  error: (issue) => (issue.code === 'invalid_type' ? 'Invalid type for "sources"' : undefined),
});
