// The principals' sources: each backup-sources relation's principal unit publishes `sources`
// (interface turku-sources); the charm writes it to sources.d/<principal app>.json. Only files
// the charm wrote (remembered with state-set) are ever removed, never an operator's own file.
import { readFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { HookTools } from '../../../lib/charm/index.js';
import { readSources, sourcesFileText } from '../../../lib/charm-interfaces/turku-sources.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';

export const SOURCES_ENDPOINT = 'backup-sources';
/** state-set key: JSON list of the principal applications whose sources.d file the charm wrote. */
export const WRITTEN_KEY = 'sources-files';

/** What one backup-sources relation asks for. */
export type PrincipalSources =
  | { readonly app: string; readonly kind: 'file'; readonly text: string; readonly dropped: readonly string[] }
  | { readonly app: string; readonly kind: 'none' }
  | { readonly app: string; readonly kind: 'bad'; readonly problems: readonly string[] };

/** The sources each related principal publishes, read from its unit bag (container scope: one unit). */
export async function readPrincipalSources(tools: HookTools): Promise<PrincipalSources[]> {
  const result: PrincipalSources[] = [];
  for (const relation of await tools.relationIds(SOURCES_ENDPOINT)) {
    const app = await tools.relationRemoteApp(relation);
    const [unit] = await tools.relationList(relation);
    if (unit === undefined) {
      result.push({ app, kind: 'none' });
      continue;
    }
    const read = readSources(await tools.relationGet(relation, unit));
    if (read.ok) {
      result.push({ app, kind: 'file', text: sourcesFileText(read.value.sources), dropped: read.value.dropped });
    } else if (read.problems.length === 1 && read.problems[0] === 'sources: required') {
      result.push({ app, kind: 'none' }); // not published yet
    } else {
      result.push({ app, kind: 'bad', problems: read.problems });
    }
  }
  return result;
}

export interface SourcesPlan {
  /** Files to (re)write: app -> text. */
  readonly write: ReadonlyMap<string, string>;
  /** Charm-written files whose relation is gone or that no longer publishes. */
  readonly remove: readonly string[];
  /** The apps whose file the charm owns after this hook. */
  readonly written: readonly string[];
}

/**
 * Pure: what to do with sources.d. A principal with bad data keeps its previous file (backups go
 * on as before until it publishes good data again) and gets no new one.
 */
export function planSources(
  principals: readonly PrincipalSources[],
  previouslyWritten: readonly string[],
): SourcesPlan {
  const write = new Map<string, string>();
  const keep = new Set<string>();
  for (const principal of principals) {
    if (principal.kind === 'file') write.set(principal.app, principal.text);
    else if (principal.kind === 'bad' && previouslyWritten.includes(principal.app)) keep.add(principal.app);
  }
  const remove = previouslyWritten.filter((app) => !write.has(app) && !keep.has(app));
  const written = [...new Set([...write.keys(), ...keep])].sort();
  return { write, remove, written };
}

export function sourcesFile(sourcesDir: string, app: string): string {
  return join(sourcesDir, `${app}.json`);
}

/** Applies the plan; returns the files that changed (written or removed). */
export async function applySources(sourcesDir: string, plan: SourcesPlan): Promise<string[]> {
  await mkdir(sourcesDir, { recursive: true });
  const changed: string[] = [];
  for (const [app, text] of plan.write) {
    const file = sourcesFile(sourcesDir, app);
    if ((await readFile(file, 'utf8').catch(() => undefined)) === text) continue;
    await writeFileAtomic(file, text, { mode: 0o644 });
    changed.push(file);
  }
  for (const app of plan.remove) {
    const file = sourcesFile(sourcesDir, app);
    await rm(file, { force: true });
    changed.push(file);
  }
  return changed;
}

/** The apps recorded by a previous hook (a damaged value counts as none). */
export function parseWritten(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}
