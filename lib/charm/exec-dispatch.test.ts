// End to end through real processes: a charm bundled with esbuild (as charms are packed) runs as
// `dispatch` under the fake Juju's process executor, so `main()` and the production exec runner
// spawn the fake's real tool executables (argv, stdin for `--file -`, exit codes, stderr).
import { jest } from '@jest/globals';
import { build } from 'esbuild';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventOutcome } from '../charm-testing/events.js';
import {
  type Application,
  type Model,
  type Unit,
  emptyModel,
  emptyRelationView,
  statusValue,
} from '../charm-testing/model.js';
import { runEvent } from '../charm-testing/session.js';
import { ToolServer } from '../charm-testing/tool-server.js';

jest.setTimeout(120_000);

const CHARM_SOURCE = `
import * as z from 'zod/mini';
import { defineCharm, main } from './index.js';

const charm = defineCharm({
  config: z.object({ port: z.int() }),
  actions: {
    'backup-now': {
      params: z.object({ tag: z.string() }),
      async run(ctx, params) {
        await ctx.setResults({ backup: { tag: params.tag } });
        if (params.tag === 'fail') ctx.fail('tag "fail" refused');
      },
    },
  },
  async reconcile(ctx) {
    const { port } = await ctx.config();
    if (ctx.juju.hookName === 'crash') {
      await ctx.tools.stateSet({ partial: 'yes' });
      throw new Error('crashed on purpose');
    }
    await ctx.tools.relationSet('registration:0', { 'api-url': 'https://10.0.0.2:' + port + '/', note: '-x "quoted" $HOME' }, { app: true });
    ctx.status.active('listening on ' + port);
  },
});
await main(charm);
`;

let server: ToolServer;
let charmDir: string;
let dispatch: string;

beforeAll(async () => {
  server = await ToolServer.start();
  charmDir = await mkdtemp(join(tmpdir(), 'charm-e2e-'));
  await build({
    stdin: { contents: CHARM_SOURCE, resolveDir: dirname(fileURLToPath(import.meta.url)), loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: join(charmDir, 'charm.mjs'),
    logLevel: 'warning',
  });
  dispatch = join(charmDir, 'dispatch');
  await writeFile(dispatch, `#!/bin/sh\nexec "${process.execPath}" "$(dirname "$0")/charm.mjs"\n`);
  await chmod(dispatch, 0o755);
});

afterAll(async () => {
  await server.close();
  await rm(charmDir, { recursive: true, force: true });
});

function unit(model: Model, name: string, machine: string): Unit {
  model.machines[machine] = { id: machine, address: `10.0.0.${2 + Number(machine)}` };
  const u: Unit = {
    name,
    app: name.slice(0, name.indexOf('/')),
    number: 0,
    machine,
    life: 'alive',
    workloadStatus: statusValue(model, 'unknown'),
    statusSetByCharm: false,
    statusHistory: [],
    state: {},
    ports: [],
    storage: [],
    storageAttachedRun: [],
    relations: { 0: { ...emptyRelationView(), created: true, joined: [name === 'api/0' ? 'agent/0' : 'api/0'] } },
    installed: true,
    started: true,
    seenLeaderSettingsVersion: 0,
  };
  model.units[name] = u;
  return u;
}

function app(name: string, role: 'provides' | 'requires', config: Application['charm']['config']): Application {
  return {
    name,
    charm: {
      name,
      subordinate: false,
      endpoints: { registration: { role, interface: 'turku', scope: 'global' } },
      storage: {},
      config,
      actions: {},
    },
    executor: { kind: 'process', dispatch, charmDir },
    charmRevision: 1,
    config: {},
    exposed: false,
    version: '',
    nextUnitNumber: 1,
    leader: `${name}/0`,
    leaderSettings: {},
    leaderSettingsVersion: 0,
    life: 'alive',
  };
}

function world(): Model {
  const model = emptyModel('test-model', () => new Date('2026-01-01T00:00:00Z'));
  model.applications['api'] = app('api', 'provides', { port: { type: 'int', default: 8443 } });
  model.applications['agent'] = app('agent', 'requires', {});
  unit(model, 'api/0', '0');
  unit(model, 'agent/0', '1');
  model.relations[0] = {
    id: 0,
    ends: [
      { app: 'api', endpoint: 'registration' },
      { app: 'agent', endpoint: 'registration' },
    ],
    interface: 'turku',
    scope: 'global',
    peer: false,
    life: 'alive',
    appBags: {},
    appBagVersion: {},
    unitBags: { 'api/0': {}, 'agent/0': {} },
    unitBagVersion: { 'api/0': 0, 'agent/0': 0 },
  };
  model.nextRelationId = 1;
  return model;
}

function run(model: Model, event: Parameters<typeof runEvent>[2]): Promise<EventOutcome> {
  return runEvent(model, 'api/0', event, { toolServer: server });
}

test('a bundled charm reconciles through the real tool executables: config, relation-set via stdin, final status', async () => {
  const model = world();
  const outcome = await run(model, { kind: 'hook', name: 'config-changed' });
  expect(outcome).toMatchObject({ exitCode: 0, committed: true, stderr: '' });
  expect(model.relations[0]!.appBags['api']).toEqual({
    'api-url': 'https://10.0.0.2:8443/',
    note: '-x "quoted" $HOME',
  });
  expect(model.units['api/0']!.workloadStatus).toMatchObject({ status: 'active', message: 'listening on 8443' });
});

test('[fidelity 28] a crash in the bundled charm: exit 1, one stderr line, juju-log ERROR, pending state discarded', async () => {
  const model = world();
  const outcome = await run(model, { kind: 'hook', name: 'crash' });
  expect(outcome).toMatchObject({ exitCode: 1, committed: false });
  expect(outcome.stderr).toBe('hook "crash" failed: Error: crashed on purpose\n');
  expect(model.units['api/0']!.state).toEqual({});
  expect(model.logs).toContainEqual(
    expect.objectContaining({
      level: 'ERROR',
      source: 'juju-log',
      message: 'hook "crash" failed: Error: crashed on purpose',
    }),
  );
  expect(model.units['api/0']!.error?.hook).toBe('crash');
});

test('actions in the bundled charm: results set, ctx.fail gives a failed task with exit 0', async () => {
  const model = world();
  model.tasks['1'] = {
    id: '1',
    unit: 'api/0',
    name: 'backup-now',
    params: { tag: 'nightly' },
    status: 'pending',
    message: '',
    results: {},
    log: [],
  };
  model.tasks['2'] = {
    id: '2',
    unit: 'api/0',
    name: 'backup-now',
    params: { tag: 'fail' },
    status: 'pending',
    message: '',
    results: {},
    log: [],
  };
  expect((await run(model, { kind: 'action', name: 'backup-now', taskId: '1' })).exitCode).toBe(0);
  expect(model.tasks['1']).toMatchObject({
    status: 'completed',
    results: { backup: { tag: 'nightly' }, 'return-code': 0 },
  });
  expect((await run(model, { kind: 'action', name: 'backup-now', taskId: '2' })).exitCode).toBe(0);
  expect(model.tasks['2']).toMatchObject({
    status: 'failed',
    message: 'tag "fail" refused',
    results: { backup: { tag: 'fail' } },
  });
});
