// What a unit agent runs next (docs/charm-runtime.md, "Which hook runs next"): pure functions over
// the model plus the agent's small private state. A Decision names the event and carries `claim`,
// the bookkeeping the uniter does when it commits to running that event (relation views, seen
// versions, flags). The simulator applies the claim just before running the event, so tools inside
// the hook already see e.g. the joining unit in relation-list, and a failed hook re-run by
// `resolve` needs no second claim.
import { type HookEvent, type CharmEvent } from './events.js';
import {
  type Model,
  type Relation,
  type Unit,
  appOf,
  compareUnitNames,
  emptyRelationView,
  latestRevision,
  ownEnd,
  remoteApp,
} from './model.js';

/** Per-unit agent state the model does not hold (the uniter's local state). */
export interface AgentState {
  /** Follow-up hooks: `start` after the first config-changed, `config-changed` after upgrade-charm. */
  followUps: string[];
  upgradePending: boolean;
  configPending: boolean;
  leaderElectedPending: boolean;
  updateStatusPending: boolean;
  /** Dying units: which teardown steps have run. */
  stopRun: boolean;
  detached: string[];
}

export function newAgentState(): AgentState {
  return {
    followUps: [],
    upgradePending: false,
    configPending: true,
    leaderElectedPending: false,
    updateStatusPending: false,
    stopRun: false,
    detached: [],
  };
}

export type DecisionKind =
  | 'follow-up'
  | 'upgrade'
  | 'relation-created'
  | 'leadership'
  | 'secret'
  | 'action'
  | 'storage'
  | 'install'
  | 'config-changed'
  | 'relation'
  | 'teardown'
  | 'update-status';

export interface Decision {
  kind: DecisionKind;
  event: CharmEvent;
  /** The uniter's bookkeeping for committing to this event; applied once, before it runs. */
  claim: () => void;
}

/** The hook name for a relation event on `unit`'s own end of `relation`. */
function relationHook(relation: Relation, unit: Unit, kind: string): string {
  return `${ownEnd(relation, unit.app)?.endpoint ?? '?'}-relation-${kind}`;
}

/**
 * The implicit `juju-info` provider side: enters scope but never runs hooks
 * (docs/charm-runtime.md, "Charm metadata").
 */
export function isImplicitSide(model: Model, relation: Relation, app: string): boolean {
  const end = ownEnd(relation, app);
  if (end === undefined || relation.peer) return false;
  return end.endpoint === 'juju-info' && !(end.endpoint in (model.applications[app]?.charm.endpoints ?? {}));
}

/** Whether `unit` takes part in `relation` (container scope: only with its own principal/subordinates). */
export function participates(model: Model, unit: Unit, relation: Relation): boolean {
  if (ownEnd(relation, unit.app) === undefined) return false;
  if (relation.peer || relation.scope !== 'container') return true;
  const other = remoteApp(relation, unit.app);
  if (unit.principal !== undefined) return appOf(unit.principal) === other;
  return Object.values(model.units).some((u) => u.app === other && u.principal === unit.name);
}

/** A unit counts as in scope for others once it entered (created) and while it and the relation live. */
function inScope(unit: Unit, relation: Relation): boolean {
  return unit.life === 'alive' && relation.life === 'alive' && unit.relations[relation.id]?.created === true;
}

/** The remote units `unit` should currently see as joined in `relation` (sorted). */
export function presentRemoteUnits(model: Model, unit: Unit, relation: Relation): string[] {
  if (unit.life !== 'alive' || relation.life !== 'alive') return [];
  let candidates: Unit[];
  if (relation.peer) {
    candidates = Object.values(model.units).filter((u) => u.app === unit.app && u.name !== unit.name);
  } else {
    const other = remoteApp(relation, unit.app);
    candidates = Object.values(model.units).filter((u) => u.app === other);
    if (relation.scope === 'container') {
      candidates = candidates.filter((u) => u.name === unit.principal || u.principal === unit.name);
    }
  }
  return candidates
    .filter((u) => inScope(u, relation))
    .map((u) => u.name)
    .sort(compareUnitNames);
}

/**
 * Writes the address keys Juju puts in a unit's bag when it enters a relation's scope
 * (docs/charm-runtime.md, "Relation data" rule 2).
 */
export function enterScope(model: Model, unit: Unit, relation: Relation): void {
  const view = (unit.relations[relation.id] ??= emptyRelationView());
  view.created = true;
  const address = model.machines[unit.machine]?.address ?? '';
  const bag = relation.unitBags[unit.name] ?? {};
  const next = { ...bag, 'private-address': address, 'ingress-address': address, 'egress-subnets': `${address}/32` };
  if (JSON.stringify(next) !== JSON.stringify(bag)) {
    relation.unitBags[unit.name] = next;
    relation.unitBagVersion[unit.name] = (relation.unitBagVersion[unit.name] ?? 0) + 1;
  }
}

function hook(name: string, extra: Omit<HookEvent, 'kind' | 'name'> = {}): HookEvent {
  return { kind: 'hook', name, ...extra };
}

function sortedRelations(model: Model, unit: Unit): Relation[] {
  return Object.values(model.relations)
    .filter((r) => participates(model, unit, r) && !isImplicitSide(model, r, unit.app))
    .sort((a, b) => a.id - b.id);
}

function secretDecision(model: Model, unit: Unit): Decision | undefined {
  const app = model.applications[unit.app];
  for (const secret of Object.values(model.secrets).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const owns =
      secret.owner.kind === 'unit'
        ? secret.owner.unit === unit.name
        : secret.owner.app === unit.app && app?.leader === unit.name;
    if (!owns) continue;
    const latest = latestRevision(secret.revisions);
    const tracked = new Set(Object.values(secret.consumers).map((c) => c.tracked));
    const obsolete = secret.revisions
      .map((r) => r.revision)
      .filter((r) => r !== latest && !tracked.has(r) && !secret.removeNotified.includes(r))
      .sort((a, b) => a - b)[0];
    if (obsolete !== undefined) {
      const event = hook('secret-remove', { secretId: `secret:${secret.id}`, secretRevision: obsolete });
      if (secret.label !== undefined) event.secretLabel = secret.label;
      return { kind: 'secret', event, claim: () => void secret.removeNotified.push(obsolete) };
    }
  }
  for (const secret of Object.values(model.secrets).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const consumer = secret.consumers[unit.name];
    if (consumer === undefined) continue;
    // Owners track revisions too (Juju 3.1.7+), but the unit that manages the secret made the
    // change itself: it gets no secret-changed (a non-leader of the owning application does).
    const manages =
      secret.owner.kind === 'unit'
        ? secret.owner.unit === unit.name
        : secret.owner.app === unit.app && app?.leader === unit.name;
    if (manages) continue;
    const latest = latestRevision(secret.revisions);
    if (consumer.notifiedRevision >= latest || consumer.tracked >= latest) continue;
    const event = hook('secret-changed', { secretId: `secret:${secret.id}` });
    if (consumer.label !== undefined) event.secretLabel = consumer.label;
    return { kind: 'secret', event, claim: () => void (consumer.notifiedRevision = latest) };
  }
  return undefined;
}

/**
 * Relation hooks for one relation, in the order of docs/charm-runtime.md, "Which hook runs next"
 * (within one relation); undefined when nothing is due.
 */
function relationDecision(model: Model, unit: Unit, relation: Relation): Decision | undefined {
  const view = unit.relations[relation.id];
  if (view === undefined || !view.created || view.broken) return undefined;
  const other = remoteApp(relation, unit.app) ?? unit.app;
  const base = { relationId: relation.id, remoteApp: other };
  const changedFor = (remote: string): Decision => {
    const version = relation.unitBagVersion[remote] ?? 0;
    return {
      kind: 'relation',
      event: hook(relationHook(relation, unit, 'changed'), { ...base, remoteUnit: remote, remoteApp: appOf(remote) }),
      claim: () => void (view.seenUnitVersion[remote] = version),
    };
  };
  // A join is immediately followed by changed for the same unit.
  const unchanged = view.joined.find((u) => view.seenUnitVersion[u] === undefined);
  if (unchanged !== undefined && unit.life === 'alive' && relation.life === 'alive') return changedFor(unchanged);

  const present = presentRemoteUnits(model, unit, relation);
  const gone = view.joined.filter((u) => !present.includes(u)).sort(compareUnitNames)[0];
  if (gone !== undefined) {
    const leaving = unit.life !== 'alive' || model.applications[unit.app]?.life !== 'alive';
    return {
      kind: 'relation',
      event: hook(relationHook(relation, unit, 'departed'), {
        ...base,
        remoteUnit: gone,
        remoteApp: appOf(gone),
        departingUnit: leaving ? unit.name : gone,
      }),
      claim: () => {
        view.joined = view.joined.filter((u) => u !== gone);
        if (!view.departed.includes(gone)) view.departed.push(gone);
      },
    };
  }
  const ending = relation.life !== 'alive' || unit.life !== 'alive';
  if (ending) {
    // Peer relations are never broken (checklist 39).
    if (relation.peer) return undefined;
    return {
      kind: 'relation',
      event: hook(relationHook(relation, unit, 'broken'), {
        ...base,
        remoteUnit: '',
        ...(view.remoteAppUnknown === true ? { remoteApp: '' } : {}),
      }),
      claim: () => void (view.broken = true),
    };
  }
  if (!unit.started) return undefined;
  // Application-level changed: the remote app (peer: own app) wrote its bag since we last looked.
  const appVersion = relation.appBagVersion[other];
  if (appVersion !== undefined && view.seenAppVersion[other] !== appVersion) {
    return {
      kind: 'relation',
      event: hook(relationHook(relation, unit, 'changed'), { ...base, remoteUnit: '' }),
      claim: () => void (view.seenAppVersion[other] = appVersion),
    };
  }
  const joining = present.find((u) => !view.joined.includes(u));
  if (joining !== undefined) {
    return {
      kind: 'relation',
      event: hook(relationHook(relation, unit, 'joined'), { ...base, remoteUnit: joining, remoteApp: appOf(joining) }),
      claim: () => {
        view.joined = [...view.joined, joining].sort(compareUnitNames);
        view.departed = view.departed.filter((u) => u !== joining);
        delete view.seenUnitVersion[joining];
      },
    };
  }
  const stale = view.joined.find((u) => (relation.unitBagVersion[u] ?? 0) !== view.seenUnitVersion[u]);
  if (stale !== undefined) return changedFor(stale);
  return undefined;
}

/**
 * The next event for `unitName`, following docs/charm-runtime.md, "Which hook runs next"; undefined
 * when the unit is idle.
 */
export function nextDecision(model: Model, agent: AgentState, unitName: string): Decision | undefined {
  const unit = model.units[unitName];
  const app = unit && model.applications[unit.app];
  if (unit === undefined || app === undefined || unit.life === 'dead') return undefined;
  const alive = unit.life === 'alive';

  // 1. queued follow-ups
  const followUp = agent.followUps[0];
  if (followUp !== undefined && unit.error === undefined && alive) {
    return {
      kind: 'follow-up',
      event: hook(followUp),
      claim: () => {
        agent.followUps.shift();
        if (followUp === 'config-changed') agent.configPending = false;
        if (followUp === 'start') unit.started = true;
      },
    };
  }
  // 2. charm upgrade
  if (agent.upgradePending && unit.installed && unit.error === undefined && alive) {
    return {
      kind: 'upgrade',
      event: hook('upgrade-charm'),
      claim: () => {
        agent.upgradePending = false;
        agent.followUps.push('config-changed');
      },
    };
  }
  if (unit.installed && unit.error === undefined && alive) {
    // 3. relation-created (never for the implicit juju-info side)
    for (const relation of sortedRelations(model, unit)) {
      if (relation.life !== 'alive' || unit.relations[relation.id]?.created === true) continue;
      const other = remoteApp(relation, unit.app) ?? unit.app;
      return {
        kind: 'relation-created',
        event: hook(relationHook(relation, unit, 'created'), {
          relationId: relation.id,
          remoteApp: other,
          remoteUnit: '',
        }),
        claim: () => enterScope(model, unit, relation),
      };
    }
    // 4. leadership
    if (app.leader === unit.name && agent.leaderElectedPending) {
      return {
        kind: 'leadership',
        event: hook('leader-elected'),
        claim: () => {
          agent.leaderElectedPending = false;
          unit.seenLeaderSettingsVersion = app.leaderSettingsVersion;
        },
      };
    }
    if (app.leader !== unit.name && unit.seenLeaderSettingsVersion !== app.leaderSettingsVersion) {
      const version = app.leaderSettingsVersion;
      return {
        kind: 'leadership',
        event: hook('leader-settings-changed'),
        claim: () => void (unit.seenLeaderSettingsVersion = version),
      };
    }
    // 5. secrets
    const secret = secretDecision(model, unit);
    if (secret !== undefined) return secret;
  }
  // 6. queued actions (also while in error)
  if (unit.installed || unit.error !== undefined) {
    const task = Object.values(model.tasks)
      .filter((t) => t.unit === unit.name && t.status === 'pending')
      .sort((a, b) => Number(a.id) - Number(b.id))[0];
    if (task !== undefined) {
      return { kind: 'action', event: { kind: 'action', name: task.name, taskId: task.id }, claim: () => {} };
    }
  }
  // 8. storage-attached (before install)
  if (unit.error === undefined && alive) {
    const pending = unit.storage.find((id) => !unit.storageAttachedRun.includes(id));
    const instance = pending === undefined ? undefined : model.storage[pending];
    if (instance !== undefined) {
      return {
        kind: 'storage',
        event: hook(`${instance.name}-storage-attached`, { storageId: instance.id }),
        claim: () => void unit.storageAttachedRun.push(instance.id),
      };
    }
  }
  // 9. a failed hook blocks everything else
  if (unit.error !== undefined) return undefined;
  if (!alive) return teardownDecision(model, agent, unit);
  // 10. install
  if (!unit.installed) {
    return { kind: 'install', event: hook('install'), claim: () => void (unit.installed = true) };
  }
  // 11. config-changed
  if (agent.configPending) {
    return {
      kind: 'config-changed',
      event: hook('config-changed'),
      claim: () => {
        agent.configPending = false;
        if (!unit.started && !agent.followUps.includes('start')) agent.followUps.push('start');
      },
    };
  }
  // 12. relation hooks
  for (const relation of sortedRelations(model, unit)) {
    const decision = relationDecision(model, unit, relation);
    if (decision !== undefined) return decision;
  }
  // 13. update-status
  if (agent.updateStatusPending && unit.started) {
    return {
      kind: 'update-status',
      event: hook('update-status'),
      claim: () => void (agent.updateStatusPending = false),
    };
  }
  return undefined;
}

/** A dying unit: leave every relation (departed* -> broken), then stop -> storage-detaching* -> remove. */
function teardownDecision(model: Model, agent: AgentState, unit: Unit): Decision | undefined {
  if (unit.installed) {
    for (const relation of sortedRelations(model, unit)) {
      const decision = relationDecision(model, unit, relation);
      if (decision !== undefined) return { ...decision, kind: 'teardown' };
    }
  }
  if (!agent.stopRun && unit.installed) {
    return { kind: 'teardown', event: hook('stop'), claim: () => void (agent.stopRun = true) };
  }
  const detach = unit.storage.find((id) => !agent.detached.includes(id) && unit.storageAttachedRun.includes(id));
  const instance = detach === undefined ? undefined : model.storage[detach];
  if (instance !== undefined) {
    return {
      kind: 'teardown',
      event: hook(`${instance.name}-storage-detaching`, { storageId: instance.id }),
      claim: () => void agent.detached.push(instance.id),
    };
  }
  return {
    kind: 'teardown',
    event: hook('remove'),
    claim: () => void (unit.life = 'dead'),
  };
}
