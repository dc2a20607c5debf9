// Interface `turku-sources`: a principal charm (provides) <-> turku-agent `backup-sources`
// (requires), container scope. docs/relations.md has the tables and an example.
//
// Each principal unit writes `sources` in its own unit bag: the JSON text of exactly what a
// `sources.d/*.json` file holds, a map of source name -> settings. The agent writes it to
// `sources.d/<principal app>.json` and runs turku-update-config, which sends it to the API
// verbatim. The agent side writes nothing.
//
// The settings are checked with the API's own schema (lib/turku/protocol/source.ts, full zod), so
// a principal's mistake is caught here, for that principal alone, instead of failing the whole
// machine's registration. That schema costs start-up time in a bundled charm (docs/relations.md,
// "Start-up cost"): import this module directly, it is not re-exported from index.ts.
import * as z from 'zod/mini';

import { DatabagError } from '../charm/errors.js';
import { type ConfigObject, isConfigObject, selectSources } from '../turku/config.js';
import { formatIssue } from '../turku/protocol/issues.js';
import { type SourceSettings, SourceSettingsMap } from '../turku/protocol/source.js';
import { type Bag, type ReadResult, readBag } from './fields.js';

export const SOURCES_INTERFACE = 'turku-sources';

/** Only the key's presence is checked here: its JSON follows the sources.d rules below. */
export const SourcesUnitBag = z.object({ sources: z.string() });

/** One source as a principal writes it: the input of the API's SourceSettings (unknown keys allowed). */
export type SourceSettingsInput = z.input<typeof SourceSettings> & Record<string, unknown>;

export interface Sources {
  /**
   * The entries to write to `sources.d/<app>.json`, as given (unknown keys kept,
   * docs/datapath.md, "Sources").
   */
  readonly sources: Record<string, ConfigObject>;
  /**
   * Entries without `path`: a sources.d file may hold them, the agent drops them
   * (docs/domain.md, "Config merging").
   */
  readonly dropped: readonly string[];
}

/**
 * Agent side: the principal unit's bag. Accepts and rejects exactly what a `sources.d/*.json`
 * file and the API's `update_config` do: JSON whose top level is a mapping (`null` is empty),
 * entries without `path` dropped, every other entry valid for the API. Problems read like the
 * API's: `sources: source "home": frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)`.
 */
export function readSources(bag: Bag): ReadResult<Sources> {
  const envelope = readBag(SourcesUnitBag, bag);
  if (!envelope.ok) return envelope;
  let parsed: unknown;
  try {
    parsed = JSON.parse(envelope.value.sources);
  } catch {
    return { ok: false, problems: ['sources: expected JSON text'] };
  }
  if (parsed === null) parsed = {};
  if (!isConfigObject(parsed)) {
    return { ok: false, problems: ['sources: expected a JSON object of source name -> settings'] };
  }
  const { sources, dropped } = selectSources(parsed);
  const problems = validate(sources);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { sources, dropped } };
}

/**
 * Principal side: its unit bag. Every entry needs a `path` (the agent would drop it silently)
 * and must be valid for the API; throws DatabagError naming the source and key.
 */
export function writeSources(sources: Readonly<Record<string, SourceSettingsInput>>): Record<string, string> {
  const problems: string[] = [];
  if (!isConfigObject(sources)) problems.push('sources: expected an object of source name -> settings');
  else {
    for (const [name, settings] of Object.entries(sources)) {
      if (!isConfigObject(settings) || typeof settings.path !== 'string' || settings.path === '') {
        problems.push(`sources: source "${name}": path: required`);
      }
    }
    problems.push(...validate(sources));
  }
  if (problems.length > 0) throw new DatabagError(`cannot encode relation data: ${problems.join('; ')}`);
  return { sources: JSON.stringify(sources) };
}

/** The text of `sources.d/<app>.json` for what readSources returned. */
export function sourcesFileText(sources: Sources['sources']): string {
  return `${JSON.stringify(sources, null, 2)}\n`;
}

function validate(sources: unknown): string[] {
  const result = SourceSettingsMap.safeParse(sources);
  if (result.success) return [];
  // formatIssue speaks the API's language when the path starts at `sources`.
  return result.error.issues.map((issue) => `sources: ${formatIssue({ ...issue, path: ['sources', ...issue.path] })}`);
}
