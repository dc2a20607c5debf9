// The JUJU_* environment, read once into a typed object (spec 2.2). Everything else in the runtime
// takes this object instead of looking at process.env, so tests can build it from a plain map.
import * as z from 'zod/mini';

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

export interface RelationInfo {
  /** Endpoint name, e.g. `registration`. */
  endpoint: string;
  /** The numeric relation id. */
  id: number;
  /** `<endpoint>:<id>`, the form every `-r` flag gets. */
  name: string;
  remoteApp: string;
  /** '' in relation-created, relation-broken and application-level relation-changed. */
  remoteUnit: string;
  /** relation-departed only: the unit leaving (the local unit when it is the one going away). */
  departingUnit?: string;
}

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

// A variable that must be set and non-empty.
const present = z.string({ error: (issue) => (issue.input === undefined ? 'not set' : 'expected a string') });
const required = present.check(z.minLength(1, 'set but empty'));
// A variable that must be exported but may be empty (JUJU_REMOTE_UNIT).
const exported = present;

const UNIT_NAME = /^[a-z][a-z0-9-]*\/[0-9]+$/;

const commonSchema = z.object({
  JUJU_DISPATCH_PATH: required.check(
    z.regex(/^(hooks|actions)\/[^/]+$/, 'expected "hooks/<hook>" or "actions/<action>"'),
  ),
  JUJU_UNIT_NAME: required.check(z.regex(UNIT_NAME, 'expected "<application>/<number>"')),
  JUJU_MODEL_NAME: required,
  JUJU_MODEL_UUID: required,
  JUJU_VERSION: required,
  JUJU_CHARM_DIR: z.optional(z.string()),
  CHARM_DIR: z.optional(z.string()),
  JUJU_MACHINE_ID: z.optional(z.string()),
  JUJU_PRINCIPAL_UNIT: z.optional(z.string()),
});

const relationSchema = z.object({
  JUJU_RELATION: required,
  // Juju prints `<endpoint>:<id>`; the id is the text after the last ':'.
  JUJU_RELATION_ID: required.check(z.regex(/(^|:)[0-9]+$/, 'expected "<endpoint>:<id>"')),
  JUJU_REMOTE_APP: required,
  JUJU_REMOTE_UNIT: exported,
});

const departedSchema = z.object({ JUJU_DEPARTING_UNIT: required });

const storageSchema = z.object({
  JUJU_STORAGE_ID: required.check(z.regex(/^[a-z][a-z0-9-]*\/[0-9]+$/, 'expected "<storage>/<number>"')),
  JUJU_STORAGE_LOCATION: required,
  JUJU_STORAGE_KIND: z.enum(['filesystem', 'block'], { error: 'expected "filesystem" or "block"' }),
});

const secretSchema = z.object({
  JUJU_SECRET_ID: required,
  JUJU_SECRET_LABEL: z.optional(z.string()),
  JUJU_SECRET_REVISION: z.optional(z.string().check(z.regex(/^[0-9]+$/, 'expected a revision number'))),
});

const secretRevisionSchema = z.object({
  JUJU_SECRET_REVISION: required.check(z.regex(/^[0-9]+$/, 'expected a revision number')),
});

const actionSchema = z.object({ JUJU_ACTION_UUID: required });

const RELATION_HOOK = /^(.+)-relation-(created|joined|changed|departed|broken)$/;
const STORAGE_HOOK = /^(.+)-storage-(attached|detaching)$/;
const SECRET_HOOK = /^secret-(changed|rotate|expired|remove)$/;

function check<S extends z.ZodMiniObject>(schema: S, env: Env): z.output<S> {
  const result = z.safeParse(schema, env);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const variable = String(issue?.path[0] ?? '?');
  throw new JujuEnvironmentError(`invalid Juju environment: ${variable}: ${issue?.message ?? 'invalid'}`);
}

/** Parses the JUJU_* environment (spec 2.2). Throws JujuEnvironmentError naming the bad variable. */
export function readJujuContext(env: Env): JujuContext {
  if (env.JUJU_DISPATCH_PATH === undefined) return { kind: 'none' };
  const common = check(commonSchema, env);
  const unit = common.JUJU_UNIT_NAME;
  const base: JujuCommon = {
    dispatchPath: common.JUJU_DISPATCH_PATH,
    unit,
    app: unit.slice(0, unit.lastIndexOf('/')),
    model: { name: common.JUJU_MODEL_NAME, uuid: common.JUJU_MODEL_UUID },
    jujuVersion: common.JUJU_VERSION,
    charmDir: common.JUJU_CHARM_DIR || common.CHARM_DIR || '',
    machineId: common.JUJU_MACHINE_ID ?? '',
  };
  // Juju exports JUJU_PRINCIPAL_UNIT empty for principals.
  if (common.JUJU_PRINCIPAL_UNIT) base.principalUnit = common.JUJU_PRINCIPAL_UNIT;

  const [kind, name = ''] = splitDispatchPath(common.JUJU_DISPATCH_PATH);
  if (kind === 'actions') {
    const action = check(actionSchema, env);
    return { kind: 'action', ...base, actionName: name, actionId: action.JUJU_ACTION_UUID };
  }

  const hook: JujuHookContext = { kind: 'hook', ...base, hookName: name };
  const relationHook = RELATION_HOOK.exec(name);
  if (relationHook) hook.relation = readRelation(env, relationHook[2] === 'departed');
  if (STORAGE_HOOK.test(name)) {
    const storage = check(storageSchema, env);
    hook.storage = {
      id: storage.JUJU_STORAGE_ID,
      location: storage.JUJU_STORAGE_LOCATION,
      kind: storage.JUJU_STORAGE_KIND,
    };
  }
  const secretHook = SECRET_HOOK.exec(name);
  if (secretHook) hook.secret = readSecret(env, secretHook[1] === 'expired' || secretHook[1] === 'remove');
  return hook;
}

function splitDispatchPath(path: string): [string, string] {
  const slash = path.indexOf('/');
  return [path.slice(0, slash), path.slice(slash + 1)];
}

function readRelation(env: Env, departed: boolean): RelationInfo {
  const vars = check(relationSchema, env);
  const endpoint = vars.JUJU_RELATION;
  const id = Number(vars.JUJU_RELATION_ID.slice(vars.JUJU_RELATION_ID.lastIndexOf(':') + 1));
  const relation: RelationInfo = {
    endpoint,
    id,
    name: `${endpoint}:${id}`,
    remoteApp: vars.JUJU_REMOTE_APP,
    remoteUnit: vars.JUJU_REMOTE_UNIT,
  };
  if (departed) relation.departingUnit = check(departedSchema, env).JUJU_DEPARTING_UNIT;
  return relation;
}

function readSecret(env: Env, needsRevision: boolean): SecretEventInfo {
  const vars = check(secretSchema, env);
  const secret: SecretEventInfo = { id: vars.JUJU_SECRET_ID };
  if (vars.JUJU_SECRET_LABEL) secret.label = vars.JUJU_SECRET_LABEL;
  const revision = needsRevision ? check(secretRevisionSchema, env).JUJU_SECRET_REVISION : vars.JUJU_SECRET_REVISION;
  if (revision) secret.revision = Number(revision);
  return secret;
}
