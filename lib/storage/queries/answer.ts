import { join } from 'node:path';

import { errorMessage } from '../../common/errors.js';
import type { WorkloadLogger } from '../../common/workload-log.js';
import { sourceNameProblem } from '../../turku/names.js';
import { compilePattern, patternProblem, snapshotPathParts } from '../../turku/path-pattern.js';
import {
  encodeAnswerLine,
  Query,
  QUERY_VERSION,
  type AnswerLine,
  type EntryLine,
} from '../../turku/protocol/queries.js';
import { machinesDir } from '../machine-dir.js';
import type { StorageSettings } from '../settings.js';
import { snapshotSettings } from '../snapshot-settings.js';
import { borgEntryType, oneLevelArgs, streamBorgItems } from './borg-items.js';
import { ChangeTracker, type PathState } from './changes.js';
import { chooseSnapshot, snapshotTotals, storedSnapshots, type SourceWhere, type StoredSnapshot } from './snapshots.js';
import { entryLine, listDirectory, matchingPaths, QueryRefusal, resolveInside } from './tree.js';

/**
 * [NEW] The storage's answer to a read-only query (docs/datapath.md, "Queries (our extension of
 * the stdin protocol)"): JSON lines on the session's stdout, the header first, then the rows, then
 * an `end` line (or an `error` line). Only the forced command's machine is looked at, whatever the
 * request says; nothing is written, and no API call is made.
 */

export interface QuerySession {
  readonly uuid: string;
  /** The request's `query` object, not yet checked. */
  readonly query: unknown;
  readonly log: WorkloadLogger;
  readonly output: ((text: string) => void) | undefined;
  /** Time allowed for walks (tests shorten it). */
  readonly budgetMs?: Partial<Record<Query['kind'], number>>;
}

/** How long each query may walk snapshots before answering with what it found (ms). */
export const QUERY_BUDGET_MS: Record<Query['kind'], number> = {
  'list-snapshots': 20_000,
  'list-files': 60_000,
  find: 60_000,
};

export async function answerQuery(settings: StorageSettings, session: QuerySession): Promise<number> {
  const send = (line: AnswerLine) => session.output?.(encodeAnswerLine(line));
  const parsed = Query.safeParse(session.query);
  const kind =
    typeof (session.query as { kind?: unknown }).kind === 'string' ? (session.query as { kind: string }).kind : '';
  const source = parsed.success ? parsed.data.source : '';
  send({ type: 'answer', version: QUERY_VERSION, kind, source });
  try {
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new QueryRefusal(
        `invalid query: ${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'not understood'}`,
      );
    }
    const query = parsed.data;
    const problem = sourceNameProblem(query.source);
    if (problem !== undefined) throw new QueryRefusal(`invalid source name: ${problem}`);
    const budget = session.budgetMs?.[query.kind] ?? QUERY_BUDGET_MS[query.kind];
    const deadline = Date.now() + budget;
    const expired = () => Date.now() > deadline;
    const where: SourceWhere = {
      machineDir: join(machinesDir(settings.var_dir), session.uuid),
      source: query.source,
      settings: snapshotSettings(settings),
      log: session.log,
    };
    session.log.info(`Query ${query.kind} of source ${query.source}`);
    switch (query.kind) {
      case 'list-snapshots':
        await listSnapshots(where, expired, send);
        break;
      case 'list-files':
        await listFiles(where, query, expired, send);
        break;
      case 'find':
        await find(where, query, expired, send);
        break;
    }
    return 0;
  } catch (error) {
    const message = error instanceof QueryRefusal ? error.message : `the query failed: ${errorMessage(error)}`;
    session.log.warning(`Query refused: ${message}`);
    send({ type: 'error', message });
    return 1;
  }
}

type Send = (line: AnswerLine) => void;

async function listSnapshots(where: SourceWhere, expired: () => boolean, send: Send): Promise<void> {
  const all = await storedSnapshots(where);
  const totals = await snapshotTotals(all, where, expired);
  for (const snapshot of all) {
    const measured = totals.get(snapshot);
    send({
      type: 'snapshot',
      name: snapshot.name,
      mode: snapshot.mode,
      time: snapshot.finishedAt.toISOString(),
      size: measured?.size ?? null,
      files: measured?.files ?? null,
    });
  }
  const unmeasured = all.filter((snapshot) => !totals.has(snapshot)).length;
  send({
    type: 'end',
    shown: all.length,
    more: 0,
    complete: unmeasured === 0,
    ...(unmeasured === 0 ? {} : { note: `${unmeasured} not measured within the time allowed` }),
  });
}

async function listFiles(
  where: SourceWhere,
  query: Extract<Query, { kind: 'list-files' }>,
  expired: () => boolean,
  send: Send,
): Promise<void> {
  const parts = snapshotPathParts(query.path);
  if (parts === undefined) throw new QueryRefusal('the path must stay inside the snapshot (no "..")');
  const snapshot = chooseSnapshot(await storedSnapshots(where), query.snapshot, where.source);
  const path = parts.join('/');
  send({ type: 'listing', snapshot: snapshot.name, time: snapshot.finishedAt.toISOString(), path });
  const { entries, more, complete } =
    snapshot.mode === 'borg'
      ? await borgListing(where, snapshot, path, query.limit, expired)
      : { ...(await linkDestListing(snapshot.dir!, parts, query.limit)), complete: true };
  for (const entry of entries) send(entry);
  send({ type: 'end', shown: entries.length, more, complete });
}

async function linkDestListing(root: string, parts: readonly string[], limit: number) {
  const resolved = await resolveInside(root, parts);
  if ('dir' in resolved) return listDirectory(resolved.dir, limit);
  return { entries: [await entryLine(parts.at(-1)!, resolved.file, resolved.stats)], more: 0 };
}

/** The direct entries of `path` in an archive; the path itself alone when it is not a directory. */
async function borgListing(
  where: SourceWhere,
  snapshot: StoredSnapshot,
  path: string,
  limit: number,
  expired: () => boolean,
): Promise<{ entries: EntryLine[]; more: number; complete: boolean }> {
  const children: EntryLine[] = [];
  let itself: EntryLine | undefined;
  const args = oneLevelArgs(snapshot.location!, path);
  const outcome = await streamBorgItems(where.settings, args, { log: where.log, expired }, (item) => {
    const line = borgEntry(item);
    if (item.path === path || (path === '' && item.path === '.')) itself = line;
    else if (parentOf(item.path) === path)
      children.push({ ...line, name: item.path.slice(path === '' ? 0 : path.length + 1) });
  });
  if (outcome.failure !== undefined) throw new QueryRefusal(outcome.failure);
  if (path !== '' && itself === undefined && children.length === 0) {
    if (!outcome.complete) throw new QueryRefusal('the time allowed ran out before the path was found');
    throw new QueryRefusal(`no "${path}" in the snapshot`);
  }
  if (itself !== undefined && itself.entry !== 'dir') return { entries: [itself], more: 0, complete: true };
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries: children.slice(0, limit), more: Math.max(0, children.length - limit), complete: outcome.complete };
}

function borgEntry(item: Parameters<Parameters<typeof streamBorgItems>[3]>[0]): EntryLine {
  const entry = borgEntryType(item.type);
  const name = item.path.slice(item.path.lastIndexOf('/') + 1);
  const line: EntryLine = { type: 'entry', name, entry, size: item.size, mode: item.mode, mtime: item.mtime };
  return entry === 'symlink' ? { ...line, target: item.linktarget } : line;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

async function find(
  where: SourceWhere,
  query: Extract<Query, { kind: 'find' }>,
  expired: () => boolean,
  send: Send,
): Promise<void> {
  const problem = patternProblem(query.pattern);
  if (problem !== undefined) throw new QueryRefusal(problem);
  const pattern = compilePattern(query.pattern);
  const all = await storedSnapshots(where);
  if (all.length === 0) throw new QueryRefusal(`no snapshots of source "${where.source}" on this storage`);
  const tracker = new ChangeTracker(query.limit);
  let searched = 0;
  let complete = true;
  for (const snapshot of all) {
    if (expired()) {
      complete = false;
      break;
    }
    const found =
      snapshot.mode === 'borg'
        ? await borgMatches(where, snapshot, pattern, expired)
        : await matchingPaths(snapshot.dir!, pattern, expired);
    // A snapshot searched only in part would show its unseen paths as removed.
    if (!found.complete) {
      complete = false;
      break;
    }
    tracker.observe({ name: snapshot.name, time: snapshot.finishedAt.toISOString() }, found.present);
    searched++;
  }
  const matches = tracker.matches();
  for (const match of matches) send(match);
  const notes = [`searched ${searched} of ${all.length} snapshots`];
  if (!complete) notes.push('the time allowed ran out');
  if (tracker.moreIsLowerBound) notes.push('more matching paths than counted');
  send({ type: 'end', shown: matches.length, more: tracker.more, complete, note: notes.join('; ') });
}

async function borgMatches(
  where: SourceWhere,
  snapshot: StoredSnapshot,
  pattern: ReturnType<typeof compilePattern>,
  expired: () => boolean,
): Promise<{ present: Map<string, PathState>; complete: boolean }> {
  const present = new Map<string, PathState>();
  const prefix = pattern.prefix.join('/');
  const args = ['--', snapshot.location!, ...(prefix === '' ? [] : [prefix])];
  const outcome = await streamBorgItems(where.settings, args, { log: where.log, expired }, (item) => {
    if (item.path === '.' || !pattern.matches(item.path)) return;
    present.set(item.path, { entry: borgEntryType(item.type), size: item.size, mtime: item.mtime });
  });
  if (outcome.failure !== undefined) throw new QueryRefusal(outcome.failure);
  return { present, complete: outcome.complete };
}
