// The human output of each command: tables an operator reads (one row per snapshot), where
// --json prints the commands' data as it is.
import { type Cell, renderTable } from '../../common/table.js';
import type { ExpireResult, MachineListing, VerifyResult } from './commands.js';

type Row = Record<string, Cell>;

export function formatListing(listing: readonly MachineListing[]): string[] {
  const rows = listing.flatMap<Row>(({ machine, names, sources }) => {
    const entries = Object.entries(sources);
    if (entries.length === 0) return [{ machine, names, source: null, snapshot: null, mode: null, finished: null }];
    return entries.flatMap<Row>(([source, snapshots]) =>
      snapshots.length === 0
        ? [{ machine, names, source, snapshot: null, mode: null, finished: null }]
        : snapshots.map((s) => ({ machine, names, source, snapshot: s.name, mode: s.mode, finished: s.finished })),
    );
  });
  const count = listing.reduce(
    (sum, { sources }) => sum + Object.values(sources).reduce((n, snapshots) => n + snapshots.length, 0),
    0,
  );
  return [...renderTable(rows), '', `${plural(listing.length, 'machine')}, ${plural(count, 'snapshot')}`];
}

export function formatVerified(result: VerifyResult): string[] {
  const fields: [string, string | number | undefined][] = [
    ['machine', result.machine],
    ['source', result.source],
    ['snapshot', result.name],
    ['mode', result.mode],
    ['finished', result.finished],
    ['entries', result.entries],
    ['path', result.path],
    ['check', result.check ?? 'directory and sidecar readable'],
  ];
  const present = fields.flatMap(([field, value]) => (value === undefined ? [] : [{ field, value: String(value) }]));
  return ['OK', ...renderTable(present).slice(1)];
}

export function formatExpired(result: ExpireResult): string[] {
  const action = result.dry_run ? 'would remove' : 'removed';
  const rows = Object.entries(result.removed).flatMap(([machine, sources]) =>
    Object.entries(sources).flatMap(([source, names]) =>
      names.map((snapshot) => ({ machine, source, snapshot, action })),
    ),
  );
  return [
    ...(rows.length === 0 ? [] : [...renderTable(rows), '']),
    `${action} ${plural(result.count, 'snapshot')}${result.dry_run ? ' (dry run: nothing changed)' : ''}`,
    ...result.busy.map((uuid) => `skipped ${uuid}: a backup is in progress`),
  ];
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
