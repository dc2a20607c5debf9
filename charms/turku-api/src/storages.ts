// What the turku-storage units report on the `storages` relation (docs/relations.md): read for the
// status line and merged with the API's own view of its storages in the list-storages action.
// A unit with bad data is reported, never a hook failure: it is the storage's to fix.
import type { HookTools } from '../../../lib/charm/index.js';
import { type StorageUnitBag, readStorageUnit } from '../../../lib/charm-interfaces/index.js';

export type StorageUnitReport =
  | { readonly unit: string; readonly ok: true; readonly value: StorageUnitBag }
  | { readonly unit: string; readonly ok: false; readonly problems: string[] };

/** Every storage unit that published something (a unit that wrote nothing yet is left out). */
export async function readStorageUnits(tools: HookTools): Promise<StorageUnitReport[]> {
  const reports: StorageUnitReport[] = [];
  for (const relation of await tools.relationIds('storages')) {
    for (const unit of await tools.relationList(relation)) {
      const bag = await tools.relationGet(relation, unit);
      if (bag['storage-name'] === undefined) continue;
      const read = readStorageUnit(bag);
      reports.push(read.ok ? { unit, ok: true, value: read.value } : { unit, ok: false, problems: read.problems });
    }
  }
  return reports;
}

/** `953869` MiB -> `932 GiB`. */
export function formatMebibytes(mib: number): string {
  if (mib >= 1024 * 1024) return `${(mib / (1024 * 1024)).toFixed(1)} TiB`;
  if (mib >= 1024) return `${Math.round(mib / 1024)} GiB`;
  return `${mib} MiB`;
}

/** The status line's storage part, e.g. `storages: primary 500 GiB free; bad data from x/1 (...)`. */
export function storagesStatus(reports: readonly StorageUnitReport[]): string {
  const good = reports.flatMap((report) => (report.ok ? [report.value] : []));
  const parts = [
    good.length === 0
      ? 'no storages related'
      : `storages: ${good
          .map((value) => `${value['storage-name']} ${formatMebibytes(value['space-available-mib'])} free`)
          .join(', ')}`,
  ];
  for (const report of reports) {
    if (!report.ok) parts.push(`bad data from ${report.unit} (${report.problems.join('; ')})`);
  }
  return parts.join('; ');
}

/** A row of `turku-api storages --json` (lib/api/admin/commands.ts StorageRow). */
export interface RegisteredStorage {
  readonly name: string;
  readonly active: boolean;
  readonly healthy: boolean;
  readonly ssh: string;
  readonly space_total_mib: number;
  readonly space_available_mib: number;
  readonly machines: number;
  readonly date_checked_in: string | null;
}

export interface MergedStorage {
  readonly name: string;
  /** Registered at the API (it posted storage_update_config). */
  readonly registered: boolean;
  /** The storage unit that reports it on the storages relation, if any. */
  readonly unit: string | null;
  readonly active: boolean | null;
  readonly healthy: boolean | null;
  readonly machines: number;
  readonly ssh: string;
  readonly 'space-total-mib': number;
  readonly 'space-available-mib': number;
  readonly 'date-checked-in': string | null;
}

/** The API's storages and the relation's, one row per storage name (the relation's numbers are fresher). */
export function mergeStorages(
  registered: readonly RegisteredStorage[],
  reports: readonly StorageUnitReport[],
): MergedStorage[] {
  const related = new Map<string, { unit: string; value: StorageUnitBag }>();
  for (const report of reports) if (report.ok) related.set(report.value['storage-name'], report);
  const names = [...new Set([...registered.map((row) => row.name), ...related.keys()])].sort();
  return names.map((name) => {
    const db = registered.find((row) => row.name === name);
    const rel = related.get(name);
    const relSsh = rel && `${rel.value['ssh-user']}@${rel.value['ssh-host']}:${rel.value['ssh-port']}`;
    return {
      name,
      registered: db !== undefined,
      unit: rel?.unit ?? null,
      active: db?.active ?? null,
      healthy: db?.healthy ?? null,
      machines: db?.machines ?? 0,
      ssh: relSsh ?? db?.ssh ?? '',
      'space-total-mib': rel?.value['space-total-mib'] ?? db?.space_total_mib ?? 0,
      'space-available-mib': rel?.value['space-available-mib'] ?? db?.space_available_mib ?? 0,
      'date-checked-in': db?.date_checked_in ?? null,
    };
  });
}
