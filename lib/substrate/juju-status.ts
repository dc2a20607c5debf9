// `juju status --format json` (docs/charm-runtime.md, "Bundles and `juju status`") read into the
//   drivers' ModelStatus. Both drivers feed it: the Juju driver with the CLI's output, the local
//   driver with the simulator's status() (which is modelled on the same JSON), so scenarios see one
//   shape whatever the substrate.
import { type ApplicationStatus, type ModelStatus, type UnitStatus } from './driver.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function field(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** `app/12` sorts after `app/2`: by application, then unit number. */
export function compareUnitNames(a: string, b: string): number {
  const [appA = '', numA = ''] = a.split('/');
  const [appB = '', numB = ''] = b.split('/');
  if (appA !== appB) return appA < appB ? -1 : 1;
  return Number(numA) - Number(numB);
}

/** endpoint -> application names, from either shape: [3.0] a list of names, [3.1+] a list of objects. */
function parseRelations(value: unknown): Record<string, string[]> {
  const relations: Record<string, string[]> = {};
  if (!isObject(value)) return relations;
  for (const [endpoint, entries] of Object.entries(value)) {
    const names = (Array.isArray(entries) ? entries : [])
      .map((entry) => (typeof entry === 'string' ? entry : text(field(entry, 'related-application'))))
      .filter((name) => name !== '');
    relations[endpoint] = [...new Set(names)];
  }
  return relations;
}

function parseApplication(name: string, entry: unknown): ApplicationStatus {
  const status = field(entry, 'application-status');
  const subordinateTo = field(entry, 'subordinate-to');
  return {
    name,
    charm: text(field(entry, 'charm')),
    status: text(field(status, 'current')),
    message: text(field(status, 'message')),
    subordinateTo: Array.isArray(subordinateTo) ? subordinateTo.filter((s): s is string => typeof s === 'string') : [],
    relations: parseRelations(field(entry, 'relations')),
  };
}

/** Where a unit runs: its own machine and address, or (subordinates) its principal's. */
interface Placement {
  readonly machine: string;
  readonly address: string;
  readonly principal?: string;
}

function parseUnit(name: string, entry: unknown, placement: Placement): UnitStatus {
  if (!isObject(entry)) throw new Error(`juju status: unit ${name} is ${describe(entry)}, not an object`);
  const workload = entry['workload-status'];
  if (!isObject(workload) || typeof workload['current'] !== 'string')
    throw new Error(`juju status: unit ${name} has no workload-status.current`);
  return {
    name,
    app: name.split('/')[0] ?? name,
    workload: workload['current'],
    message: text(workload['message']),
    agent: text(field(entry['juju-status'], 'current')),
    machine: placement.machine,
    address: placement.address,
    // Juju omits `leader` when false.
    leader: entry['leader'] === true,
    ...(placement.principal === undefined ? {} : { principal: placement.principal }),
  };
}

/** Reads `juju status --format json` (Juju 3.x, or the simulator's rendering of it). */
export function parseJujuStatus(json: unknown): ModelStatus {
  if (!isObject(json)) throw new Error(`juju status: expected a JSON object, got ${describe(json)}`);
  const model = json['model'];
  const rawApps = isObject(json['applications']) ? json['applications'] : {};
  const applications: Record<string, ApplicationStatus> = {};
  const units: UnitStatus[] = [];
  for (const [appName, entry] of Object.entries(rawApps)) {
    applications[appName] = parseApplication(appName, entry);
    // A subordinate application has no `units`: its units are under each principal's `subordinates`.
    const appUnits = field(entry, 'units');
    if (!isObject(appUnits)) continue;
    for (const [unitName, unitEntry] of Object.entries(appUnits)) {
      const principal = parseUnit(unitName, unitEntry, {
        machine: text(field(unitEntry, 'machine')),
        address: text(field(unitEntry, 'public-address')),
      });
      units.push(principal);
      const subordinates = field(unitEntry, 'subordinates');
      if (!isObject(subordinates)) continue;
      for (const [subName, subEntry] of Object.entries(subordinates)) {
        units.push(
          parseUnit(subName, subEntry, { machine: principal.machine, address: principal.address, principal: unitName }),
        );
      }
    }
  }
  units.sort((a, b) => compareUnitNames(a.name, b.name));
  return {
    model: isObject(model) ? text(model['name']) : text(model),
    applications,
    units: Object.fromEntries(units.map((unit) => [unit.name, unit])),
  };
}

/** Units whose workload is `error` (a failed hook), sorted by name. */
export function unitsInError(status: ModelStatus): UnitStatus[] {
  return Object.values(status.units)
    .filter((unit) => unit.workload === 'error')
    .sort((a, b) => compareUnitNames(a.name, b.name));
}
