// The state after a scenario's event, read back from the model in the input's terms: the same
// relations, secrets and storage, with what the charm left in them.
import { type Application, type Model, type Unit, unitNumber } from './model.js';
import { type LocalUnit, type Resolved } from './scenario-input.js';
import {
  type DeepReadonly,
  type RelationState,
  type SecretOwner,
  type SecretState,
  type State,
} from './scenario-state.js';

export function readState(local: LocalUnit, model: Model, state: DeepReadonly<State>, resolved: Resolved): State {
  const unit = model.units[local.unitName] as Unit;
  const app = model.applications[local.appName] as Application;
  const out: State = structuredClone(state as State);
  out.leader = app.leader === unit.name;
  out.stored = { ...unit.state };
  out.ports = [...unit.ports];
  out.unitStatus = { status: unit.workloadStatus.status, message: unit.workloadStatus.message };
  if (app.status !== undefined) out.appStatus = { status: app.status.status, message: app.status.message };
  if (app.version !== '' || state.workloadVersion !== undefined) out.workloadVersion = app.version;
  if (Object.keys(app.leaderSettings).length > 0 || state.leaderData !== undefined)
    out.leaderData = { ...app.leaderSettings };
  out.relations = resolved.relations.map((given) => {
    const relation = model.relations[given.id];
    const result: RelationState = structuredClone(given as RelationState);
    if (relation === undefined) return result;
    result.localUnitData = { ...(relation.unitBags[unit.name] ?? {}) };
    const localApp = relation.appBags[app.name];
    if (localApp !== undefined) result.localAppData = { ...localApp };
    const remoteApp = relation.peer ? undefined : relation.appBags[given.remoteApp];
    if (remoteApp !== undefined) result.remoteAppData = { ...remoteApp };
    if (given.remoteUnits !== undefined) {
      result.remoteUnits = Object.fromEntries(
        Object.keys(given.remoteUnits ?? {}).map((name) => [name, { ...(relation.unitBags[name] ?? {}) }]),
      );
    }
    return result;
  });
  out.storages = unit.storage.map((id) => ({ name: id.slice(0, id.lastIndexOf('/')), index: unitNumber(id) }));
  out.secrets = Object.values(model.secrets)
    .filter((secret) => secret.owner.kind === 'application' || secret.owner.unit === unit.name)
    .map((secret) => {
      const owner: SecretOwner =
        secret.owner.kind === 'unit'
          ? 'unit'
          : secret.owner.app === app.name
            ? 'application'
            : { app: secret.owner.app };
      const consumer = secret.consumers[unit.name];
      const result: SecretState = {
        id: secret.id,
        owner,
        revisions: secret.revisions.map((revision) => ({
          revision: revision.revision,
          content: { ...revision.content },
        })),
        grants: secret.grants.map((grant) => ({ ...grant })),
      };
      if (secret.label !== undefined) result.label = secret.label;
      if (secret.description !== undefined) result.description = secret.description;
      if (secret.rotate !== undefined) result.rotate = secret.rotate;
      if (secret.expire !== undefined) result.expire = secret.expire;
      if (consumer !== undefined) {
        result.tracked = consumer.tracked;
        if (consumer.label !== undefined) result.consumerLabel = consumer.label;
      }
      return result;
    });
  return out;
}
