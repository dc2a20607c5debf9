// The JUJU_* environment, read once into a typed object
// (docs/charm-runtime.md, "The hook environment"). Everything else in the runtime takes this object
// instead of looking at process.env, so tests can build it from a plain map.

export interface JujuModel {
  name: string;
  uuid: string;
}

/** What every hook and action sees. */
export interface JujuCommon {
  /** `hooks/<hook>` or `actions/<action>`. */
  dispatchPath: string;
  /** `app/0` */
  unit: string;
  /** `app` */
  app: string;
  model: JujuModel;
  /** `3.6.12`; use for feature gates. */
  jujuVersion: string;
  /** The charm directory (also the working directory); '' when Juju did not say. */
  charmDir: string;
  /** `0` or `0/lxd/1`; '' when Juju did not say. */
  machineId: string;
  /** The principal unit of a subordinate; absent for principals. */
  principalUnit?: string;
}

/** Which relation hook runs: the `<endpoint>-relation-<hook>` suffix. */
export type RelationHookKind = 'created' | 'joined' | 'changed' | 'departed' | 'broken';

interface RelationInfoBase {
  /** Endpoint name, e.g. `registration`. */
  endpoint: string;
  /** The numeric relation id. */
  id: number;
  /** `<endpoint>:<id>`, the form every `-r` flag gets. */
  name: string;
  /** '' in relation-created, relation-broken and application-level relation-changed. */
  remoteUnit: string;
  /** relation-departed only: the unit leaving (the local unit when it is the one going away). */
  departingUnit?: string;
}

/** Every relation hook but relation-broken: Juju always names the remote application. */
export interface LiveRelationInfo extends RelationInfoBase {
  hook: Exclude<RelationHookKind, 'broken'>;
  remoteApp: string;
}

/**
 * relation-broken: the remote application is unknown (`undefined`) when Juju exports
 * JUJU_REMOTE_APP empty, which it does after a unit agent restart (docs/charm-runtime.md, "Juju
 * rules the runtime relies on"). Code that needs the name asks `relation-list --app` or, better,
 * reconciles from the relations that remain.
 */
export interface BrokenRelationInfo extends RelationInfoBase {
  hook: 'broken';
  remoteApp: string | undefined;
}

export type RelationInfo = LiveRelationInfo | BrokenRelationInfo;

export interface StorageInfo {
  /** `backups/0` */
  id: string;
  location: string;
  kind: 'filesystem' | 'block';
}

export interface SecretEventInfo {
  /** `secret:...` */
  id: string;
  label?: string;
  /** secret-expired and secret-remove only. */
  revision?: number;
}

export interface JujuHookContext extends JujuCommon {
  kind: 'hook';
  hookName: string;
  relation?: RelationInfo;
  storage?: StorageInfo;
  secret?: SecretEventInfo;
}

export interface JujuActionContext extends JujuCommon {
  kind: 'action';
  actionName: string;
  /** The task id (`7` in Juju 3, a UUID in 2.9). */
  actionId: string;
}

/** No JUJU_DISPATCH_PATH: `juju exec` or a manual run. The runtime must do nothing harmful. */
export interface NoJujuContext {
  kind: 'none';
}

export type JujuContext = JujuHookContext | JujuActionContext | NoJujuContext;

/** The environment is missing a variable Juju always sets, or one is malformed. */
export class JujuEnvironmentError extends Error {
  override name = 'JujuEnvironmentError';
}

type Env = Readonly<Record<string, string | undefined>>;

// Hand-written checks, not zod: they run in every hook, and a charm that declares no schema must
// not pay zod's module start-up (bench/dispatch). The first bad variable ends the parse.

function invalid(variable: string, problem: string): never {
  throw new JujuEnvironmentError(`invalid Juju environment: ${variable}: ${problem}`);
}

/** A variable that must be exported but may be empty (JUJU_REMOTE_UNIT). */
function exported(env: Env, variable: string): string {
  const value: unknown = env[variable];
  if (value === undefined) return invalid(variable, 'not set');
  return typeof value === 'string' ? value : invalid(variable, 'expected a string');
}

/** A variable's format: the pattern and how the error describes it. */
interface Format {
  pattern: RegExp;
  expected: string;
}

/** A variable that must be set and non-empty, and match `format` when given. */
function required(env: Env, variable: string, format?: Format): string {
  const value = exported(env, variable);
  if (value === '') return invalid(variable, 'set but empty');
  return format ? formatted(variable, value, format) : value;
}

function formatted(variable: string, value: string, format: Format): string {
  return format.pattern.test(value) ? value : invalid(variable, format.expected);
}

/** A variable Juju may leave out. */
function optional(env: Env, variable: string): string | undefined {
  return env[variable] === undefined ? undefined : exported(env, variable);
}

/** The charm directory: JUJU_CHARM_DIR, else the older CHARM_DIR, else '' (Juju did not say). */
export function charmDirOf(env: Env): string {
  return optional(env, 'JUJU_CHARM_DIR') || optional(env, 'CHARM_DIR') || '';
}

const DISPATCH_PATH: Format = {
  pattern: /^(hooks|actions)\/[^/]+$/,
  expected: 'expected "hooks/<hook>" or "actions/<action>"',
};
const UNIT_NAME: Format = { pattern: /^[a-z][a-z0-9-]*\/[0-9]+$/, expected: 'expected "<application>/<number>"' };
// Juju prints `<endpoint>:<id>`; the id is the text after the last ':'.
const RELATION_ID: Format = { pattern: /(^|:)[0-9]+$/, expected: 'expected "<endpoint>:<id>"' };
const STORAGE_ID: Format = { pattern: /^[a-z][a-z0-9-]*\/[0-9]+$/, expected: 'expected "<storage>/<number>"' };
const REVISION: Format = { pattern: /^[0-9]+$/, expected: 'expected a revision number' };

const RELATION_HOOK = /^(.+)-relation-(created|joined|changed|departed|broken)$/;
const STORAGE_HOOK = /^(.+)-storage-(attached|detaching)$/;
const SECRET_HOOK = /^secret-(changed|rotate|expired|remove)$/;

/**
 * Parses the JUJU_* environment (docs/charm-runtime.md, "The hook environment"). Throws
 * JujuEnvironmentError naming the bad variable.
 */
export function readJujuContext(env: Env): JujuContext {
  if (env.JUJU_DISPATCH_PATH === undefined) return { kind: 'none' };
  // Checked in this order, so the error names the first bad variable of the list.
  const dispatchPath = required(env, 'JUJU_DISPATCH_PATH', DISPATCH_PATH);
  const unit = required(env, 'JUJU_UNIT_NAME', UNIT_NAME);
  const model = { name: required(env, 'JUJU_MODEL_NAME'), uuid: required(env, 'JUJU_MODEL_UUID') };
  const jujuVersion = required(env, 'JUJU_VERSION');
  const charmDir = charmDirOf(env);
  const machineId = optional(env, 'JUJU_MACHINE_ID') ?? '';
  const principalUnit = optional(env, 'JUJU_PRINCIPAL_UNIT');
  const base: JujuCommon = {
    dispatchPath,
    unit,
    app: unit.slice(0, unit.lastIndexOf('/')),
    model,
    jujuVersion,
    charmDir,
    machineId,
  };
  // Juju exports JUJU_PRINCIPAL_UNIT empty for principals.
  if (principalUnit) base.principalUnit = principalUnit;

  const [kind, name = ''] = splitDispatchPath(dispatchPath);
  if (kind === 'actions') {
    return { kind: 'action', ...base, actionName: name, actionId: required(env, 'JUJU_ACTION_UUID') };
  }

  const hook: JujuHookContext = { kind: 'hook', ...base, hookName: name };
  const relationHook = RELATION_HOOK.exec(name);
  if (relationHook) hook.relation = readRelation(env, relationHook[2] as RelationHookKind);
  if (STORAGE_HOOK.test(name)) hook.storage = readStorage(env);
  const secretHook = SECRET_HOOK.exec(name);
  if (secretHook) hook.secret = readSecret(env, secretHook[1] === 'expired' || secretHook[1] === 'remove');
  return hook;
}

function splitDispatchPath(path: string): [string, string] {
  const slash = path.indexOf('/');
  return [path.slice(0, slash), path.slice(slash + 1)];
}

function readRelation(env: Env, kind: RelationHookKind): RelationInfo {
  const endpoint = required(env, 'JUJU_RELATION');
  const relationId = required(env, 'JUJU_RELATION_ID', RELATION_ID);
  // Juju names the remote application in every relation hook but relation-broken, where a unit
  // agent restarted since the relation was known exports it empty (it never reloads the name).
  const remoteAppText = kind === 'broken' ? exported(env, 'JUJU_REMOTE_APP') : required(env, 'JUJU_REMOTE_APP');
  const remoteUnit = exported(env, 'JUJU_REMOTE_UNIT');
  const id = Number(relationId.slice(relationId.lastIndexOf(':') + 1));
  const base = { endpoint, id, name: `${endpoint}:${id}`, remoteUnit };
  if (kind === 'broken') return { ...base, hook: kind, remoteApp: remoteAppText === '' ? undefined : remoteAppText };
  const relation: LiveRelationInfo = { ...base, hook: kind, remoteApp: remoteAppText };
  if (kind === 'departed') relation.departingUnit = required(env, 'JUJU_DEPARTING_UNIT');
  return relation;
}

function readStorage(env: Env): StorageInfo {
  const id = required(env, 'JUJU_STORAGE_ID', STORAGE_ID);
  const location = required(env, 'JUJU_STORAGE_LOCATION');
  const kind = env.JUJU_STORAGE_KIND;
  if (kind !== 'filesystem' && kind !== 'block')
    return invalid('JUJU_STORAGE_KIND', 'expected "filesystem" or "block"');
  return { id, location, kind };
}

function readSecret(env: Env, needsRevision: boolean): SecretEventInfo {
  const secret: SecretEventInfo = { id: required(env, 'JUJU_SECRET_ID') };
  const label = optional(env, 'JUJU_SECRET_LABEL');
  if (label) secret.label = label;
  // Only secret-remove and secret-expired need it; elsewhere an agent may export it empty.
  if (needsRevision) secret.revision = Number(required(env, 'JUJU_SECRET_REVISION', REVISION));
  else {
    const revision = optional(env, 'JUJU_SECRET_REVISION');
    if (revision) secret.revision = Number(formatted('JUJU_SECRET_REVISION', revision, REVISION));
  }
  return secret;
}
