// `juju integrate` and `juju remove-relation` in the model simulator: which endpoints two
// applications relate on, the checks Juju makes (roles, interfaces, limits, container scope,
// bases), subordinates attached or removed with a container relation, grants revoked with it.
import { shareABase } from '../charm-pack/bases.js';
import { type EndpointMeta, type Relation, appOf, compareUnitNames, ownEnd, remoteApp } from './model.js';
import { SimModelState } from './sim-model-state.js';
import { SimulatorError } from './sim-types.js';

interface Candidate {
  app: string;
  endpoint: string;
  meta: EndpointMeta;
  implicit: boolean;
}

export abstract class SimRelations extends SimModelState {
  // ---------------------------------------------------------------- relations

  protected candidates(appName: string, endpoint: string | undefined): Candidate[] {
    const app = this.app(appName);
    const list: Candidate[] = Object.entries(app.charm.endpoints)
      .filter(([, meta]) => meta.role !== 'peers')
      .map(([name, meta]) => ({ app: appName, endpoint: name, meta, implicit: false }));
    if (!('juju-info' in app.charm.endpoints)) {
      list.push({
        app: appName,
        endpoint: 'juju-info',
        meta: { role: 'provides', interface: 'juju-info', scope: 'global' },
        implicit: true,
      });
    }
    return endpoint === undefined ? list : list.filter((c) => c.endpoint === endpoint);
  }

  protected static split(spec: string): [string, string | undefined] {
    const colon = spec.indexOf(':');
    return colon < 0 ? [spec, undefined] : [spec.slice(0, colon), spec.slice(colon + 1)];
  }

  /** `juju integrate a[:ep] b[:ep]`: infers endpoints, checks roles, interfaces, scope and limits. */
  async integrate(a: string, b: string): Promise<number> {
    const [appA, epA] = SimRelations.split(a);
    const [appB, epB] = SimRelations.split(b);
    this.aliveApp(appA);
    this.aliveApp(appB);
    if (appA === appB) throw new SimulatorError(`cannot relate application "${appA}" to itself`);
    let pairs: [Candidate, Candidate][] = [];
    for (const x of this.candidates(appA, epA)) {
      for (const y of this.candidates(appB, epB)) {
        const complementary =
          (x.meta.role === 'provides' && y.meta.role === 'requires') ||
          (x.meta.role === 'requires' && y.meta.role === 'provides');
        if (complementary && x.meta.interface === y.meta.interface) pairs.push([x, y]);
      }
    }
    // Implicit endpoints lose to declared ones unless named explicitly.
    if (pairs.length > 1) pairs = pairs.filter(([x, y]) => !x.implicit && !y.implicit);
    if (pairs.length === 0) throw new SimulatorError('no relations found');
    if (pairs.length > 1) {
      const options = pairs.map(([x, y]) => `"${x.app}:${x.endpoint} ${y.app}:${y.endpoint}"`).join('; ');
      throw new SimulatorError(`ambiguous relation: "${a} ${b}" could refer to ${options}`);
    }
    const [x, y] = pairs[0]!;
    const label = `${x.app}:${x.endpoint} ${y.app}:${y.endpoint}`;
    const alive = Object.values(this.model.relations).filter((r) => r.life === 'alive' && !r.peer);
    const has = (r: Relation, c: Candidate): boolean =>
      r.ends.some((e) => e.app === c.app && e.endpoint === c.endpoint);
    if (alive.some((r) => has(r, x) && has(r, y))) throw new SimulatorError(`relation ${label} already exists`);
    for (const c of [x, y]) {
      if (c.meta.limit !== undefined && alive.filter((r) => has(r, c)).length >= c.meta.limit) {
        throw new SimulatorError(
          `establishing a new relation for ${c.app}:${c.endpoint} would exceed its maximum relation limit of ${c.meta.limit}`,
        );
      }
    }
    const container = x.meta.scope === 'container' || y.meta.scope === 'container';
    const subX = this.app(x.app).charm.subordinate;
    const subY = this.app(y.app).charm.subordinate;
    // The two ends share machines, so their charms must share a base (OS and release); Juju
    // compares the bases the charms declare, not the ones the applications were deployed with.
    const basesX = this.app(x.app).charm.bases;
    const basesY = this.app(y.app).charm.bases;
    if (container && basesX !== undefined && basesY !== undefined && !shareABase(basesX, basesY))
      throw new SimulatorError("principal and subordinate applications' bases must match");
    if (container && !subX && !subY)
      throw new SimulatorError('container scoped relation requires at least one subordinate application');
    const relation = this.addRelation(
      [
        { app: x.app, endpoint: x.endpoint },
        { app: y.app, endpoint: y.endpoint },
      ],
      x.meta.interface,
      container ? 'container' : 'global',
    );
    if (container && subX !== subY) {
      const sub = this.app(subX ? x.app : y.app);
      const principalApp = subX ? y.app : x.app;
      const principals = Object.values(this.model.units)
        .filter((u) => u.app === principalApp && u.life === 'alive')
        .sort((p, q) => compareUnitNames(p.name, q.name));
      for (const principal of principals) this.attachSubordinate(sub, principal, relation);
    }
    return Promise.resolve(relation.id);
  }

  protected findRelation(a: string, b: string): Relation {
    const [appA, epA] = SimRelations.split(a);
    const [appB, epB] = SimRelations.split(b);
    const matches = (r: Relation, app: string, ep: string | undefined): boolean =>
      r.ends.some((e) => e.app === app && (ep === undefined || e.endpoint === ep));
    const found = Object.values(this.model.relations).filter(
      (r) => !r.peer && r.life === 'alive' && matches(r, appA, epA) && matches(r, appB, epB),
    );
    if (found.length === 0) throw new SimulatorError(`relation "${a} ${b}" not found`);
    if (found.length > 1) throw new SimulatorError(`ambiguous relation: "${a} ${b}" could refer to several relations`);
    return found[0]!;
  }

  /** `juju remove-relation`: departed per remote unit then broken on both sides; relation-scoped grants revoked. */
  async removeRelation(a: string, b: string): Promise<void> {
    this.endRelation(this.findRelation(a, b));
    return Promise.resolve();
  }

  protected endRelation(relation: Relation): void {
    if (relation.life !== 'alive') return;
    relation.life = 'dying';
    for (const secret of Object.values(this.model.secrets)) {
      secret.grants = secret.grants.filter((grant) => grant.relationId !== relation.id);
    }
    if (relation.scope === 'container' && !relation.peer) {
      // Subordinate units attached through this relation go with it, unless another container
      // relation still ties them to the same principal application.
      const stillAttached = (sub: string, principalApp: string): boolean =>
        Object.values(this.model.relations).some(
          (r) =>
            r.life === 'alive' &&
            r.scope === 'container' &&
            !r.peer &&
            ownEnd(r, sub) !== undefined &&
            remoteApp(r, sub) === principalApp,
        );
      for (const unit of Object.values(this.model.units)) {
        if (
          unit.principal !== undefined &&
          ownEnd(relation, unit.app) !== undefined &&
          appOf(unit.principal) === remoteApp(relation, unit.app) &&
          !stillAttached(unit.app, appOf(unit.principal))
        ) {
          this.markDying(unit);
        }
      }
    }
  }
}
