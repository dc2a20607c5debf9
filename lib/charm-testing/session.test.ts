import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CharmIo, type InProcessCharm } from '../charm/runner.js';
import { addApplication, addTask, addUnit, fixtureModel, relate } from './fixtures.js';
import { type Model } from './model.js';
import { createHookSession, hookEnvironment, runEvent } from './session.js';

function setCharm(model: Model, app: string, run: InProcessCharm): void {
  const application = model.applications[app];
  if (application === undefined) throw new Error('no app');
  application.executor = { kind: 'in-process', run };
}

/** api/0 related to pg/0 over `db` (relation 0). */
function apiRelatedToPg(): Model {
  const model = fixtureModel();
  addApplication(model, 'api', { endpoints: { db: 'requires' } });
  addApplication(model, 'pg', { endpoints: { db: 'provides' } });
  relate(model, 'api:db', 'pg:db');
  return model;
}

/** Runs action `name` as a new task on api/0, whose charm is `run`. */
async function runAction(name: string, run: InProcessCharm) {
  const model = fixtureModel();
  addApplication(model, 'api', { run });
  const task = addTask(model, 'api/0', name);
  const outcome = await runEvent(model, 'api/0', { kind: 'action', name, taskId: task.id });
  return { model, task, outcome };
}

async function tool(io: CharmIo, name: string, ...args: string[]): Promise<string> {
  const result = await io.runner.run(name, args);
  if (result.code !== 0) throw new Error(result.stderr);
  return result.stdout;
}

describe('hookEnvironment', () => {
  test('[fidelity 1] every hook sets the dispatch path, names, model, version, charm dir and machine', () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const env = hookEnvironment(model, 'api/0', { kind: 'hook', name: 'install' });
    expect(env).toMatchObject({
      JUJU_DISPATCH_PATH: 'hooks/install',
      JUJU_HOOK_NAME: 'install',
      JUJU_UNIT_NAME: 'api/0',
      JUJU_MODEL_NAME: 'test-model',
      JUJU_MODEL_UUID: model.uuid,
      JUJU_VERSION: '3.6.12',
      JUJU_MACHINE_ID: '0',
      JUJU_AVAILABILITY_ZONE: '',
      JUJU_CHARM_HTTP_PROXY: '',
    });
    expect(env['JUJU_CHARM_DIR']).toBe('/var/lib/juju/agents/unit-api-0/charm');
    expect(env['CHARM_DIR']).toBe(env['JUJU_CHARM_DIR']);
    expect(env['JUJU_API_ADDRESSES']).toMatch(/^\S+:\d+$/);
    expect(env).not.toHaveProperty('JUJU_RELATION');
  });

  test('[fidelity 1] a process charm gets its charm dir', () => {
    const model = fixtureModel();
    addApplication(model, 'api', { executor: { kind: 'process', dispatch: '/c/dispatch', charmDir: '/c' } });
    expect(hookEnvironment(model, 'api/0', { kind: 'hook', name: 'start' })['JUJU_CHARM_DIR']).toBe('/c');
  });

  test('[fidelity 2] actions: dispatch path actions/<name>, empty hook name, decimal task id', () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const task = addTask(model, 'api/0', 'backup-now');
    const env = hookEnvironment(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(env['JUJU_DISPATCH_PATH']).toBe('actions/backup-now');
    expect(env['JUJU_HOOK_NAME']).toBe('');
    expect(env['JUJU_ACTION_NAME']).toBe('backup-now');
    expect(env['JUJU_ACTION_UUID']).toMatch(/^\d+$/);
    expect(env['JUJU_ACTION_UUID']).toBe(task.id);
    expect(env['JUJU_ACTION_TAG']).toBe(`action-${task.id}`);
  });

  test('[fidelity 3] relation hooks: endpoint, id, remote app, remote unit exported and empty where due', () => {
    const model = fixtureModel();
    addApplication(model, 'api', { endpoints: { registration: 'provides' } });
    addApplication(model, 'agent', { endpoints: { registration: 'requires' } });
    relate(model, 'api:registration', 'agent:registration');
    const joined = hookEnvironment(model, 'api/0', {
      kind: 'hook',
      name: 'registration-relation-joined',
      relationId: 0,
      remoteUnit: 'agent/0',
      remoteApp: 'agent',
    });
    expect(joined).toMatchObject({
      JUJU_RELATION: 'registration',
      JUJU_RELATION_ID: 'registration:0',
      JUJU_REMOTE_APP: 'agent',
      JUJU_REMOTE_UNIT: 'agent/0',
    });
    for (const name of ['created', 'broken', 'changed']) {
      const env = hookEnvironment(model, 'api/0', {
        kind: 'hook',
        name: `registration-relation-${name}`,
        relationId: 0,
        remoteUnit: '',
        remoteApp: 'agent',
      });
      expect(env['JUJU_REMOTE_UNIT']).toBe('');
      expect(env['JUJU_REMOTE_APP']).toBe('agent');
    }
    const departed = hookEnvironment(model, 'api/0', {
      kind: 'hook',
      name: 'registration-relation-departed',
      relationId: 0,
      remoteUnit: 'agent/0',
      remoteApp: 'agent',
      departingUnit: 'api/0',
    });
    expect(departed['JUJU_DEPARTING_UNIT']).toBe('api/0');
  });

  test('[fidelity 5] JUJU_PRINCIPAL_UNIT: the principal for a subordinate, empty for a principal', () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    addApplication(model, 'agent', { units: 0 });
    const sub = addUnit(model, 'agent', '0');
    sub.principal = 'api/0';
    expect(hookEnvironment(model, 'agent/0', { kind: 'hook', name: 'install' })['JUJU_PRINCIPAL_UNIT']).toBe('api/0');
    expect(hookEnvironment(model, 'api/0', { kind: 'hook', name: 'install' })['JUJU_PRINCIPAL_UNIT']).toBe('');
  });

  test('[fidelity 6] storage hooks set id, location and kind', () => {
    const model = fixtureModel();
    addApplication(model, 'store');
    model.storage['backups/0'] = {
      id: 'backups/0',
      name: 'backups',
      kind: 'filesystem',
      location: '/srv/backups',
      unit: 'store/0',
    };
    const env = hookEnvironment(model, 'store/0', {
      kind: 'hook',
      name: 'backups-storage-attached',
      storageId: 'backups/0',
    });
    expect(env).toMatchObject({
      JUJU_STORAGE_ID: 'backups/0',
      JUJU_STORAGE_LOCATION: '/srv/backups',
      JUJU_STORAGE_KIND: 'filesystem',
    });
  });

  test('[fidelity 7] secret hooks set id and label; secret-remove and secret-expired the revision', () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    addApplication(model, 'agent');
    model.secrets['abcdefghij0123456789'] = {
      id: 'abcdefghij0123456789',
      owner: { kind: 'application', app: 'api' },
      label: 'owner-label',
      revisions: [{ revision: 1, content: { token: 'x' } }],
      grants: [],
      consumers: { 'agent/0': { tracked: 1, notifiedRevision: 1, label: 'mine' } },
      removeNotified: [],
    };
    const changed = hookEnvironment(model, 'agent/0', {
      kind: 'hook',
      name: 'secret-changed',
      secretId: 'abcdefghij0123456789',
    });
    expect(changed['JUJU_SECRET_ID']).toBe('secret:abcdefghij0123456789');
    expect(changed['JUJU_SECRET_LABEL']).toBe('mine');
    expect(changed).not.toHaveProperty('JUJU_SECRET_REVISION');
    const removed = hookEnvironment(model, 'api/0', {
      kind: 'hook',
      name: 'secret-remove',
      secretId: 'secret:abcdefghij0123456789',
      secretRevision: 1,
    });
    expect(removed).toMatchObject({
      JUJU_SECRET_ID: 'secret:abcdefghij0123456789',
      JUJU_SECRET_LABEL: 'owner-label',
      JUJU_SECRET_REVISION: '1',
    });
  });
});

describe('runEvent', () => {
  test('[fidelity 28] a failed hook keeps status, version, leader settings and logs, and discards the rest', async () => {
    const model = apiRelatedToPg();
    setCharm(model, 'api', async (io) => {
      await tool(io, 'relation-set', '-r', 'db:0', 'a=1');
      await tool(io, 'relation-set', '-r', 'db:0', '--app', 'b=2');
      await tool(io, 'open-port', '8080');
      await tool(io, 'state-set', 'k=v');
      await tool(io, 'secret-add', 'token=abc');
      await tool(io, 'status-set', 'blocked', 'broken');
      await tool(io, 'application-version-set', '1.2.3');
      await tool(io, 'leader-set', 'x=y');
      await tool(io, 'juju-log', 'hello');
      return 3;
    });
    const outcome = await runEvent(model, 'api/0', { kind: 'hook', name: 'config-changed' });
    expect(outcome.exitCode).toBe(3);
    expect(outcome.committed).toBe(false);
    const unit = model.units['api/0'];
    const relation = model.relations[0];
    expect(relation?.unitBags['api/0']).toEqual({});
    expect(relation?.appBags['api']).toBeUndefined();
    expect(unit?.ports).toEqual([]);
    expect(unit?.state).toEqual({});
    expect(model.secrets).toEqual({});
    expect(unit?.workloadStatus).toMatchObject({ status: 'blocked', message: 'broken' });
    expect(unit?.statusSetByCharm).toBe(true);
    expect(model.applications['api']?.version).toBe('1.2.3');
    expect(model.applications['api']?.leaderSettings).toEqual({ x: 'y' });
    expect(model.logs.some((line) => line.source === 'juju-log' && line.message === 'hello')).toBe(true);
    expect(unit?.error).toEqual({ hook: 'config-changed', env: outcome.env });
  });

  test('[fidelity 28] a successful hook commits its changes and bumps versions only on net change', async () => {
    const model = apiRelatedToPg();
    setCharm(model, 'api', async (io) => {
      await tool(io, 'relation-set', '-r', 'db:0', 'a=1');
      await tool(io, 'state-set', 'k=v');
      await tool(io, 'open-port', '8080/tcp');
      return 0;
    });
    const first = await runEvent(model, 'api/0', { kind: 'hook', name: 'config-changed' });
    expect(first.committed).toBe(true);
    expect(model.relations[0]?.unitBags['api/0']).toEqual({ a: '1' });
    expect(model.relations[0]?.unitBagVersion['api/0']).toBe(1);
    expect(model.units['api/0']?.state).toEqual({ k: 'v' });
    expect(model.units['api/0']?.ports).toEqual(['8080/tcp']);
    await runEvent(model, 'api/0', { kind: 'hook', name: 'config-changed' });
    expect(model.relations[0]?.unitBagVersion['api/0']).toBe(1);
    expect(model.units['api/0']?.error).toBeUndefined();
  });

  test('[fidelity 25] other units see a write only after the writer commits', async () => {
    const model = apiRelatedToPg();
    const writer = createHookSession(model, 'api/0', { kind: 'hook', name: 'update-status' });
    await writer.runner.run('relation-set', ['-r', 'db:0', 'a=1']);
    expect((await writer.runner.run('relation-get', ['-r', 'db:0', 'a', 'api/0'])).stdout).toBe('1\n');
    const before = createHookSession(model, 'pg/0', { kind: 'hook', name: 'update-status' });
    expect((await before.runner.run('relation-get', ['--format=json', '-r', 'db:0', 'a', 'api/0'])).stdout).toBe(
      'null\n',
    );
    writer.commit();
    const after = createHookSession(model, 'pg/0', { kind: 'hook', name: 'update-status' });
    expect((await after.runner.run('relation-get', ['--format=json', '-r', 'db:0', 'a', 'api/0'])).stdout).toBe(
      '"1"\n',
    );
  });

  test('a leader writing its peer app bag marks the new version as seen by itself', async () => {
    const model = fixtureModel();
    addApplication(model, 'api', { endpoints: { peers: 'peers' }, units: 2 });
    relate(model, 'api:peers');
    const session = createHookSession(model, 'api/0', { kind: 'hook', name: 'update-status' });
    await session.runner.run('relation-set', ['-r', 'peers:0', '--app', 'k=v']);
    session.commit();
    expect(model.relations[0]?.appBagVersion['api']).toBe(1);
    expect(model.units['api/0']?.relations[0]?.seenAppVersion['api']).toBe(1);
    expect(model.units['api/1']?.relations[0]?.seenAppVersion['api']).toBeUndefined();
  });

  test('rollback discards pending changes', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const session = createHookSession(model, 'api/0', { kind: 'hook', name: 'update-status' });
    await session.runner.run('state-set', ['k=v']);
    session.rollback();
    session.commit();
    expect(model.units['api/0']?.state).toEqual({});
  });

  test('[fidelity 30] [fidelity 52] an action exiting non-zero fails with exit status N, discards changes, no unit error', async () => {
    const { model, task, outcome } = await runAction('backup-now', async (io) => {
      await tool(io, 'state-set', 'k=v');
      await tool(io, 'action-set', 'result.path=/x');
      await tool(io, 'action-fail', 'nope');
      io.stdout('out\n');
      io.stderr('err\n');
      return 2;
    });
    expect(outcome.committed).toBe(false);
    expect(task.status).toBe('failed');
    expect(task.message).toBe('exit status 2');
    expect(task.results).toEqual({ result: { path: '/x' }, 'return-code': 2, stdout: 'out\n', stderr: 'err\n' });
    expect(model.units['api/0']?.state).toEqual({});
    expect(model.units['api/0']?.error).toBeUndefined();
  });

  test('[fidelity 30] action-fail then exit 0: failed with the message, changes committed', async () => {
    const { model, task } = await runAction('backup-now', async (io) => {
      await tool(io, 'state-set', 'k=v');
      await tool(io, 'action-log', 'working');
      await tool(io, 'action-fail', 'disk full');
      return 0;
    });
    expect(task.status).toBe('failed');
    expect(task.message).toBe('disk full');
    expect(task.log).toEqual(['working']);
    expect(model.units['api/0']?.state).toEqual({ k: 'v' });
  });

  test('[fidelity 52] a successful action has action-set results plus return-code', async () => {
    const { task } = await runAction('backup-now', async (io) => {
      await tool(io, 'action-set', 'a.b=1', 'c=two');
      return 0;
    });
    expect(task.status).toBe('completed');
    expect(task.results).toEqual({ a: { b: '1' }, c: 'two', 'return-code': 0 });
  });

  test('action-fail without a message uses Juju default', async () => {
    const { task } = await runAction('go', async (io) => {
      await tool(io, 'action-fail');
      return 0;
    });
    expect(task.message).toBe('action failed without reason given, check action for errors');
  });

  test('an in-process exception counts as exit 1 with the message on stderr', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    setCharm(model, 'api', () => Promise.reject(new Error('boom')));
    const outcome = await runEvent(model, 'api/0', { kind: 'hook', name: 'start' });
    expect(outcome.exitCode).toBe(1);
    expect(outcome.stderr).toContain('boom');
    expect(model.logs.some((line) => line.level === 'WARNING' && line.message.includes('boom'))).toBe(true);
    expect(model.units['api/0']?.error?.hook).toBe('start');
  });

  describe('process executor', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'charm-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const server = () => ({
      socketPath: '/nonexistent.sock',
      toolsDir: '/nonexistent-tools',
      registered: [] as string[],
      register(id: string) {
        this.registered.push(id);
      },
      unregister() {},
    });

    test('[fidelity 31] a missing action handler fails the task; a missing hook handler succeeds', async () => {
      const model = fixtureModel();
      addApplication(model, 'api', { executor: { kind: 'process', dispatch: join(dir, 'dispatch'), charmDir: dir } });
      const task = addTask(model, 'api/0', 'backup-now');
      const toolServer = server();
      await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id }, { toolServer });
      expect(task.status).toBe('failed');
      expect(task.message).toBe('action not implemented on unit "api/0"');
      const hook = await runEvent(model, 'api/0', { kind: 'hook', name: 'install' }, { toolServer });
      expect(hook.exitCode).toBe(0);
      expect(model.units['api/0']?.error).toBeUndefined();
      expect(model.logs.some((line) => line.message === 'skipped "install" hook (missing)')).toBe(true);
    });

    test('dispatch runs in the charm dir with the hook environment and the tool socket variables', async () => {
      const model = fixtureModel();
      const dispatch = join(dir, 'dispatch');
      writeFileSync(
        dispatch,
        '#!/bin/sh\necho "$JUJU_DISPATCH_PATH $JUJU_AGENT_SOCKET_NETWORK $JUJU_AGENT_SOCKET_ADDRESS $(pwd)"\nexit 4\n',
        { mode: 0o755 },
      );
      addApplication(model, 'api', { executor: { kind: 'process', dispatch, charmDir: dir } });
      const toolServer = server();
      const outcome = await runEvent(model, 'api/0', { kind: 'hook', name: 'install' }, { toolServer });
      expect(outcome.exitCode).toBe(4);
      expect(outcome.stdout).toBe(`hooks/install unix /nonexistent.sock ${dir}\n`);
      expect(toolServer.registered).toHaveLength(1);
      expect(model.units['api/0']?.error?.hook).toBe('install');
    });

    test('without dispatch, the legacy hooks/<name> runs', async () => {
      const model = fixtureModel();
      mkdirSync(join(dir, 'hooks'));
      writeFileSync(join(dir, 'hooks', 'start'), '#!/bin/sh\necho legacy\n', { mode: 0o755 });
      addApplication(model, 'api', { executor: { kind: 'process', dispatch: join(dir, 'dispatch'), charmDir: dir } });
      const outcome = await runEvent(model, 'api/0', { kind: 'hook', name: 'start' }, { toolServer: server() });
      expect(outcome.stdout).toBe('legacy\n');
      expect(outcome.exitCode).toBe(0);
    });
  });
});
