// runCharm driven by the fake Juju: each test runs one event through lib/charm-testing's
// runEvent with an in-process executor, then looks at the model (status, relation data, task).
import * as z from 'zod/mini';
import { type ActionContext, type CharmDefinition, type HookContext, defineCharm, runCharm } from './dispatch.js';
import { ActionFailure, HookToolError } from './errors.js';
import { type Schema } from './schemas.js';
import { type HookEvent } from '../charm-testing/events.js';
import { addApplication, addTask, fixtureModel, relate } from '../charm-testing/fixtures.js';
import { type ConfigOptionMeta, type Model } from '../charm-testing/model.js';
import { runEvent } from '../charm-testing/session.js';

// --- fixtures: api (api/0 leader, api/1) related to store/0 over `registration` ------------------

const CONFIG_META: Record<string, ConfigOptionMeta> = {
  port: { type: 'int', default: 8443 },
  'public-url': { type: 'string' },
};

/** A model whose `api` application runs `def`; `store` runs nothing. */
function world<C extends Schema | undefined, A extends Record<string, unknown>>(def: CharmDefinition<C, A>) {
  const model = fixtureModel();
  const api = addApplication(model, 'api', {
    units: 2,
    endpoints: { registration: { role: 'provides', interface: 'turku', scope: 'global' } },
    charm: { config: CONFIG_META },
    run: (io) => runCharm(def, io),
  });
  addApplication(model, 'store', {
    endpoints: { registration: { role: 'requires', interface: 'turku', scope: 'global' } },
  });
  const relation = relate(model, 'api:registration', 'store:registration');
  return { model, api, relation };
}

const UPDATE_STATUS: HookEvent = { kind: 'hook', name: 'update-status' };

function statusOf(model: Model, unit: string) {
  const u = model.units[unit]!;
  return {
    current: { status: u.workloadStatus.status, message: u.workloadStatus.message },
    history: u.statusHistory.length,
  };
}

// --- hooks ------------------------------------------------------------------------------------

describe('hooks run the one reconcile', () => {
  test('every hook runs reconcile with a typed context; config is typed and parsed once', async () => {
    const seen: string[] = [];
    const charm = defineCharm({
      config: z.object({ port: z.int(), 'public-url': z.optional(z.url()) }),
      async reconcile(ctx) {
        const config = await ctx.config();
        const again = await ctx.config();
        seen.push(`${ctx.juju.hookName} ${ctx.juju.relation?.name ?? '-'} ${config.port} ${config === again}`);
      },
    });
    const { model } = world(charm);
    await runEvent(model, 'api/0', { kind: 'hook', name: 'config-changed' });
    await runEvent(model, 'api/0', {
      kind: 'hook',
      name: 'registration-relation-changed',
      relationId: 0,
      remoteUnit: 'store/0',
      remoteApp: 'store',
    });
    expect(seen).toEqual(['config-changed - 8443 true', 'registration-relation-changed registration:0 8443 true']);
  });

  test('the final status is set once, from the most severe collected status, messages joined', async () => {
    const charm = defineCharm({
      async reconcile(ctx) {
        ctx.status.active('serving');
        ctx.status.waiting('for storage');
        ctx.status.maintenance('installing rsync');
        ctx.status.waiting('for the api url');
        ctx.status.waiting('for storage');
        await Promise.resolve();
      },
    });
    const { model } = world(charm);
    const outcome = await runEvent(model, 'api/0', UPDATE_STATUS);
    expect(outcome.exitCode).toBe(0);
    expect(statusOf(model, 'api/0')).toEqual({
      current: { status: 'maintenance', message: 'installing rsync' },
      history: 1,
    });

    const waiting = defineCharm({
      async reconcile(ctx) {
        ctx.status.waiting('for storage');
        ctx.status.waiting('for the api url');
        ctx.status.active();
        await Promise.resolve();
      },
    });
    const second = world(waiting).model;
    await runEvent(second, 'api/0', UPDATE_STATUS);
    expect(statusOf(second, 'api/0').current).toEqual({ status: 'waiting', message: 'for storage; for the api url' });
  });

  test('blocked outranks everything; no collected status means active with no message', async () => {
    const blocked = world(
      defineCharm({
        async reconcile(ctx) {
          ctx.status.maintenance('working');
          ctx.status.blocked('needs a database');
          await Promise.resolve();
        },
      }),
    ).model;
    await runEvent(blocked, 'api/0', UPDATE_STATUS);
    expect(statusOf(blocked, 'api/0').current).toEqual({ status: 'blocked', message: 'needs a database' });

    const quiet = world(defineCharm({ reconcile: () => Promise.resolve() })).model;
    await runEvent(quiet, 'api/0', UPDATE_STATUS);
    expect(statusOf(quiet, 'api/0')).toEqual({ current: { status: 'active', message: '' }, history: 1 });
  });

  test('bad config: blocked naming the key, exit 0, and work done before it still commits', async () => {
    const charm = defineCharm({
      config: z.object({ port: z.int().check(z.maximum(65535)), 'public-url': z.url() }),
      async reconcile(ctx) {
        await ctx.tools.relationSet('registration:0', { seen: 'yes' });
        await ctx.config();
        ctx.status.active('unreachable');
      },
    });
    const { model, api, relation } = world(charm);
    api.config = { 'public-url': 'not a url' };
    const outcome = await runEvent(model, 'api/0', { kind: 'hook', name: 'config-changed' });
    expect(outcome).toMatchObject({ exitCode: 0, committed: true });
    expect(statusOf(model, 'api/0').current).toEqual({
      status: 'blocked',
      message: expect.stringMatching(/^invalid config: public-url: /),
    });
    expect(relation.unitBags['api/0']).toEqual({ seen: 'yes' });
    expect(model.units['api/0']!.error).toBeUndefined();
  });

  test('[fidelity 28] an uncaught error: juju-log ERROR, one stderr line, exit 1, pending writes discarded', async () => {
    const charm = defineCharm({
      async reconcile(ctx) {
        ctx.status.active('would be ready');
        await ctx.tools.relationSet('registration:0', { 'api-url': 'https://api/' }, { app: true });
        await ctx.tools.stateSet({ step: '1' });
        await ctx.log.info('about to fail');
        throw new Error('disk on fire');
      },
    });
    const { model, relation } = world(charm);
    const outcome = await runEvent(model, 'api/0', UPDATE_STATUS);
    expect(outcome).toMatchObject({
      exitCode: 1,
      committed: false,
      stderr: 'hook "update-status" failed: Error: disk on fire\n',
    });
    expect(relation.appBags['api']).toBeUndefined();
    expect(model.units['api/0']!.state).toEqual({});
    const logged = model.logs
      .filter((entry) => entry.source === 'juju-log')
      .map((entry) => [entry.level, entry.message]);
    expect(logged).toEqual([
      ['INFO', 'about to fail'],
      ['ERROR', 'hook "update-status" failed: Error: disk on fire'],
      ['DEBUG', expect.stringMatching(/^at .*dispatch\.test\.ts/)],
    ]);
    // No final status on failure: Juju shows the hook error instead.
    expect(statusOf(model, 'api/0').history).toBe(0);
    expect(model.units['api/0']!.error?.hook).toBe('update-status');
  });

  test('a failing hook tool is reported with the tool name and its ERROR line', async () => {
    const charm = defineCharm({
      async reconcile(ctx) {
        await ctx.tools.relationSet('registration:0', { a: 'b' }, { app: true });
      },
    });
    const { model } = world(charm);
    const outcome = await runEvent(model, 'api/1', UPDATE_STATUS);
    expect(outcome.exitCode).toBe(1);
    expect(outcome.stderr).toBe('hook "update-status" failed: relation-set: ERROR cannot write relation settings\n');
  });

  test('a charm may catch typed tool errors and carry on (relation gone -> waiting)', async () => {
    const charm = defineCharm({
      async reconcile(ctx) {
        try {
          await ctx.tools.relationGet('registration:7', 'store/0');
        } catch (error) {
          if (!(error instanceof HookToolError) || error.name !== 'RelationNotFoundError') throw error;
          ctx.status.waiting('registration relation gone');
        }
      },
    });
    const { model } = world(charm);
    const outcome = await runEvent(model, 'api/0', UPDATE_STATUS);
    expect(outcome.exitCode).toBe(0);
    expect(statusOf(model, 'api/0').current).toEqual({ status: 'waiting', message: 'registration relation gone' });
  });

  test("[fidelity 3] the fake's app-level relation-changed parses with an empty remote unit", async () => {
    let relation: HookContext<unknown>['juju']['relation'];
    const { model } = world(
      defineCharm({
        reconcile: (ctx) => {
          relation = ctx.juju.relation;
          return Promise.resolve();
        },
      }),
    );
    await runEvent(model, 'api/0', {
      kind: 'hook',
      name: 'registration-relation-changed',
      relationId: 0,
      remoteUnit: '',
      remoteApp: 'store',
    });
    expect(relation).toEqual({
      endpoint: 'registration',
      hook: 'changed',
      id: 0,
      name: 'registration:0',
      remoteApp: 'store',
      remoteUnit: '',
    });
  });

  // After a unit agent restart Juju runs relation-broken with JUJU_REMOTE_APP='' (its relation
  // state tracker never reloads the name): the hook must still run, or the removal stalls.
  test('relation-broken with an empty JUJU_REMOTE_APP runs reconcile and exits 0', async () => {
    let relation: HookContext<unknown>['juju']['relation'];
    const { model } = world(
      defineCharm({
        reconcile: async (ctx) => {
          relation = ctx.juju.relation;
          ctx.status.waiting(`${(await ctx.tools.relationIds('registration')).length} registrations`);
        },
      }),
    );
    model.relations[0]!.life = 'dying';
    const outcome = await runEvent(model, 'api/0', {
      kind: 'hook',
      name: 'registration-relation-broken',
      relationId: 0,
      remoteUnit: '',
      remoteApp: '',
    });
    expect(outcome.env['JUJU_REMOTE_APP']).toBe('');
    expect(outcome.exitCode).toBe(0);
    expect(relation).toEqual({
      endpoint: 'registration',
      hook: 'broken',
      id: 0,
      name: 'registration:0',
      remoteApp: undefined,
      remoteUnit: '',
    });
    expect(statusOf(model, 'api/0').current).toEqual({ status: 'waiting', message: '0 registrations' });
  });

  test('no JUJU_DISPATCH_PATH (juju exec): nothing runs, exit 0', async () => {
    let ran = false;
    const charm = defineCharm({
      reconcile: () => {
        ran = true;
        return Promise.resolve();
      },
    });
    const calls: string[] = [];
    const code = await runCharm(charm, {
      env: { JUJU_UNIT_NAME: 'api/0', PATH: '/usr/bin' },
      runner: {
        run: (tool) => {
          calls.push(tool);
          return Promise.resolve({ code: 0, stdout: '', stderr: '' });
        },
      },
      stdout: () => undefined,
      stderr: () => undefined,
    });
    expect({ code, ran, calls }).toEqual({ code: 0, ran: false, calls: [] });
  });

  test('a broken Juju environment exits 1 naming the variable, without calling reconcile', async () => {
    let stderr = '';
    const code = await runCharm(defineCharm({ reconcile: () => Promise.reject(new Error('must not run')) }), {
      env: { JUJU_DISPATCH_PATH: 'hooks/install', JUJU_UNIT_NAME: 'api/0' },
      runner: { run: () => Promise.reject(new Error('no tools')) },
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
    });
    expect(code).toBe(1);
    expect(stderr).toBe('JujuEnvironmentError: invalid Juju environment: JUJU_MODEL_NAME: not set\n');
  });
});

// --- actions ----------------------------------------------------------------------------------

describe('actions', () => {
  const backupParams = z.object({ tag: z.string(), retries: z._default(z.int(), 3) });

  function actionCharm(
    run: (ctx: ActionContext<Record<string, unknown>>, params: { tag: string; retries: number }) => Promise<void>,
  ) {
    return defineCharm({
      actions: {
        'backup-now': {
          params: backupParams,
          run: (ctx, params) => run(ctx as ActionContext<Record<string, unknown>>, params),
        },
      },
      reconcile: () => Promise.reject(new Error('reconcile must not run for actions')),
    });
  }

  test('[fidelity 52] typed params; nested results flattened into the task results; progress in the log', async () => {
    const { model } = world(
      actionCharm(async (ctx, params) => {
        await ctx.progress(`backing up ${params.tag}`);
        await ctx.setResults({ snapshot: { id: 'snap-1', retries: params.retries }, tag: params.tag });
      }),
    );
    const task = addTask(model, 'api/0', 'backup-now', { tag: 'nightly' });
    const outcome = await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(outcome).toMatchObject({ exitCode: 0, committed: true });
    expect(task).toMatchObject({
      status: 'completed',
      results: { snapshot: { id: 'snap-1', retries: '3' }, tag: 'nightly', 'return-code': 0 },
      log: ['backing up nightly'],
    });
    // Actions do not touch the unit status unless they collect one.
    expect(statusOf(model, 'api/0').history).toBe(0);
  });

  test('[fidelity 30] ctx.fail: action-fail with the message, exit 0, pending changes commit', async () => {
    const { model } = world(
      actionCharm(async (ctx) => {
        await ctx.tools.stateSet({ attempted: 'yes' });
        ctx.fail('storage unreachable');
      }),
    );
    const task = addTask(model, 'api/0', 'backup-now', { tag: 'x' });
    const outcome = await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(outcome).toMatchObject({ exitCode: 0, committed: true });
    expect(task).toMatchObject({ status: 'failed', message: 'storage unreachable' });
    expect(model.units['api/0']!.state).toEqual({ attempted: 'yes' });
  });

  test('throwing ActionFailure anywhere in the handler fails the action the same way', async () => {
    const { model } = world(actionCharm(() => Promise.reject(new ActionFailure('no such snapshot'))));
    const task = addTask(model, 'api/0', 'backup-now', { tag: 'x' });
    await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(task).toMatchObject({ status: 'failed', message: 'no such snapshot' });
  });

  test('[fidelity 30] an unexpected exception: exit 1, task failed "exit status 1", pending discarded, unit healthy', async () => {
    const { model } = world(
      actionCharm(async (ctx) => {
        await ctx.tools.stateSet({ attempted: 'yes' });
        throw new TypeError('bug');
      }),
    );
    const task = addTask(model, 'api/0', 'backup-now', { tag: 'x' });
    const outcome = await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(outcome).toMatchObject({ exitCode: 1, committed: false });
    expect(task).toMatchObject({ status: 'failed', message: 'exit status 1' });
    expect(task.results['stderr']).toBe('action "backup-now" failed: TypeError: bug\n');
    expect(model.units['api/0']!.state).toEqual({});
    expect(model.units['api/0']!.error).toBeUndefined();
  });

  test('bad params fail the action naming the parameter (exit 0)', async () => {
    const { model } = world(actionCharm(() => Promise.resolve()));
    const task = addTask(model, 'api/0', 'backup-now', { tag: 7 });
    const outcome = await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(outcome.exitCode).toBe(0);
    expect(task).toMatchObject({ status: 'failed', message: 'invalid action parameters: tag: expected string, got 7' });
  });

  test('an action the charm does not define fails naming it (exit 0)', async () => {
    const { model } = world(actionCharm(() => Promise.resolve()));
    const task = addTask(model, 'api/0', 'restore');
    const outcome = await runEvent(model, 'api/0', { kind: 'action', name: 'restore', taskId: task.id });
    expect(outcome.exitCode).toBe(0);
    expect(task).toMatchObject({
      status: 'failed',
      message: 'unknown action "restore" (this charm defines: backup-now)',
    });
  });

  test('actions without a params schema get the raw params; statuses collected in an action are set', async () => {
    let got: unknown;
    const charm = defineCharm({
      actions: {
        pause: {
          async run(ctx, params) {
            got = params;
            ctx.status.maintenance('paused by operator');
            await Promise.resolve();
          },
        },
      },
      reconcile: () => Promise.resolve(),
    });
    const { model } = world(charm);
    const task = addTask(model, 'api/1', 'pause', { minutes: 5 });
    await runEvent(model, 'api/1', { kind: 'action', name: 'pause', taskId: task.id });
    expect(got).toEqual({ minutes: 5 });
    expect(statusOf(model, 'api/1').current).toEqual({ status: 'maintenance', message: 'paused by operator' });
  });
});
