// `juju show-unit <unit>`: the unit's placement, leadership and, per relation, its own and its
// peers' data as the unit sees it (Juju 3's shape: relation-info with application-data,
// local-unit and related-units), read from the model simulator's state.
import type { ModelSimulator } from '../../charm-testing/simulator.js';

export function showUnit(sim: ModelSimulator, unitName: string): Record<string, unknown> {
  const { model } = sim;
  const unit = model.units[unitName];
  if (unit === undefined) throw new Error(`unit "${unitName}" not found`);
  const app = model.applications[unit.app];
  const relationInfo = Object.values(model.relations)
    .filter(
      (relation) => relation.ends.some((end) => end.app === unit.app) && unit.relations[relation.id] !== undefined,
    )
    .map((relation) => {
      const own = relation.ends.find((end) => end.app === unit.app)!;
      const other = relation.peer ? own : relation.ends.find((end) => end.app !== unit.app)!;
      const view = unit.relations[relation.id]!;
      const related = view.joined;
      return {
        'relation-id': relation.id,
        endpoint: own.endpoint,
        'related-endpoint': other.endpoint,
        'application-data': relation.appBags[other.app] ?? {},
        'local-unit': { 'in-scope': view.created && !view.broken, data: relation.unitBags[unitName] ?? {} },
        ...(related.length === 0
          ? {}
          : {
              'related-units': Object.fromEntries(
                related.map((name) => [name, { 'in-scope': true, data: relation.unitBags[name] ?? {} }]),
              ),
            }),
      };
    });
  const machine = model.machines[unit.machine];
  return {
    [unitName]: {
      'workload-version': app?.version ?? '',
      machine: unit.machine,
      'opened-ports': unit.ports,
      'public-address': machine?.address ?? '',
      charm: `local:${app?.charm.name ?? unit.app}-${app?.charmRevision ?? 0}`,
      leader: app?.leader === unitName,
      life: unit.life,
      ...(unit.principal === undefined ? {} : { principal: unit.principal }),
      'relation-info': relationInfo,
    },
  };
}
