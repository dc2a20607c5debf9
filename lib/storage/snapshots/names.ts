import { randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { Temporal } from 'temporal-polyfill';

import { sortedJson, writeFileAtomic } from '../../common/atomic-write.js';
import { errorMessage, isErrno } from '../../common/errors.js';
import { type Snapshot } from '../../turku/retention.js';
import { toInstant } from '../../turku/time.js';
import { type SnapshotLog } from './types.js';

/**
 * Snapshot names, sidecars and the candidates of a `<source>.snapshots/` directory
 * (docs/datapath.md, "Snapshots on disk"). The formats are shared with original storages, which may
 * take over the same volumes.
 */

export const LATEST = 'latest';
/** A directory being (or left half-way) deleted. */
export const DELETE_PREFIX = '_delete-';

/** `<source>_<YYYYmmdd-HHMMSS>_<xxxx>`, the time being sync_finish in the storage's zone. */
export function snapshotName(source: string, finish: Date, timeZone: string, suffix = randomSuffix()): string {
  const local = toInstant(finish).toZonedDateTimeISO(timeZone);
  const date = `${pad(local.year, 4)}${pad(local.month)}${pad(local.day)}`;
  const time = `${pad(local.hour)}${pad(local.minute)}${pad(local.second)}`;
  return `${source}_${date}-${time}_${suffix}`;
}

/** The first 4 hex digits of a v4 UUID. */
export function randomSuffix(): string {
  return randomUUID().slice(0, 4);
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** ISO 8601 in UTC with microseconds and a numeric offset (`+00:00`, never `Z`: originals parse it). */
export function formatSidecarTime(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000+00:00`;
}

const ISO_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:(Z)|([+-])(\d{2}):?(\d{2})?)?$/i;

/** A sidecar timestamp: 0–6 fraction digits; an offset, `Z`, or none (then local to `timeZone`). */
export function parseSidecarTime(text: string, timeZone: string): Date | null {
  const match = ISO_TIME.exec(text);
  if (!match) return null;
  const [, date, time, fraction = '', zulu, sign, hours, minutes = '00'] = match;
  const local = `${date}T${time}.${fraction.padEnd(6, '0')}`;
  const offset = zulu ? '+00:00' : sign === undefined ? null : `${sign}${hours}:${minutes}`;
  try {
    const instant =
      offset === null
        ? Temporal.PlainDateTime.from(local, { overflow: 'reject' }).toZonedDateTime(timeZone).toInstant()
        : Temporal.Instant.from(`${local}${offset}`);
    return new Date(instant.epochMilliseconds);
  } catch {
    return null;
  }
}

const LEGACY_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$/;
const LEGACY_EPOCH = /^\d+(?:\.\d+)?$/;

/**
 * The finish time a pre-2020 storage encoded in a snapshot's name: naive ISO local to
 * `timeZone`, or decimal epoch seconds. Names with `save` (protected by hand) or `working` are not.
 */
export function parseLegacyName(name: string, timeZone: string): Date | null {
  if (name.includes('save') || name === 'working') return null;
  if (LEGACY_ISO.test(name)) return parseSidecarTime(name, timeZone);
  if (LEGACY_EPOCH.test(name)) {
    const date = new Date(Number(name) * 1000);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

export interface Sidecar {
  readonly base: string | null;
  readonly name: string;
  readonly sync_begin: string;
  readonly sync_finish: string;
}

export function sidecarPath(snapshotsDir: string, dir: string): string {
  return join(snapshotsDir, `${dir}.json`);
}

export async function writeSidecar(snapshotsDir: string, sidecar: Sidecar): Promise<void> {
  await writeFileAtomic(sidecarPath(snapshotsDir, sidecar.name), sortedJson({ ...sidecar }));
}

/** A snapshot retention may consider: a base for the next backup, and deletable. */
export interface Candidate extends Snapshot {
  /** The directory's name in `<source>.snapshots/`. */
  readonly dir: string;
  /** The sidecar's `name`, else the directory's. */
  readonly name: string;
  readonly base: string | null;
}

/** `writeFileAtomic` and the `latest` swap leave `<x>.tmp<uuid>~` behind only if interrupted. */
export function isTemporaryName(entry: string): boolean {
  return /\.tmp[0-9a-f-]{36}~$/.test(entry);
}

/**
 * The candidates in a snapshots directory (missing: none), oldest first. Directories (symlinks
 * followed) with a sidecar or a legacy name; anything else but `latest`, `_delete-*` and
 * temporary files is an orphan, logged and left alone.
 */
export async function listCandidates(
  snapshotsDir: string,
  options: { readonly timeZone: string; readonly log: SnapshotLog },
): Promise<Candidate[]> {
  let entries: string[];
  try {
    entries = await readdir(snapshotsDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
  const present = new Set(entries);
  const candidates: Candidate[] = [];
  const orphans: string[] = [];
  for (const entry of entries.sort()) {
    if (entry === LATEST || entry.startsWith(DELETE_PREFIX) || isTemporaryName(entry)) continue;
    if (!(await isDirectory(join(snapshotsDir, entry)))) {
      // A sidecar (or a manifest) is accounted for with its directory.
      if (!companionOf(entry, present)) orphans.push(entry);
      continue;
    }
    const candidate = present.has(`${entry}.json`)
      ? await fromSidecar(snapshotsDir, entry, options)
      : fromLegacyName(entry, options.timeZone);
    if (candidate) candidates.push(candidate);
    else orphans.push(entry);
  }
  if (orphans.length > 0) {
    options.log.info(`Not snapshots, left alone in ${snapshotsDir}: ${orphans.join(', ')}`);
  }
  return candidates.sort(byFinish);
}

/** `<dir>.json`, `<dir>.manifest.gz` and `<dir>.manifest-delta.gz` (lib/storage/manifest/files.ts) of a directory present. */
function companionOf(entry: string, present: ReadonlySet<string>): boolean {
  const dir = /^(.+)(?:\.json|\.manifest\.gz|\.manifest-delta\.gz)$/.exec(entry)?.[1];
  return dir !== undefined && present.has(dir);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false; // e.g. a dangling symlink
  }
}

async function fromSidecar(
  snapshotsDir: string,
  dir: string,
  options: { readonly timeZone: string; readonly log: SnapshotLog },
): Promise<Candidate | null> {
  let data: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(sidecarPath(snapshotsDir, dir), 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      data = parsed as Record<string, unknown>;
    else options.log.warning(`Sidecar ${dir}.json is not a JSON object`);
  } catch (error) {
    options.log.warning(`Cannot read sidecar ${dir}.json: ${errorMessage(error)}`);
  }
  const finish =
    (typeof data.sync_finish === 'string' ? parseSidecarTime(data.sync_finish, options.timeZone) : null) ??
    parseLegacyName(dir, options.timeZone);
  if (finish === null) return null;
  return {
    dir,
    name: typeof data.name === 'string' && data.name !== '' ? data.name : dir,
    base: typeof data.base === 'string' ? data.base : null,
    finishedAt: finish,
  };
}

function fromLegacyName(dir: string, timeZone: string): Candidate | null {
  const finish = parseLegacyName(dir, timeZone);
  return finish === null ? null : { dir, name: dir, base: null, finishedAt: finish };
}

/** Oldest first, ties by name: the last one is the base of the next backup. */
export function byFinish(a: Snapshot, b: Snapshot): number {
  const byTime = a.finishedAt.getTime() - b.finishedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
