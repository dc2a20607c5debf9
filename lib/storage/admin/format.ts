// The human output of each command: tables an operator reads (one row per snapshot), where
// --json prints the commands' data as it is.
import { type Cell, renderTable } from '../../common/table.js';
import type { ExpireResult, MachineListing, ManifestResult, VerifyResult } from './commands.js';

type Row = Record<string, Cell>;

export function formatListing(listing: readonly MachineListing[]): string[] {
  const rows = listing.flatMap<Row>(({ machine, names, sources }) => {
    const entries = Object.entries(sources);
    if (entries.length === 0) return [{ machine, names, source: null, snapshot: null, mode: null, finished: null }];
    return entries.flatMap<Row>(([source, snapshots]) =>
      snapshots.length === 0
        ? [{ machine, names, source, snapshot: null, mode: null, finished: null }]
        : snapshots.map((s) => ({
            machine,
            names,
            source,
            snapshot: s.name,
            mode: s.mode,
            finished: s.finished,
            // With --sizes only (lib/storage/admin/sizes.ts).
            ...('size' in s ? { size: s.size as Cell, files: (s as { files?: Cell }).files ?? null } : {}),
          })),
    );
  });
  const count = listing.reduce(
    (sum, { sources }) => sum + Object.values(sources).reduce((n, snapshots) => n + snapshots.length, 0),
    0,
  );
  const columns = rows.some((row) => 'size' in row)
    ? ['machine', 'names', 'source', 'snapshot', 'mode', 'finished', 'size', 'files']
    : undefined;
  return [...renderTable(rows, columns), '', `${plural(listing.length, 'machine')}, ${plural(count, 'snapshot')}`];
}

export function formatVerified(result: VerifyResult): string[] {
  const checked =
    result.mode === 'borg'
      ? 'borg check --verify-data'
      : `${plural(result.checkedFiles, 'file')}, ${result.checkedBytes} bytes against the manifest` +
        (result.manifest?.recorded === 'after-the-fact' ? ` recorded after the fact (${result.manifest.created})` : '');
  const fields: [string, string | number | undefined][] = [
    ['machine', result.machine],
    ['source', result.source],
    ['snapshot', result.name],
    ['mode', result.mode],
    ['finished', result.finished],
    ['path', result.path],
    ['checked', checked],
  ];
  const present = fields.flatMap(([field, value]) => (value === undefined ? [] : [{ field, value: String(value) }]));
  const summary = renderTable(present).slice(1);
  if (result.problems.length === 0) return ['OK', ...summary];
  const rows = result.problems.map(({ kind, path, detail }) => ({ kind, path: path === '' ? '-' : path, detail }));
  return [problemsLine(result), ...summary, '', ...renderTable(rows)];
}

/** `N problems in snapshot X: 1 content, 2 missing`. */
export function problemsLine(result: VerifyResult): string {
  const counts = new Map<string, number>();
  for (const { kind } of result.problems) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const kinds = [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
  return `${plural(result.problems.length, 'problem')} in snapshot ${result.name}: ${kinds}`;
}

export function formatManifest(result: ManifestResult): string[] {
  const rows = [
    { field: 'snapshot', value: result.name },
    { field: 'manifest', value: result.manifest },
    { field: 'recorded', value: result.recorded },
    { field: 'entries', value: String(result.entries) },
    { field: 'hashed', value: String(result.hashed) },
  ];
  return ['Recorded', ...renderTable(rows).slice(1)];
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
