// Action results travel in action-set's argv: Juju's action-set takes `key=value` arguments only
// (no --file, no stdin), and Linux refuses one argument over 128 KiB (tools.ts MAX_ARG_BYTES). A
// listing that grows with the fleet (sources, machines, snapshots) therefore goes out as a bounded
// result, and the whole listing as a file on the unit that the result names
// (docs/charm-runtime.md, "Juju rules the runtime relies on").
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type JujuActionContext } from './context.js';

/** How much of a listing goes into the result by default: a quarter of the argv limit. */
export const INLINE_LISTING_BYTES = 32 * 1024;
/** Full outputs kept per directory; writing one more removes the oldest. */
export const KEPT_OUTPUT_FILES = 20;

/** A listing: array items, or map entries (kept in their insertion order). */
export type Listing = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface BoundedListing {
  /** The first items (or entries) whose JSON fits. */
  value: unknown[] | Record<string, unknown>;
  shown: number;
  total: number;
  truncated: boolean;
}

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * The longest prefix of `listing` whose compact JSON (as action-set gets it) fits `maxBytes`.
 * Items are never cut: an item bigger than the budget ends the prefix.
 */
export function boundListing(listing: Listing, maxBytes: number): BoundedListing {
  const isArray = Array.isArray(listing);
  const parts: [string, unknown][] = isArray
    ? (listing as readonly unknown[]).map((item, index) => [String(index), item])
    : Object.entries(listing);
  // `[]` or `{}`, plus one comma between parts.
  let used = 2;
  let shown = 0;
  for (const [key, item] of parts) {
    const json = isArray ? JSON.stringify(item ?? null) : `${JSON.stringify(key)}:${JSON.stringify(item ?? null)}`;
    const cost = bytes(json) + (shown > 0 ? 1 : 0);
    if (used + cost > maxBytes) break;
    used += cost;
    shown += 1;
  }
  const kept = parts.slice(0, shown);
  return {
    value: isArray ? kept.map(([, item]) => item) : Object.fromEntries(kept),
    shown,
    total: parts.length,
    truncated: shown < parts.length,
  };
}

/** `list-sources-7.json`: the action and its task id, safe as a file name. */
export function outputFileName(juju: Pick<JujuActionContext, 'actionName' | 'actionId'>): string {
  const safe = (text: string) => text.replace(/[^A-Za-z0-9-]/g, '_');
  return `${safe(juju.actionName)}-${safe(juju.actionId)}.json`;
}

/** Keeps the newest `keep` `.json` outputs in `dir`. */
async function pruneOutputs(dir: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  if (names.length <= keep) return;
  const dated = await Promise.all(
    names.map(async (name) => ({ name, mtime: (await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => b.mtime - a.mtime || (a.name < b.name ? 1 : -1));
  await Promise.all(dated.slice(keep).map(({ name }) => rm(join(dir, name), { force: true })));
}

/**
 * Writes `text` to `dir/name` readable by root only (file 0600 in a 0700 directory), whole or
 * not at all (a temporary file renamed over), then prunes old outputs. Returns the path.
 */
export async function writeActionOutput(dir: string, name: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const path = join(dir, name);
  const temporary = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await pruneOutputs(dir, KEPT_OUTPUT_FILES);
  return path;
}

export interface ListingResultsOptions {
  /** The result key the listing goes under, e.g. `sources`. */
  key: string;
  listing: Listing;
  /** Where a full output is written on the unit (the charm's state directory). */
  dir: string;
  /** Inline budget for the listing's JSON (default INLINE_LISTING_BYTES). */
  maxBytes?: number;
}

/**
 * Action results for one listing. When its JSON fits the budget: `{<key>: <JSON>}`. Otherwise the
 * first items that fit, `truncated: "true"`, `shown: "<n>"` and `full-output`: the path of a file
 * on the unit holding the whole listing as JSON (see writeActionOutput).
 */
export async function listingResults(
  juju: Pick<JujuActionContext, 'actionName' | 'actionId'>,
  options: ListingResultsOptions,
): Promise<Record<string, string>> {
  const bounded = boundListing(options.listing, options.maxBytes ?? INLINE_LISTING_BYTES);
  const inline = JSON.stringify(bounded.value);
  if (!bounded.truncated) return { [options.key]: inline };
  const path = await writeActionOutput(
    options.dir,
    outputFileName(juju),
    `${JSON.stringify(options.listing, null, 2)}\n`,
  );
  return { [options.key]: inline, truncated: 'true', shown: String(bounded.shown), 'full-output': path };
}
