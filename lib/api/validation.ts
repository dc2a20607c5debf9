import { setImmediate } from 'node:timers/promises';

import * as z from 'zod';

import { MachineRegistration, UpdateConfigRequest } from '../turku/protocol/api.js';
import { SourceName } from '../turku/protocol/fields.js';
import { formatFirstIssue } from '../turku/protocol/issues.js';
import { SourceSettingsMap, type SourceSettings } from '../turku/protocol/source.js';
import { ApiRefusal } from './errors.js';
import { containsNul } from './request-limits.js';

/** Requests validated against their schemas, and refused with the 400 naming the first problem. */

/**
 * The validated request, as the router hands it to a view; throws the 400 naming its first problem.
 * Call it after authenticating (here, not in router.ts, so the views need not import the router).
 */
export type RequestAfterLogin<T> = () => T;

/** Messages the original gives verbatim; every other validation problem reads "Validation error: …". */
const VERBATIM =
  /^(Missing required |"machine" dict required$|Invalid type for "(sources|machine|storage)"|Invalid (machine )?UUID)/;

export function parseOrRefuse(
  schema: z.ZodType,
  body: Record<string, unknown>,
  options: { noNul?: boolean } = {},
): unknown {
  // PostgreSQL cannot store NUL in text, and no Turku field has a use for it.
  if (options.noNul === true && containsNul(body)) {
    throw new ApiRefusal(400, 'Validation error: text must not contain NUL characters');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const detail = formatFirstIssue(parsed.error);
    throw new ApiRefusal(400, VERBATIM.test(detail) ? detail : `Validation error: ${detail}`);
  }
  return parsed.data;
}

/**
 * `update_config` as the router validates it: every source name, but not yet the sources'
 * settings, which `validSources` checks in batches once the caller is in, so a machine's
 * thousand sources never hold the event loop in one piece.
 */
export const UpdateConfigRequestShallow = UpdateConfigRequest.extend({
  machine: MachineRegistration.extend({
    sources: z
      .record(SourceName, z.unknown(), {
        error: (issue) => (issue.code === 'invalid_type' ? 'Invalid type for "sources"' : undefined),
      })
      .optional(),
  }),
});
export type UpdateConfigRequestShallow = z.output<typeof UpdateConfigRequestShallow>;

const SOURCES_PER_BATCH = 100;
const SourcesBatch = z.object({ sources: SourceSettingsMap });

/** The sources' settings validated, a batch per event-loop turn; throws the 400 of the first problem. */
export async function validSources(
  sources: Readonly<Record<string, unknown>> | undefined,
): Promise<Record<string, SourceSettings> | undefined> {
  if (sources === undefined) return undefined;
  const valid: Record<string, SourceSettings> = {};
  const entries = Object.entries(sources);
  for (let start = 0; start < entries.length; start += SOURCES_PER_BATCH) {
    if (start > 0) await setImmediate();
    const batch = parseOrRefuse(SourcesBatch, {
      sources: Object.fromEntries(entries.slice(start, start + SOURCES_PER_BATCH)),
    }) as z.output<typeof SourcesBatch>;
    for (const [name, settings] of Object.entries(batch.sources)) {
      // A source named "__proto__" stays a plain key.
      Object.defineProperty(valid, name, { value: settings, enumerable: true, writable: true, configurable: true });
    }
  }
  return valid;
}
