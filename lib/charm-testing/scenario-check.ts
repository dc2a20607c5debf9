// Refusing a scenario that cannot happen in Juju before anything runs: every problem with the
// input state and the event is listed at once (InconsistentScenarioError).
import { ActionParamsError, validateActionParams } from './action-params.js';
import { isConfigValueOfType } from './config-value.js';
import {
  type LocalUnit,
  type Resolved,
  SECRET_ID,
  findRelation,
  findSecret,
  findStorage,
  isPeerEndpoint,
  peerOf,
} from './scenario-input.js';
import { type DeepReadonly, InconsistentScenarioError, type ScenarioEvent, type State } from './scenario-state.js';

export function checkScenario(
  local: LocalUnit,
  event: ScenarioEvent,
  state: DeepReadonly<State>,
  resolved: Resolved,
): void {
  const problems: string[] = [];
  const leader = state.leader === true;

  for (const [key, value] of Object.entries(state.config ?? {})) {
    const option = local.meta.config[key];
    if (option === undefined) problems.push(`config option "${key}" is not declared in the charm's config`);
    else if (!isConfigValueOfType(option.type, value)) {
      problems.push(`config option "${key}" is of type ${option.type}, got ${JSON.stringify(value)}`);
    }
  }
  if (!leader && state.appStatus !== undefined)
    problems.push('appStatus is set but the unit is not the leader (only the leader can set or see it)');
  for (const status of [state.unitStatus, state.appStatus]) {
    if (
      status !== undefined &&
      !['maintenance', 'blocked', 'waiting', 'active', 'unknown', 'error'].includes(status.status)
    ) {
      problems.push(`status "${status.status}" cannot be a workload status`);
    }
  }

  const seenIds = new Set<number>();
  for (const relation of resolved.relations) {
    const where = `relation ${relation.endpoint}:${relation.id}`;
    if (seenIds.has(relation.id)) problems.push(`${where}: relation id ${relation.id} is used twice`);
    seenIds.add(relation.id);
    const meta = local.meta.endpoints[relation.endpoint];
    if (meta === undefined) {
      problems.push(`${where}: endpoint "${relation.endpoint}" is not declared in the charm's metadata`);
      continue;
    }
    const peer = peerOf(meta);
    if (peer && relation.remoteApp !== local.appName)
      problems.push(`${where}: a peer relation's remote application is the application itself ("${local.appName}")`);
    if (!peer && relation.remoteApp === '') problems.push(`${where}: remoteApp is required for a non-peer relation`);
    if (!peer && relation.remoteApp === local.appName)
      problems.push(`${where}: a non-peer relation cannot relate the application to itself`);
    if (!peer && meta.role === 'requires' && meta.limit !== undefined) {
      const count = resolved.relations.filter((other) => other.endpoint === relation.endpoint).length;
      if (count > meta.limit)
        problems.push(
          `${where}: endpoint "${relation.endpoint}" allows ${meta.limit} relation(s), the state has ${count}`,
        );
    }
    const remoteNames = [...Object.keys(relation.remoteUnits ?? {}), ...Object.keys(relation.departed ?? {})];
    for (const name of remoteNames) {
      if (!/^[a-z][a-z0-9-]*\/\d+$/.test(name) || name.slice(0, name.lastIndexOf('/')) !== relation.remoteApp) {
        problems.push(`${where}: remote unit "${name}" is not a unit of "${relation.remoteApp}"`);
      } else if (name === local.unitName) {
        problems.push(`${where}: the local unit ${local.unitName} cannot be its own remote unit`);
      }
    }
    for (const name of Object.keys(relation.departed ?? {})) {
      if (relation.remoteUnits?.[name] !== undefined)
        problems.push(`${where}: unit "${name}" is both joined and departed`);
    }
    if (peer && relation.remoteAppData !== undefined)
      problems.push(`${where}: a peer relation has one application bag: use localAppData`);
    if (!leader && !peer && relation.localAppData !== undefined && Object.keys(relation.localAppData).length > 0) {
      // Not impossible in Juju, but the charm could neither read nor write it: almost certainly a test mistake.
      problems.push(
        `${where}: localAppData is set but the unit is not the leader (a non-leader cannot read its application bag)`,
      );
    }
  }

  const storageIds = new Set<string>();
  for (const storage of resolved.storages) {
    const meta = local.meta.storage[storage.name];
    if (meta === undefined) problems.push(`storage "${storage.name}" is not declared in the charm's metadata`);
    const id = `${storage.name}/${storage.index}`;
    if (storageIds.has(id)) problems.push(`storage ${id} is listed twice`);
    storageIds.add(id);
    const count = resolved.storages.filter((other) => other.name === storage.name).length;
    if (meta?.range.max !== null && meta !== undefined && count > meta.range.max) {
      problems.push(`storage "${storage.name}" allows at most ${meta.range.max} instance(s), the state has ${count}`);
    }
  }

  for (const secret of resolved.secrets) {
    if (!SECRET_ID.test(secret.id)) problems.push(`secret id "${secret.id}" is not 20 characters of [0-9a-v]`);
    if (secret.revisions.length === 0) problems.push(`secret ${secret.id} has no revisions`);
    const ownedByApp = secret.owner === 'application';
    if (typeof secret.owner === 'object' && secret.owner.app === local.appName) {
      problems.push(`secret ${secret.id}: use owner "application" for a secret this application owns`);
    }
    if (secret.tracked !== undefined && !secret.revisions.some((revision) => revision.revision === secret.tracked)) {
      problems.push(`secret ${secret.id}: tracked revision ${secret.tracked} does not exist`);
    }
    if (ownedByApp && secret.consumerLabel !== undefined)
      problems.push(`secret ${secret.id}: consumerLabel is for secrets owned by another application`);
  }

  for (const port of state.ports ?? []) {
    if (!/^(\d+(-\d+)?\/(tcp|udp)|icmp)$/.test(port))
      problems.push(`port "${port}" is not <port>/<protocol>, <from>-<to>/<protocol> or icmp`);
  }

  checkEvent(local, event, state, resolved, leader, problems);
  if (problems.length > 0) throw new InconsistentScenarioError(problems);
}

function checkEvent(
  local: LocalUnit,

  event: ScenarioEvent,
  state: DeepReadonly<State>,
  resolved: Resolved,
  leader: boolean,
  problems: string[],
): void {
  switch (event.kind) {
    case 'hook':
      if (event.name === 'leader-elected' && !leader)
        problems.push('leader-elected runs only on the leader: set leader: true');
      if (event.name === 'leader-settings-changed' && leader)
        problems.push('leader-settings-changed runs only on non-leaders: set leader: false');
      return;
    case 'relation': {
      const relation = findRelation(resolved, state, event.relation);
      if (relation === undefined) {
        problems.push(`relation-${event.hook} for a relation on "${event.relation.endpoint}" that is not in the state`);
        return;
      }
      if (event.hook === 'joined' || event.hook === 'departed') {
        if (event.remoteUnit === undefined || event.remoteUnit === '')
          problems.push(`relation-${event.hook} needs a remote unit`);
      }
      if (event.remoteUnit !== undefined && event.remoteUnit !== '') {
        if (relation.remoteUnits?.[event.remoteUnit] === undefined) {
          problems.push(
            `relation-${event.hook}: remote unit "${event.remoteUnit}" is not among the relation's remoteUnits`,
          );
        }
      }
      if (event.hook === 'created' || event.hook === 'broken') {
        if (event.remoteUnit !== undefined) problems.push(`relation-${event.hook} has no remote unit`);
      }
      if (event.remoteAppUnknown === true && event.hook !== 'broken')
        problems.push(`relation-${event.hook} always names the remote application; only relation-broken may not`);
      if (
        event.departingUnit !== undefined &&
        event.departingUnit !== local.unitName &&
        event.departingUnit !== event.remoteUnit
      ) {
        problems.push(
          `relation-departed: the departing unit is the remote unit or the local unit, not "${event.departingUnit}"`,
        );
      }
      if (
        event.hook === 'changed' &&
        event.remoteUnit === undefined &&
        relation.remoteApp === local.appName &&
        !isPeerEndpoint(local, relation.endpoint)
      ) {
        problems.push('application-level relation-changed needs a remote application');
      }
      return;
    }
    case 'storage': {
      const storage = findStorage(resolved, state, event.storage);
      if (storage === undefined)
        problems.push(`storage-${event.hook} for storage "${event.storage.name}" that is not in the state`);
      return;
    }
    case 'secret': {
      const secret = findSecret(resolved, state, event.secret);
      if (secret === undefined) {
        problems.push(`secret-${event.hook} for a secret that is not in the state`);
        return;
      }
      const owned = secret.owner === 'application' || secret.owner === 'unit';
      // A non-leader of the owning application reads (and tracks) it like a consumer.
      const manages = secret.owner === 'unit' || (secret.owner === 'application' && leader);
      if (event.hook === 'changed' && manages)
        problems.push('secret-changed goes to consumers, but this unit owns the secret');
      if (event.hook !== 'changed' && !owned)
        problems.push(`secret-${event.hook} goes to the owner, but the secret belongs to another application`);
      if (event.hook !== 'changed' && secret.owner === 'application' && !leader) {
        problems.push(`secret-${event.hook} of an application-owned secret goes to the leader: set leader: true`);
      }
      if (
        (event.hook === 'remove' || event.hook === 'expired') &&
        !secret.revisions.some((revision) => revision.revision === event.revision)
      ) {
        problems.push(`secret-${event.hook}: revision ${String(event.revision)} is not a revision of the secret`);
      }
      if (event.hook === 'changed' && secret.tracked === undefined)
        problems.push('secret-changed goes to units tracking the secret: set tracked');
      return;
    }
    case 'action': {
      const action = local.meta.actions[event.name];
      if (action === undefined) {
        problems.push(`action "${event.name}" is not declared in the charm's actions`);
        return;
      }
      try {
        validateActionParams(event.name, action, event.params);
      } catch (error) {
        if (!(error instanceof ActionParamsError)) throw error;
        problems.push(`action "${event.name}": ${error.message}`);
      }
      return;
    }
  }
}
