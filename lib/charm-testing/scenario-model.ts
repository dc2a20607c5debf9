// Building the model a scenario's event runs in: the local application and unit, the remote
// applications and units its relations name (each unit on its own machine), the relations as this
// unit sees them, leadership, storage and secrets.
import {
  type Application,
  type Bag,
  type CharmExecutor,
  type EndpointMeta,
  type Model,
  type SecretGrant,
  type Unit,
  type UnitRelationView,
  appOf,
  compareUnitNames,
  emptyModel,
  emptyRelationView,
  newApplication,
  newRelation,
  newUnit,
  statusValue,
  unitNumber,
} from './model.js';
import { storageLocation } from './pending.js';
import { type LocalUnit, type Resolved, addressBag, findStorage, peerOf } from './scenario-input.js';
import { type DeepReadonly, type ScenarioEvent, type State } from './scenario-state.js';

/** The local unit with what its model needs besides the names. */
export interface ModelInput extends LocalUnit {
  readonly executor: CharmExecutor;
  readonly jujuVersion: string | undefined;
  readonly now: (() => Date) | undefined;
}

/** The model `state` describes, ready to run `event` on the local unit. */
export function buildModel(
  local: ModelInput,
  state: DeepReadonly<State>,
  resolved: Resolved,
  event: ScenarioEvent,
): Model {
  const model = emptyModel(state.model?.name ?? 'test-model', local.now);
  if (state.model?.uuid !== undefined) model.uuid = state.model.uuid;
  if (local.jujuVersion !== undefined) model.jujuVersion = local.jujuVersion;
  const { app, unit } = addLocalUnit(model, local, state, event);
  addRemoteApplications(model, local, resolved);
  for (const given of resolved.relations) addRelation(model, local, given, app, unit);
  electLeader(model, state, app, unit);
  attachStorage(model, local, resolved, unit);
  if (event.kind === 'storage' && event.hook === 'attached') {
    // storage-attached has not run yet for the storage the event attaches.
    const storage = findStorage(resolved, state, event.storage);
    if (storage !== undefined)
      unit.storageAttachedRun = unit.storageAttachedRun.filter((id) => id !== `${storage.name}/${storage.index}`);
  }
  addSecrets(model, resolved, app, unit);
  return model;
}

function addMachine(model: Model): string {
  const id = String(model.nextMachineId);
  model.nextMachineId += 1;
  model.machines[id] = { id, address: `10.1.0.${Number(id) + 10}` };
  return id;
}

function unitOn(model: Model, name: string, machine: string): Unit {
  return newUnit(model, { app: appOf(name), number: unitNumber(name), machine });
}

function addressOf(model: Model, unit: Unit): string {
  return model.machines[unit.machine]?.address ?? '';
}

/** The local application and unit, with the state's config, statuses, data and ports. */
function addLocalUnit(
  model: Model,
  local: ModelInput,
  state: DeepReadonly<State>,
  event: ScenarioEvent,
): { app: Application; unit: Unit } {
  const leaderData = { ...(state.leaderData ?? {}) };
  const app = newApplication(local.appName, local.meta, local.executor);
  app.config = { ...(state.config ?? {}) };
  app.version = state.workloadVersion ?? '';
  app.nextUnitNumber = unitNumber(local.unitName) + 1;
  app.leaderSettings = leaderData;
  app.leaderSettingsVersion = Object.keys(leaderData).length > 0 ? 1 : 0;
  if (state.appStatus !== undefined)
    app.status = statusValue(model, state.appStatus.status, state.appStatus.message ?? '');
  model.applications[app.name] = app;
  const unit = unitOn(model, local.unitName, addMachine(model));
  unit.state = { ...(state.stored ?? {}) };
  unit.ports = [...(state.ports ?? [])];
  unit.seenLeaderSettingsVersion = app.leaderSettingsVersion;
  if (state.unitStatus !== undefined) {
    unit.workloadStatus = statusValue(model, state.unitStatus.status, state.unitStatus.message ?? '');
    unit.statusSetByCharm = true;
  }
  if (event.kind === 'hook' && event.name === 'install') {
    unit.installed = false;
    unit.started = false;
  }
  if (event.kind === 'hook' && event.name === 'start') unit.started = false;
  model.units[unit.name] = unit;
  return { app, unit };
}

/** A remote unit, on its own machine, added the first time a relation names it. */
function ensureRemoteUnit(model: Model, name: string): Unit {
  const existing = model.units[name];
  if (existing !== undefined) return existing;
  const remote = unitOn(model, name, addMachine(model));
  model.units[name] = remote;
  const owner = model.applications[remote.app];
  if (owner !== undefined) owner.nextUnitNumber = Math.max(owner.nextUnitNumber, remote.number + 1);
  return remote;
}

/** The other applications the relations name: charms with no hooks, their endpoints filled in by addRelation. */
function addRemoteApplications(model: Model, local: LocalUnit, resolved: Resolved): void {
  for (const relation of resolved.relations) {
    if (relation.remoteApp === local.appName || model.applications[relation.remoteApp] !== undefined) continue;
    model.applications[relation.remoteApp] = newApplication(
      relation.remoteApp,
      { name: relation.remoteApp, subordinate: false, endpoints: {}, storage: {}, config: {}, actions: {} },
      { kind: 'in-process', run: () => Promise.resolve(0) },
    );
  }
}

/** One relation, with this unit's view as if every remote unit had joined (and the departed ones left). */
function addRelation(
  model: Model,
  local: LocalUnit,
  given: Resolved['relations'][number],
  app: Application,
  unit: Unit,
): void {
  const meta = local.meta.endpoints[given.endpoint] as EndpointMeta;
  const peer = peerOf(meta);
  const remoteEndpoint = given.remoteEndpoint ?? given.endpoint;
  const remoteApp = model.applications[given.remoteApp];
  if (!peer && remoteApp !== undefined) {
    const role = meta.role === 'requires' ? 'provides' : 'requires';
    remoteApp.charm.endpoints[remoteEndpoint] = { role, interface: meta.interface, scope: meta.scope };
  }
  const relation = newRelation(
    given.id,
    peer
      ? [{ app: app.name, endpoint: given.endpoint }]
      : [
          { app: app.name, endpoint: given.endpoint },
          { app: given.remoteApp, endpoint: remoteEndpoint },
        ],
    meta.interface,
    meta.scope,
  );
  const setAppBag = (name: string, bag: DeepReadonly<Bag> | undefined): void => {
    if (bag === undefined) return;
    relation.appBags[name] = { ...bag };
    relation.appBagVersion[name] = 1;
  };
  setAppBag(app.name, given.localAppData);
  if (!peer) setAppBag(given.remoteApp, given.remoteAppData);
  relation.unitBags[unit.name] = { ...addressBag(addressOf(model, unit)), ...(given.localUnitData ?? {}) };
  relation.unitBagVersion[unit.name] = 1;
  const view: UnitRelationView = { ...emptyRelationView(), created: true };
  for (const [name, bag] of Object.entries(given.remoteUnits ?? {})) {
    const remote = ensureRemoteUnit(model, name);
    relation.unitBags[name] = { ...addressBag(addressOf(model, remote)), ...bag };
    relation.unitBagVersion[name] = 1;
    view.joined.push(name);
    view.seenUnitVersion[name] = 1;
  }
  for (const [name, bag] of Object.entries(given.departed ?? {})) {
    const remote = ensureRemoteUnit(model, name);
    relation.unitBags[name] = { ...addressBag(addressOf(model, remote)), ...bag };
    relation.unitBagVersion[name] = 1;
    view.departed.push(name);
  }
  view.joined.sort(compareUnitNames);
  view.departed.sort(compareUnitNames);
  for (const [name, version] of Object.entries(relation.appBagVersion)) view.seenAppVersion[name] = version;
  model.relations[relation.id] = relation;
  unit.relations[relation.id] = view;
  model.nextRelationId = Math.max(model.nextRelationId, relation.id + 1);
}

/** Leadership: this unit, or (when not the leader) a peer unit if one exists. */
function electLeader(model: Model, state: DeepReadonly<State>, app: Application, unit: Unit): void {
  if (state.leader === true) {
    app.leader = unit.name;
    return;
  }
  const others = Object.values(model.units)
    .filter((other) => other.app === app.name && other.name !== unit.name)
    .map((other) => other.name)
    .sort(compareUnitNames);
  if (others[0] !== undefined) app.leader = others[0];
}

/** Storage attached to this unit, its storage-attached already run. */
function attachStorage(model: Model, local: LocalUnit, resolved: Resolved, unit: Unit): void {
  for (const storage of resolved.storages) {
    const id = `${storage.name}/${storage.index}`;
    const kind = local.meta.storage[storage.name]?.type ?? 'filesystem';
    model.storage[id] = {
      id,
      name: storage.name,
      kind,
      location: storageLocation(model, unit, storage.name, id),
      unit: unit.name,
    };
    unit.storage.push(id);
    unit.storageAttachedRun.push(id);
    model.nextStorageNumber[storage.name] = Math.max(model.nextStorageNumber[storage.name] ?? 0, storage.index + 1);
  }
}

/** The secrets this unit owns or consumes, with their revisions, grants and this unit's tracking. */
function addSecrets(model: Model, resolved: Resolved, app: Application, unit: Unit): void {
  for (const secret of resolved.secrets) {
    const owner =
      secret.owner === 'application'
        ? { kind: 'application' as const, app: app.name }
        : secret.owner === 'unit'
          ? { kind: 'unit' as const, unit: unit.name }
          : { kind: 'application' as const, app: secret.owner.app };
    const remoteOwned = typeof secret.owner === 'object';
    const latest = secret.revisions[secret.revisions.length - 1]?.revision ?? 0;
    const grants: SecretGrant[] =
      secret.grants !== undefined
        ? secret.grants.map((grant) => ({ ...grant }))
        : remoteOwned
          ? [{ app: app.name }]
          : [];
    model.secrets[secret.id] = {
      id: secret.id,
      owner,
      ...(secret.label === undefined ? {} : { label: secret.label }),
      ...(secret.description === undefined ? {} : { description: secret.description }),
      ...(secret.rotate === undefined ? {} : { rotate: secret.rotate }),
      ...(secret.expire === undefined ? {} : { expire: secret.expire }),
      revisions: secret.revisions.map((revision) => ({
        revision: revision.revision,
        content: { ...revision.content },
      })),
      grants,
      consumers:
        secret.tracked === undefined
          ? {}
          : {
              [unit.name]: {
                tracked: secret.tracked,
                // A tracker behind the latest revision has had (or is having) its secret-changed.
                notifiedRevision: latest,
                ...(secret.consumerLabel === undefined ? {} : { label: secret.consumerLabel }),
              },
            },
      removeNotified: [],
    };
  }
}
