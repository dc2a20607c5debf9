import { JujuEnvironmentError, readJujuContext } from './context.js';

const COMMON = {
  JUJU_UNIT_NAME: 'agent/0',
  JUJU_MODEL_NAME: 'test-abc',
  JUJU_MODEL_UUID: '8d1b7a6e-5f2c-4d1e-9a3b-1c2d3e4f5a6b',
  JUJU_VERSION: '3.6.12',
  JUJU_CHARM_DIR: '/var/lib/juju/agents/unit-agent-0/charm',
  CHARM_DIR: '/var/lib/juju/agents/unit-agent-0/charm',
  JUJU_MACHINE_ID: '0/lxd/1',
  JUJU_PRINCIPAL_UNIT: '',
};

function hookEnv(hook: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...COMMON, JUJU_DISPATCH_PATH: `hooks/${hook}`, JUJU_HOOK_NAME: hook, ...extra };
}

const RELATION = {
  JUJU_RELATION: 'juju-info',
  JUJU_RELATION_ID: 'juju-info:3',
  JUJU_REMOTE_APP: 'api',
  JUJU_REMOTE_UNIT: 'api/0',
};

function without(env: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...env };
  delete copy[name];
  return copy;
}

describe('readJujuContext', () => {
  test('no JUJU_DISPATCH_PATH (juju exec, manual run) is "none", whatever else is set', () => {
    expect(readJujuContext({})).toEqual({ kind: 'none' });
    expect(readJujuContext({ ...COMMON, JUJU_HOOK_NAME: 'install' })).toEqual({ kind: 'none' });
  });

  test('a plain hook: the common fields typed, no relation/storage/secret', () => {
    expect(readJujuContext(hookEnv('install'))).toEqual({
      kind: 'hook',
      hookName: 'install',
      dispatchPath: 'hooks/install',
      unit: 'agent/0',
      app: 'agent',
      model: { name: 'test-abc', uuid: COMMON.JUJU_MODEL_UUID },
      jujuVersion: '3.6.12',
      charmDir: COMMON.JUJU_CHARM_DIR,
      machineId: '0/lxd/1',
    });
  });

  test('the hook name comes from the dispatch path, charm dir falls back to CHARM_DIR', () => {
    const context = readJujuContext({ ...without(hookEnv('start'), 'JUJU_CHARM_DIR'), JUJU_HOOK_NAME: 'other' });
    expect(context).toMatchObject({ kind: 'hook', hookName: 'start', charmDir: COMMON.CHARM_DIR });
  });

  test.each(['JUJU_UNIT_NAME', 'JUJU_MODEL_NAME', 'JUJU_MODEL_UUID', 'JUJU_VERSION'])(
    'a missing %s is an error naming it',
    (name) => {
      expect(() => readJujuContext(without(hookEnv('install'), name))).toThrow(JujuEnvironmentError);
      expect(() => readJujuContext(without(hookEnv('install'), name))).toThrow(`${name}: not set`);
    },
  );

  test('an empty required variable or a malformed one is named', () => {
    expect(() => readJujuContext({ ...hookEnv('install'), JUJU_VERSION: '' })).toThrow('JUJU_VERSION: set but empty');
    expect(() => readJujuContext({ ...hookEnv('install'), JUJU_UNIT_NAME: 'agent' })).toThrow('JUJU_UNIT_NAME');
    expect(() => readJujuContext({ ...hookEnv('install'), JUJU_DISPATCH_PATH: 'install' })).toThrow(
      'JUJU_DISPATCH_PATH',
    );
    expect(() => readJujuContext({ ...hookEnv('install'), JUJU_DISPATCH_PATH: '' })).toThrow('JUJU_DISPATCH_PATH');
  });

  test('errors say exactly what is wrong, and name the first bad variable in a fixed order', () => {
    const message = (env: Record<string, string>) => {
      try {
        readJujuContext(env);
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    expect(message({ ...hookEnv('install'), JUJU_DISPATCH_PATH: 'install' })).toBe(
      'invalid Juju environment: JUJU_DISPATCH_PATH: expected "hooks/<hook>" or "actions/<action>"',
    );
    expect(message({ ...hookEnv('install'), JUJU_UNIT_NAME: 'agent' })).toBe(
      'invalid Juju environment: JUJU_UNIT_NAME: expected "<application>/<number>"',
    );
    // An empty value is "set but empty", not a format error.
    expect(message({ ...hookEnv('install'), JUJU_UNIT_NAME: '' })).toBe(
      'invalid Juju environment: JUJU_UNIT_NAME: set but empty',
    );
    expect(message(without(without(hookEnv('install'), 'JUJU_VERSION'), 'JUJU_MODEL_NAME'))).toBe(
      'invalid Juju environment: JUJU_MODEL_NAME: not set',
    );
    expect(message(hookEnv('db-relation-changed', { ...RELATION, JUJU_RELATION_ID: 'db:x' }))).toBe(
      'invalid Juju environment: JUJU_RELATION_ID: expected "<endpoint>:<id>"',
    );
  });

  test('a subordinate has its principal unit; a principal (empty variable) has none', () => {
    const sub = readJujuContext(hookEnv('juju-info-relation-joined', { ...RELATION, JUJU_PRINCIPAL_UNIT: 'api/0' }));
    expect(sub).toMatchObject({ principalUnit: 'api/0' });
    expect(readJujuContext(hookEnv('install'))).not.toHaveProperty('principalUnit');
  });

  test('a relation hook: endpoint, numeric id from after the last ":", name, remote app and unit', () => {
    const context = readJujuContext(hookEnv('juju-info-relation-joined', RELATION));
    expect(context).toMatchObject({
      kind: 'hook',
      relation: { endpoint: 'juju-info', id: 3, name: 'juju-info:3', remoteApp: 'api', remoteUnit: 'api/0' },
    });
  });

  test('a bare numeric JUJU_RELATION_ID still yields the endpoint:id name', () => {
    const context = readJujuContext(
      hookEnv('db-relation-changed', { ...RELATION, JUJU_RELATION: 'db', JUJU_RELATION_ID: '12' }),
    );
    expect(context).toMatchObject({ relation: { endpoint: 'db', id: 12, name: 'db:12' } });
  });

  test.each(['created', 'broken', 'changed'])('an empty JUJU_REMOTE_UNIT is accepted in relation-%s', (kind) => {
    const context = readJujuContext(hookEnv(`juju-info-relation-${kind}`, { ...RELATION, JUJU_REMOTE_UNIT: '' }));
    expect(context).toMatchObject({ relation: { remoteUnit: '' } });
  });

  test('JUJU_REMOTE_UNIT must be exported (present, possibly empty) in relation hooks', () => {
    expect(() => readJujuContext(hookEnv('juju-info-relation-created', without(RELATION, 'JUJU_REMOTE_UNIT')))).toThrow(
      'JUJU_REMOTE_UNIT: not set',
    );
  });

  test.each(['JUJU_RELATION', 'JUJU_RELATION_ID', 'JUJU_REMOTE_APP'])(
    'a relation hook without %s fails naming it',
    (name) => {
      expect(() => readJujuContext(hookEnv('juju-info-relation-changed', without(RELATION, name)))).toThrow(name);
    },
  );

  // Juju's relation resolver takes relation-broken's remote application from the state tracker,
  // which a restarted unit agent never refills (docs/charm-runtime.md, "Juju rules the runtime relies on").
  test('relation-broken accepts an empty JUJU_REMOTE_APP as an unknown remote application', () => {
    const env = hookEnv('juju-info-relation-broken', { ...RELATION, JUJU_REMOTE_APP: '', JUJU_REMOTE_UNIT: '' });
    const context = readJujuContext(env);
    expect(context).toMatchObject({ kind: 'hook', relation: { hook: 'broken', name: 'juju-info:3' } });
    expect(context.kind === 'hook' && context.relation).toHaveProperty('remoteApp', undefined);
    // Still exported: a missing variable is a broken environment, not an unknown application.
    expect(() => readJujuContext(without(env, 'JUJU_REMOTE_APP'))).toThrow('JUJU_REMOTE_APP: not set');
    // Named when Juju knows it.
    const named = readJujuContext({ ...env, JUJU_REMOTE_APP: 'api' });
    expect(named).toMatchObject({ relation: { hook: 'broken', remoteApp: 'api' } });
  });

  test.each(['created', 'joined', 'changed', 'departed'])(
    'relation-%s still needs a non-empty JUJU_REMOTE_APP (Juju always names it there)',
    (kind) => {
      const env = hookEnv(`juju-info-relation-${kind}`, {
        ...RELATION,
        JUJU_REMOTE_APP: '',
        JUJU_DEPARTING_UNIT: 'api/0',
      });
      expect(() => readJujuContext(env)).toThrow('JUJU_REMOTE_APP: set but empty');
    },
  );

  test('the relation hook kind is typed', () => {
    const context = readJujuContext(hookEnv('juju-info-relation-joined', RELATION));
    expect(context).toMatchObject({ relation: { hook: 'joined', remoteApp: 'api' } });
  });

  test('a malformed relation id is named', () => {
    expect(() => readJujuContext(hookEnv('db-relation-changed', { ...RELATION, JUJU_RELATION_ID: 'db:x' }))).toThrow(
      'JUJU_RELATION_ID',
    );
  });

  test('relation-departed needs JUJU_DEPARTING_UNIT and exposes it (the local unit when it is leaving)', () => {
    const env = hookEnv('juju-info-relation-departed', RELATION);
    expect(() => readJujuContext(env)).toThrow('JUJU_DEPARTING_UNIT: not set');
    const context = readJujuContext({ ...env, JUJU_DEPARTING_UNIT: 'agent/0' });
    expect(context).toMatchObject({ relation: { remoteUnit: 'api/0', departingUnit: 'agent/0' } });
  });

  test('non-relation hooks carry no relation, even with stray variables', () => {
    expect(readJujuContext(hookEnv('config-changed', RELATION))).not.toHaveProperty('relation');
  });

  test('a storage hook carries id, location and kind; a missing one is named', () => {
    const storage = {
      JUJU_STORAGE_ID: 'backups/0',
      JUJU_STORAGE_LOCATION: '/srv/backups/0',
      JUJU_STORAGE_KIND: 'filesystem',
    };
    expect(readJujuContext(hookEnv('backups-storage-attached', storage))).toMatchObject({
      storage: { id: 'backups/0', location: '/srv/backups/0', kind: 'filesystem' },
    });
    expect(() =>
      readJujuContext(hookEnv('backups-storage-detaching', without(storage, 'JUJU_STORAGE_LOCATION'))),
    ).toThrow('JUJU_STORAGE_LOCATION');
    expect(() =>
      readJujuContext(hookEnv('backups-storage-attached', { ...storage, JUJU_STORAGE_KIND: 'tape' })),
    ).toThrow('JUJU_STORAGE_KIND');
  });

  test('storage: a malformed id or an unset kind is named', () => {
    const storage = { JUJU_STORAGE_ID: 'backups', JUJU_STORAGE_LOCATION: '/srv', JUJU_STORAGE_KIND: 'block' };
    expect(() => readJujuContext(hookEnv('backups-storage-attached', storage))).toThrow(
      'JUJU_STORAGE_ID: expected "<storage>/<number>"',
    );
    expect(() =>
      readJujuContext(
        hookEnv('backups-storage-attached', without({ ...storage, JUJU_STORAGE_ID: 'backups/1' }, 'JUJU_STORAGE_KIND')),
      ),
    ).toThrow('JUJU_STORAGE_KIND: expected "filesystem" or "block"');
  });

  test('secret revision: kept when Juju sets it, checked wherever it is non-empty', () => {
    const id = { JUJU_SECRET_ID: 'secret:x' };
    expect(readJujuContext(hookEnv('secret-changed', { ...id, JUJU_SECRET_REVISION: '4' }))).toMatchObject({
      secret: { id: 'secret:x', revision: 4 },
    });
    expect(() => readJujuContext(hookEnv('secret-changed', { ...id, JUJU_SECRET_REVISION: 'x' }))).toThrow(
      'JUJU_SECRET_REVISION: expected a revision number',
    );
    expect(() => readJujuContext(hookEnv('secret-expired', { ...id, JUJU_SECRET_REVISION: '' }))).toThrow(
      'JUJU_SECRET_REVISION: set but empty',
    );
    // Where the hook does not need it, an empty value is no revision (not an error).
    expect(readJujuContext(hookEnv('secret-changed', { ...id, JUJU_SECRET_REVISION: '' }))).not.toHaveProperty(
      'secret.revision',
    );
    expect(() => readJujuContext(hookEnv('secret-remove', id))).toThrow('JUJU_SECRET_REVISION: not set');
  });

  test('secret hooks: id and label; the revision in secret-remove and secret-expired', () => {
    const changed = readJujuContext(
      hookEnv('secret-changed', { JUJU_SECRET_ID: 'secret:9m4e2mr0ui3e8a215n4g', JUJU_SECRET_LABEL: 'registration' }),
    );
    expect(changed).toMatchObject({ secret: { id: 'secret:9m4e2mr0ui3e8a215n4g', label: 'registration' } });
    expect(changed).not.toHaveProperty('secret.revision');
    const removed = readJujuContext(
      hookEnv('secret-remove', {
        JUJU_SECRET_ID: 'secret:9m4e2mr0ui3e8a215n4g',
        JUJU_SECRET_LABEL: '',
        JUJU_SECRET_REVISION: '1',
      }),
    );
    expect(removed).toMatchObject({ secret: { id: 'secret:9m4e2mr0ui3e8a215n4g', revision: 1 } });
    expect(removed).not.toHaveProperty('secret.label');
    expect(() => readJujuContext(hookEnv('secret-expired', { JUJU_SECRET_ID: 'secret:x' }))).toThrow(
      'JUJU_SECRET_REVISION',
    );
    expect(() => readJujuContext(hookEnv('secret-rotate', {}))).toThrow('JUJU_SECRET_ID');
  });

  test('an action is recognised by its dispatch path (JUJU_HOOK_NAME is empty)', () => {
    const context = readJujuContext({
      ...COMMON,
      JUJU_DISPATCH_PATH: 'actions/backup-now',
      JUJU_HOOK_NAME: '',
      JUJU_ACTION_NAME: 'backup-now',
      JUJU_ACTION_UUID: '12',
      JUJU_ACTION_TAG: 'action-12',
    });
    expect(context).toMatchObject({ kind: 'action', actionName: 'backup-now', actionId: '12', unit: 'agent/0' });
    expect(context).not.toHaveProperty('hookName');
  });

  test('an action without JUJU_ACTION_UUID is an error naming it', () => {
    expect(() => readJujuContext({ ...COMMON, JUJU_DISPATCH_PATH: 'actions/backup-now', JUJU_HOOK_NAME: '' })).toThrow(
      'JUJU_ACTION_UUID: not set',
    );
  });
});
