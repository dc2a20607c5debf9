// End to end through real processes: a charm packed as charms are (bundleCharm, DISPATCH_SCRIPT) runs as
// `dispatch` under the fake Juju's process executor, so `main()` and the production exec runner
// spawn the fake's real tool executables (argv, stdin for `--file -`, exit codes, stderr).
import { jest } from '@jest/globals';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventOutcome } from '../charm-testing/events.js';
import { addApplication, addTask, fixtureModel, relate } from '../charm-testing/fixtures.js';
import { type Model } from '../charm-testing/model.js';
import { runEvent } from '../charm-testing/session.js';
import { ToolServer } from '../charm-testing/tool-server.js';
import { bundleCharm } from '../charm-pack/bundle.js';
import { DISPATCH_SCRIPT } from '../charm-pack/dispatch-script.js';

jest.setTimeout(120_000);

const CHARM_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'e2e-charm.ts');

let server: ToolServer;
let charmDir: string;
let dispatch: string;

beforeAll(async () => {
  server = await ToolServer.start();
  charmDir = await mkdtemp(join(tmpdir(), 'charm-e2e-'));
  await bundleCharm(CHARM_ENTRY, join(charmDir, 'dist', 'charm.cjs'));
  dispatch = join(charmDir, 'dispatch');
  await writeFile(dispatch, DISPATCH_SCRIPT);
  await chmod(dispatch, 0o755);
});

afterAll(async () => {
  await server.close();
  await rm(charmDir, { recursive: true, force: true });
});

/** api/0 (runs the bundled charm, leader) related to agent/0 over `registration`. */
function world(): Model {
  const model = fixtureModel();
  const executor = { kind: 'process', dispatch, charmDir } as const;
  addApplication(model, 'api', {
    endpoints: { registration: { role: 'provides', interface: 'turku', scope: 'global' } },
    charm: { config: { port: { type: 'int', default: 8443 } } },
    executor,
  });
  addApplication(model, 'agent', {
    endpoints: { registration: { role: 'requires', interface: 'turku', scope: 'global' } },
    executor,
  });
  relate(model, 'api:registration', 'agent:registration');
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

test('dispatch keeps the compile cache of the bundle in the charm directory, only root-writable', async () => {
  await run(world(), { kind: 'hook', name: 'config-changed' });
  const cache = join(charmDir, '.node-compile-cache');
  const entries = await readdir(cache, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile());
  expect(files).toHaveLength(1);
  expect((await stat(join(files[0]!.parentPath, files[0]!.name))).mode & 0o022).toBe(0);
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
  const nightly = addTask(model, 'api/0', 'backup-now', { tag: 'nightly' });
  const refused = addTask(model, 'api/0', 'backup-now', { tag: 'fail' });
  expect((await run(model, { kind: 'action', name: 'backup-now', taskId: nightly.id })).exitCode).toBe(0);
  expect(model.tasks[nightly.id]).toMatchObject({
    status: 'completed',
    results: { backup: { tag: 'nightly' }, 'return-code': 0 },
  });
  expect((await run(model, { kind: 'action', name: 'backup-now', taskId: refused.id })).exitCode).toBe(0);
  expect(model.tasks[refused.id]).toMatchObject({
    status: 'failed',
    message: 'tag "fail" refused',
    results: { backup: { tag: 'fail' } },
  });
});
