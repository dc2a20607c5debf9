// The per-hook transaction. Juju buffers relation-set, port changes, state-set/delete, secret
// operations and storage-add in the uniter and sends them as one change at the successful end of
// the hook (docs/charm-runtime.md, "Hook tools"); a failed hook discards them. Reads that Juju
// answers locally (own unit bag, own app bag as leader, state-get, secrets touched in this hook)
// see these pending writes.
import { type Bag, type Model, type Secret, type StorageInstance, type Unit, latestRevision } from './model.js';

/** Overlays `writes` on `base`; null deletes, and so does an empty value when `deleteEmpty` (relation-set `key=`). */
export function applyWrites(base: Bag, writes: ReadonlyMap<string, string | null>, deleteEmpty = true): Bag {
  const next: Bag = { ...base };
  for (const [key, value] of writes) {
    if (value === null || (value === '' && deleteEmpty)) delete next[key];
    else next[key] = value;
  }
  return next;
}

export function sameBag(a: Bag, b: Bag): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/**
 * Where a filesystem instance is mounted (docs/charm-runtime.md, "Charm metadata"); block devices
 * get a stable device path.
 */
export function storageLocation(model: Model, unit: Unit, name: string, id: string): string {
  const meta = model.applications[unit.app]?.charm.storage[name];
  if (meta === undefined) return `/var/lib/juju/storage/${id}`;
  if (meta.type === 'block') return `/dev/disk/by-id/juju-${id.replace('/', '-')}`;
  if (meta.location === undefined) return `/var/lib/juju/storage/${id}`;
  const singleton = meta.range.min === 1 && meta.range.max === 1;
  return singleton ? meta.location : `${meta.location}/${id}`;
}

/** Creates one new instance of the unit's store `name` (ids come from a model-wide counter per name). */
export function addStorageInstance(model: Model, unit: Unit, name: string): StorageInstance {
  const number = model.nextStorageNumber[name] ?? 0;
  model.nextStorageNumber[name] = number + 1;
  const id = `${name}/${number}`;
  const kind = model.applications[unit.app]?.charm.storage[name]?.type ?? 'filesystem';
  const instance: StorageInstance = {
    id,
    name,
    kind,
    location: storageLocation(model, unit, name, id),
    unit: unit.name,
  };
  model.storage[id] = instance;
  unit.storage.push(id);
  return instance;
}

type PortOp = { open: boolean; port: string };

export class PendingChanges {
  private readonly unitBagWrites = new Map<number, Map<string, string>>();
  private readonly appBagWrites = new Map<number, Map<string, string>>();
  private readonly stateWrites = new Map<string, string | null>();
  private readonly portOps: PortOp[] = [];
  private readonly storageAdds: { name: string; count: number }[] = [];
  /** Working copies of secrets this hook created or changed; null = removed. */
  private readonly secretCopies = new Map<string, Secret | null>();
  /** Secrets that already got their new revision in this hook (later secret-set calls replace it). */
  private readonly revisedSecrets = new Set<string>();
  /** Secrets whose new revision this unit read with --refresh: it tracks that revision at commit. */
  private readonly trackLatest = new Set<string>();

  constructor(
    private readonly model: Model,
    private readonly unitName: string,
  ) {}

  private get unit(): Unit {
    const unit = this.model.units[this.unitName];
    if (unit === undefined) throw new Error(`unit ${this.unitName} not in model`);
    return unit;
  }

  private static writesFor(map: Map<number, Map<string, string>>, relationId: number): Map<string, string> {
    let writes = map.get(relationId);
    if (writes === undefined) {
      writes = new Map();
      map.set(relationId, writes);
    }
    return writes;
  }

  writeUnitBag(relationId: number, entries: Record<string, string>): void {
    const writes = PendingChanges.writesFor(this.unitBagWrites, relationId);
    for (const [key, value] of Object.entries(entries)) writes.set(key, value);
  }

  writeAppBag(relationId: number, entries: Record<string, string>): void {
    const writes = PendingChanges.writesFor(this.appBagWrites, relationId);
    for (const [key, value] of Object.entries(entries)) writes.set(key, value);
  }

  /** The unit's own bag with this hook's writes. */
  ownUnitBag(relationId: number): Bag {
    const base = this.model.relations[relationId]?.unitBags[this.unitName] ?? {};
    return applyWrites(base, this.unitBagWrites.get(relationId) ?? new Map());
  }

  /** The unit's own application bag with this hook's writes. */
  ownAppBag(relationId: number): Bag {
    const base = this.model.relations[relationId]?.appBags[this.unit.app] ?? {};
    return applyWrites(base, this.appBagWrites.get(relationId) ?? new Map());
  }

  setState(key: string, value: string | null): void {
    this.stateWrites.set(key, value);
  }

  state(): Bag {
    return applyWrites(this.unit.state, this.stateWrites, false);
  }

  openPort(port: string): void {
    this.portOps.push({ open: true, port });
  }

  closePort(port: string): void {
    this.portOps.push({ open: false, port });
  }

  addStorage(name: string, count: number): void {
    this.storageAdds.push({ name, count });
  }

  /** A secret as this hook sees it (its own pending changes included); undefined if absent or removed. */
  secret(id: string): Secret | undefined {
    if (this.secretCopies.has(id)) return this.secretCopies.get(id) ?? undefined;
    return this.model.secrets[id];
  }

  /** Every secret visible to this hook, committed or pending. */
  secrets(): Secret[] {
    const ids = new Set([...Object.keys(this.model.secrets), ...this.secretCopies.keys()]);
    return [...ids].map((id) => this.secret(id)).filter((secret): secret is Secret => secret !== undefined);
  }

  /** A working copy to change; the change reaches the model at commit. */
  editSecret(id: string): Secret | undefined {
    const current = this.secret(id);
    if (current === undefined) return undefined;
    if (!this.secretCopies.has(id)) this.secretCopies.set(id, structuredClone(current));
    return this.secretCopies.get(id) ?? undefined;
  }

  createSecret(secret: Secret): void {
    this.secretCopies.set(secret.id, secret);
    this.revisedSecrets.add(secret.id);
  }

  removeSecret(id: string): void {
    this.secretCopies.set(id, null);
  }

  /** True when this hook gave the committed secret `id` a new revision (secret-set with content). */
  hasNewRevision(id: string): boolean {
    return this.revisedSecrets.has(id) && this.model.secrets[id] !== undefined;
  }

  /** secret-get --refresh of this hook's new revision: the unit tracks it once the hook commits. */
  trackLatestOnCommit(id: string): void {
    this.trackLatest.add(id);
  }

  /** True (and remembered) the first time a secret gets a new revision in this hook. */
  startRevision(id: string): boolean {
    if (this.revisedSecrets.has(id)) return false;
    this.revisedSecrets.add(id);
    return true;
  }

  /**
   * Applies everything as one change (docs/charm-runtime.md, "Hook tools"); only net changes bump
   * bag versions.
   */
  commit(): void {
    const unit = this.unit;
    for (const [relationId, writes] of this.unitBagWrites) {
      const relation = this.model.relations[relationId];
      if (relation === undefined) continue;
      const before = relation.unitBags[unit.name] ?? {};
      const after = applyWrites(before, writes);
      if (sameBag(before, after)) continue;
      relation.unitBags[unit.name] = after;
      relation.unitBagVersion[unit.name] = (relation.unitBagVersion[unit.name] ?? 0) + 1;
    }
    for (const [relationId, writes] of this.appBagWrites) {
      const relation = this.model.relations[relationId];
      if (relation === undefined) continue;
      const before = relation.appBags[unit.app] ?? {};
      const after = applyWrites(before, writes);
      if (sameBag(before, after)) continue;
      relation.appBags[unit.app] = after;
      const version = (relation.appBagVersion[unit.app] ?? 0) + 1;
      relation.appBagVersion[unit.app] = version;
      // The writer never gets relation-changed for its own write, peer app bag included.
      const view = unit.relations[relationId];
      if (relation.peer && view !== undefined) view.seenAppVersion[unit.app] = version;
    }
    if (this.stateWrites.size > 0) unit.state = applyWrites(unit.state, this.stateWrites, false);
    for (const op of this.portOps) {
      const has = unit.ports.includes(op.port);
      if (op.open && !has) unit.ports.push(op.port);
      if (!op.open && has) unit.ports = unit.ports.filter((port) => port !== op.port);
    }
    for (const [id, copy] of this.secretCopies) {
      if (copy === null) {
        delete this.model.secrets[id];
        continue;
      }
      // Consumer tracking is written straight to the model during the hook: keep it.
      const consumers = this.model.secrets[id]?.consumers ?? copy.consumers;
      this.model.secrets[id] = { ...copy, consumers };
    }
    for (const id of this.trackLatest) {
      const secret = this.model.secrets[id];
      if (secret === undefined) continue;
      const latest = latestRevision(secret.revisions);
      const record = secret.consumers[unit.name];
      secret.consumers[unit.name] = {
        ...record,
        tracked: latest,
        notifiedRevision: Math.max(record?.notifiedRevision ?? 0, latest),
      };
    }
    for (const { name, count } of this.storageAdds) {
      for (let n = 0; n < count; n += 1) addStorageInstance(this.model, unit, name);
    }
    this.discard();
  }

  discard(): void {
    this.unitBagWrites.clear();
    this.appBagWrites.clear();
    this.stateWrites.clear();
    this.portOps.length = 0;
    this.storageAdds.length = 0;
    this.secretCopies.clear();
    this.revisedSecrets.clear();
    this.trackLatest.clear();
  }
}
