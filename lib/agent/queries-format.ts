import { renderTable } from '../common/table.js';
import type { ParsedAnswer } from '../turku/protocol/queries.js';

/**
 * How turku-agent-ping prints a query's answer: tables for people (times in the agent's zone,
 * sizes in binary units), or one JSON document with `--json`.
 */

/**
 * `2026-12-05 11:37:06 +01:00` in `timeZone` (the process's by default); the text itself if not a
 * time. Intl rather than Temporal: the agent's bundle stays without the polyfill.
 */
export function zonedTime(iso: string | null | undefined, timeZone?: string): string | null {
  if (iso === null || iso === undefined) return null;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', {
      ...(timeZone === undefined ? {} : { timeZone }),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : String(parts.timeZoneName).replace('GMT', '');
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${offset}`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `512 B`, `1.5 KiB`, `23 GiB`: three significant digits at most. */
export function humanSize(bytes: number | null | undefined): string | null {
  if (bytes === null || bytes === undefined) return null;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const shown = value >= 100 ? Math.round(value).toString() : value.toFixed(value >= 10 ? 1 : 2);
  return `${shown.includes('.') ? shown.replace(/\.?0+$/, '') : shown} ${UNITS[unit]}`;
}

export interface Asked {
  readonly storage: string;
  /** Times are shown in it (default: the process's zone). */
  readonly timeZone?: string;
}

/** The human text of an answer (which must have its end line). */
export function formatAnswer(answer: ParsedAnswer, asked: Asked): string {
  const lines = bodyLines(answer, asked);
  const end = answer.end;
  if (end !== undefined) {
    if (end.more > 0)
      lines.push(`... and ${end.more} more not shown (raise --limit, up to the maximum, or narrow the query)`);
    if (!end.complete)
      lines.push(`Incomplete: the storage stopped at its time limit${end.note ? ` (${end.note})` : ''}`);
    else if (answer.header.kind === 'find' && end.note) lines.push(`(${end.note})`);
  }
  return `${lines.join('\n')}\n`;
}

function bodyLines(answer: ParsedAnswer, asked: Asked): string[] {
  const { header } = answer;
  const localTime = (iso: string | null | undefined) => zonedTime(iso, asked.timeZone);
  switch (header.kind) {
    case 'list-snapshots': {
      const rows = answer.snapshots.map((s) => ({
        snapshot: s.name,
        mode: s.mode,
        finished: localTime(s.time),
        size: humanSize(s.size),
        files: s.files,
      }));
      const title = `Snapshots of ${header.source} on storage ${asked.storage}:`;
      return [title, ...renderTable(rows, ['snapshot', 'mode', 'finished', 'size', 'files'])];
    }
    case 'list-files': {
      const listing = answer.listing;
      const where = listing?.path === '' || listing === undefined ? '(top)' : listing.path;
      const title =
        `${header.source} ${where} in snapshot ${listing?.snapshot ?? '?'}` +
        ` (finished ${localTime(listing?.time) ?? '?'}) on storage ${asked.storage}:`;
      const rows = answer.entries.map((e) => ({
        mode: e.mode,
        size: e.size,
        mtime: localTime(e.mtime),
        name: e.target === undefined ? e.name : `${e.name} -> ${e.target}`,
      }));
      return [title, ...renderTable(rows, ['mode', 'size', 'mtime', 'name'])];
    }
    case 'find': {
      const rows = answer.matches.flatMap((match) =>
        match.events.map((event) => ({
          path: match.path,
          snapshot: event.snapshot,
          finished: localTime(event.time),
          change: event.change,
          size: event.size ?? null,
          mtime: localTime(event.mtime),
          held: match.held,
        })),
      );
      const title = `Paths of ${header.source} matching on storage ${asked.storage} (HELD: in how many snapshots):`;
      return [title, ...renderTable(rows, ['path', 'snapshot', 'finished', 'change', 'size', 'mtime', 'held'])];
    }
    default:
      return [`Answer of kind ${header.kind} from storage ${asked.storage}`];
  }
}

/** The `--json` document: what the storage answered, with the storage's name. */
export function answerJson(answer: ParsedAnswer, asked: Asked): string {
  const { header, end } = answer;
  const rows =
    header.kind === 'list-snapshots'
      ? { snapshots: answer.snapshots.map(({ type: _type, ...rest }) => rest) }
      : header.kind === 'list-files'
        ? {
            snapshot: answer.listing?.snapshot ?? null,
            time: answer.listing?.time ?? null,
            path: answer.listing?.path ?? '',
            entries: answer.entries.map(({ type: _type, ...rest }) => rest),
          }
        : { matches: answer.matches.map(({ type: _type, ...rest }) => rest) };
  const document = {
    version: header.version,
    kind: header.kind,
    storage: asked.storage,
    source: header.source,
    ...rows,
    more: end?.more ?? 0,
    complete: end?.complete ?? false,
    ...(end?.note === undefined ? {} : { note: end.note }),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
