// A scenario's event as the model runs it: the hook (or action task) with the relation, storage or
// secret it names, and the model moved to where Juju would be when that hook runs (a relation
// being broken is dying, a created relation not yet seen, an action task queued).
import { validateActionParams } from './action-params.js';
import { type ActionEvent, type CharmEvent, type HookEvent } from './events.js';
import { type Model, type Relation, type Unit, type UnitRelationView } from './model.js';
import { type LocalUnit, type Resolved, findRelation, findSecret, findStorage } from './scenario-input.js';
import { type DeepReadonly, type ScenarioEvent, type State } from './scenario-state.js';

export function toCharmEvent(
  local: LocalUnit,
  model: Model,
  event: ScenarioEvent,
  state: DeepReadonly<State>,
  resolved: Resolved,
): CharmEvent {
  switch (event.kind) {
    case 'hook':
      return { kind: 'hook', name: event.name };
    case 'relation': {
      const given = findRelation(resolved, state, event.relation) as Resolved['relations'][number];
      const relation = model.relations[given.id] as Relation;
      const view = (model.units[local.unitName] as Unit).relations[given.id] as UnitRelationView;
      if (event.hook === 'created') view.created = false;
      if (event.hook === 'broken') {
        view.broken = true;
        relation.life = 'dying';
      }
      if (event.hook === 'departed' && event.departingUnit === local.unitName)
        (model.units[local.unitName] as Unit).life = 'dying';
      const hook: HookEvent = {
        kind: 'hook',
        name: `${given.endpoint}-relation-${event.hook}`,
        relationId: given.id,
        remoteApp: event.remoteAppUnknown === true ? '' : given.remoteApp,
        remoteUnit: event.remoteUnit ?? '',
      };
      if (event.hook === 'departed') hook.departingUnit = event.departingUnit ?? event.remoteUnit ?? '';
      return hook;
    }
    case 'storage': {
      const storage = findStorage(resolved, state, event.storage) as { name: string; index: number };
      return {
        kind: 'hook',
        name: `${storage.name}-storage-${event.hook}`,
        storageId: `${storage.name}/${storage.index}`,
      };
    }
    case 'secret': {
      const secret = findSecret(resolved, state, event.secret) as Resolved['secrets'][number];
      const hook: HookEvent = { kind: 'hook', name: `secret-${event.hook}`, secretId: `secret:${secret.id}` };
      if (event.revision !== undefined) hook.secretRevision = event.revision;
      return hook;
    }
    case 'action': {
      const action = local.meta.actions[event.name];
      const params =
        action === undefined ? { ...event.params } : validateActionParams(event.name, action, event.params);
      const taskId = String(model.nextTaskId);
      model.nextTaskId += 1;
      model.tasks[taskId] = {
        id: taskId,
        unit: local.unitName,
        name: event.name,
        params,
        status: 'pending',
        message: '',
        results: {},
        log: [],
      };
      const actionEvent: ActionEvent = { kind: 'action', name: event.name, taskId };
      return actionEvent;
    }
  }
}
