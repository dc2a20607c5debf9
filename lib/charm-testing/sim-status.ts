// `juju status --format json` rendered from the fake's model
//   (docs/charm-runtime.md, "Bundles and `juju status`"): what integration-style tests poll.
//   Subordinate units appear under their principal unit, never as the app's `units`.
import { parseBaseName } from '../charm-pack/bases.js';
import { type Application, type Model, type Unit, compareUnitNames, ownEnd, remoteApp } from './model.js';

/** Juju's status severities: the application status is its most severe unit status. */
const SEVERITY: Record<string, number> = {
  error: 100,
  blocked: 90,
  waiting: 80,
  maintenance: 70,
  terminated: 60,
  active: 50,
  unknown: 40,
};

/**
 * `juju status --format json` (docs/charm-runtime.md, "Bundles and `juju status`", Juju 3.1+
 * relations form); `busy` machines show units executing.
 */
export function renderStatus(model: Model, busy: ReadonlySet<string>): Record<string, unknown> {
  const machines: Record<string, unknown> = {};
  for (const machine of Object.values(model.machines)) {
    machines[machine.id] = {
      'juju-status': { current: 'started' },
      'dns-name': machine.address,
      'ip-addresses': [machine.address],
      base: { name: 'ubuntu', channel: '24.04' },
    };
  }
  const applications: Record<string, unknown> = {};
  for (const app of Object.values(model.applications)) applications[app.name] = appStatus(model, busy, app);
  return { model: { name: model.name, type: 'iaas', version: model.jujuVersion }, machines, applications };
}

function unitStatus(model: Model, busy: ReadonlySet<string>, unit: Unit): Record<string, unknown> {
  const app = model.applications[unit.app];
  const workload = unit.error
    ? { current: 'error', message: `hook failed: "${unit.error.hook}"`, since: unit.workloadStatus.since }
    : { current: unit.workloadStatus.status, message: unit.workloadStatus.message, since: unit.workloadStatus.since };
  const executing = busy.has(unit.machine);
  const entry: Record<string, unknown> = {
    'workload-status': workload,
    'juju-status': {
      current: unit.installed ? (executing ? 'executing' : 'idle') : 'allocating',
      version: model.jujuVersion,
    },
  };
  if (app?.leader === unit.name) entry.leader = true;
  // Subordinates are listed under their principal and carry no machine of their own.
  if (unit.principal === undefined) entry.machine = unit.machine;
  entry['public-address'] = model.machines[unit.machine]?.address ?? '';
  if (unit.ports.length > 0) entry['open-ports'] = [...unit.ports];
  return entry;
}

/** `ubuntu@22.04` -> {name: ubuntu, channel: 22.04}; applications without a declared base show 24.04. */
function statusBase(base: string | undefined): { name: string; channel: string } {
  return parseBaseName(base ?? 'ubuntu@24.04', 'base');
}

function appStatus(model: Model, busy: ReadonlySet<string>, app: Application): Record<string, unknown> {
  const units = Object.values(model.units)
    .filter((u) => u.app === app.name)
    .sort((p, q) => compareUnitNames(p.name, q.name));
  const entry: Record<string, unknown> = {
    charm: `local:${app.charm.name}-${app.charmRevision}`,
    'charm-origin': 'local',
    'charm-name': app.charm.name,
    'charm-rev': app.charmRevision,
    exposed: app.exposed,
    base: statusBase(app.base),
  };
  if (app.version !== '') entry.version = app.version;
  let appState: Record<string, unknown>;
  if (app.status !== undefined)
    appState = { current: app.status.status, message: app.status.message, since: app.status.since };
  else {
    const worst = units
      .map((u) => (u.error ? 'error' : u.workloadStatus.status))
      .reduce<string>((w, s) => ((SEVERITY[s] ?? 0) > (SEVERITY[w] ?? 0) ? s : w), 'unknown');
    appState = { current: worst };
  }
  entry['application-status'] = appState;
  const relations: Record<string, unknown[]> = {};
  const subordinateTo = new Set<string>();
  for (const relation of Object.values(model.relations).sort((p, q) => p.id - q.id)) {
    const end = ownEnd(relation, app.name);
    if (end === undefined) continue;
    const other = remoteApp(relation, app.name) ?? app.name;
    (relations[end.endpoint] ??= []).push({
      'related-application': other,
      interface: relation.interface,
      scope: relation.scope,
    });
    if (app.charm.subordinate && relation.scope === 'container' && !model.applications[other]?.charm.subordinate)
      subordinateTo.add(other);
  }
  if (Object.keys(relations).length > 0) entry.relations = relations;
  if (app.charm.subordinate) {
    entry['subordinate-to'] = [...subordinateTo].sort();
    return entry;
  }
  const unitEntries: Record<string, unknown> = {};
  for (const unit of units) {
    const unitEntry = unitStatus(model, busy, unit);
    const subs = Object.values(model.units)
      .filter((u) => u.principal === unit.name)
      .sort((p, q) => compareUnitNames(p.name, q.name));
    if (subs.length > 0) {
      const subEntries: Record<string, unknown> = {};
      for (const sub of subs) subEntries[sub.name] = unitStatus(model, busy, sub);
      unitEntry.subordinates = subEntries;
    }
    unitEntries[unit.name] = unitEntry;
  }
  entry.units = unitEntries;
  return entry;
}
