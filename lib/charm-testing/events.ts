// The events the fake delivers to a unit, and what running one produced. The simulator and the
// single-unit context decide *which* event runs; session.ts runs it (environment, hook tools,
// commit or rollback) through the application's CharmExecutor.

export interface HookEvent {
  kind: 'hook';
  /** The hook name: `install`, `db-relation-joined`, `backups-storage-attached`, `secret-changed`. */
  name: string;
  /** Relation hooks: the relation id (the endpoint comes from the unit's own end of it). */
  relationId?: number;
  /** Relation hooks: the remote unit; '' for created, broken and application-level changed. */
  remoteUnit?: string;
  /** Relation hooks: the remote application (for a peer relation, the unit's own application). */
  remoteApp?: string;
  /** relation-departed: the unit leaving (the local unit when it is the one going away). */
  departingUnit?: string;
  /** Storage hooks: "backups/0". */
  storageId?: string;
  /** Secret hooks. */
  secretId?: string;
  secretLabel?: string;
  secretRevision?: number;
}

export interface ActionEvent {
  kind: 'action';
  name: string;
  /** The task id (decimal string) in model.tasks; params are read from the task. */
  taskId: string;
}

export type CharmEvent = HookEvent | ActionEvent;

export interface EventOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The full environment the charm ran with (what `resolve` re-uses). */
  env: Record<string, string>;
  /** True when pending changes (relation data, ports, state, secrets, storage-add) were committed. */
  committed: boolean;
}
