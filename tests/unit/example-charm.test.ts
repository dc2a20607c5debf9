// The whole loop of the charm runtime against the Juju fake, with the two example charms in
// tests/example-charm: a two-application deploy with a subordinate, relation data flowing both
// ways, an action, and a failed hook whose relation write is rolled back while the rest stays.
// It runs twice: in-process, and bundled (esbuild) as real `dispatch` processes calling the
// fake's hook-tool executables over its socket, as a unit agent's hooks would.
import { jest } from '@jest/globals';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';

import { checkActionsDeclaration, checkConfigDeclaration } from '../../lib/charm/declarations.js';
import { type CharmDefinition, runCharm } from '../../lib/charm/index.js';
import { bundleCharm } from '../../lib/charm-pack/bundle.js';
import { DISPATCH_SCRIPT } from '../../lib/charm-pack/dispatch-script.js';
import { parseCharmMeta } from '../../lib/charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../../lib/charm-testing/simulator.js';
import { ToolServer } from '../../lib/charm-testing/tool-server.js';
import { hello } from '../example-charm/hello/src/charm.js';
import { listener } from '../example-charm/listener/src/charm.js';

jest.setTimeout(180_000);

const EXAMPLES = fileURLToPath(new URL('../example-charm/', import.meta.url));
type Example = 'hello' | 'listener';
const CHARMS: Record<Example, CharmDefinition> = { hello, listener };

async function charmcraft(name: Example): Promise<string> {
  return readFile(join(EXAMPLES, name, 'charmcraft.yaml'), 'utf8');
}

async function inProcess(name: Example): Promise<SimCharm> {
  const definition = CHARMS[name];
  return {
    meta: parseCharmMeta(await charmcraft(name)),
    executor: { kind: 'in-process', run: (io) => runCharm(definition, io) },
  };
}

/** Packs the example like a real charm: bundled JavaScript, charmcraft.yaml and the `dispatch` script. */
async function asProcess(name: Example, workDir: string): Promise<SimCharm> {
  const charmDir = join(workDir, name);
  await mkdir(charmDir, { recursive: true });
  await bundleCharm(join(EXAMPLES, name, 'src', 'main.ts'), join(charmDir, 'dist', 'charm.cjs'));
  await cp(join(EXAMPLES, name, 'charmcraft.yaml'), join(charmDir, 'charmcraft.yaml'));
  await writeFile(join(charmDir, 'dispatch'), DISPATCH_SCRIPT);
  await chmod(join(charmDir, 'dispatch'), 0o755);
  return {
    meta: parseCharmMeta(await charmcraft(name)),
    executor: { kind: 'process', dispatch: join(charmDir, 'dispatch'), charmDir },
  };
}

function relationBetween(sim: ModelSimulator, endpoint: string) {
  const relation = Object.values(sim.model.relations).find((r) => r.ends.some((end) => end.endpoint === endpoint));
  if (relation === undefined) throw new Error(`no relation with endpoint ${endpoint}`);
  return relation;
}

async function exampleLoop(sim: ModelSimulator, charms: Record<Example, SimCharm>): Promise<void> {
  await sim.deploy('hello', charms.hello, { numUnits: 2 });
  await sim.deploy('listener', charms.listener);
  await sim.integrate('listener:juju-info', 'hello:juju-info');
  await sim.integrate('listener:hello', 'hello:listeners');
  await sim.settle();

  // A subordinate unit beside each principal unit, on its machine.
  expect(Object.keys(sim.model.units).sort()).toEqual(['hello/0', 'hello/1', 'listener/0', 'listener/1']);
  const principals = ['listener/0', 'listener/1'].map((u) => sim.model.units[u]!.principal).sort();
  expect(principals).toEqual(['hello/0', 'hello/1']);
  for (const sub of ['listener/0', 'listener/1']) {
    const unit = sim.model.units[sub]!;
    expect(unit.machine).toBe(sim.model.units[unit.principal!]!.machine);
  }

  // Data both ways: hello's leader wrote the greeting in its app bag, each listener acknowledged
  // it in its unit bag naming its principal, and hello counted those acknowledgements.
  const greetings = relationBetween(sim, 'listeners');
  expect(greetings.appBags.hello).toEqual({ greeting: 'hello' });
  for (const sub of ['listener/0', 'listener/1']) {
    expect(greetings.unitBags[sub]).toMatchObject({ ack: 'hello', principal: sim.model.units[sub]!.principal });
  }
  expect(sim.workloadStatuses()).toEqual({
    'hello/0': 'active: 2 listeners acknowledged "hello"',
    'hello/1': 'active: 2 listeners acknowledged "hello"',
    'listener/0': `active: heard "hello" on ${sim.model.units['listener/0']!.principal}`,
    'listener/1': `active: heard "hello" on ${sim.model.units['listener/1']!.principal}`,
  });

  // An action, with CLI-style params validated at enqueue.
  const task = await sim.runAction('hello/1', 'greet', ['name=world']);
  expect(task.status).toBe('completed');
  expect(task.results).toMatchObject({ message: 'hello, world', acks: '2', 'return-code': 0 });
  await expect(sim.runAction('hello/1', 'greet', [])).rejects.toThrow(/name/);

  // A failed hook: the listeners refuse the new greeting after writing their acknowledgement.
  await sim.config('listener', { refuse: 'bonjour' });
  await sim.settle();
  await sim.config('hello', { greeting: 'bonjour' });
  await sim.settle();
  expect(greetings.appBags.hello).toEqual({ greeting: 'bonjour' });
  for (const sub of ['listener/0', 'listener/1']) {
    expect(sim.model.units[sub]!.error?.hook).toBe('hello-relation-changed');
    // Rolled back: the write made before the failure never reached the relation.
    expect(greetings.unitBags[sub]).toMatchObject({ ack: 'hello' });
    // Logs stay: the runtime's juju-log line about the failure is kept.
    expect(
      sim.model.logs.some((line) => line.unit === sub && line.level === 'ERROR' && line.message.includes('refusing')),
    ).toBe(true);
  }
  expect(sim.workloadStatuses()).toMatchObject({
    'hello/0': 'active: 0 listeners acknowledged "bonjour"',
    'listener/0': 'error: hook failed: "hello-relation-changed"',
    'listener/1': 'error: hook failed: "hello-relation-changed"',
  });

  // The operator fixes the config and resolves: the same hook re-runs and now succeeds.
  await sim.config('listener', { refuse: '' });
  await sim.resolve('listener/0');
  await sim.resolve('listener/1');
  await sim.settle();
  expect(sim.workloadStatuses()).toMatchObject({
    'hello/0': 'active: 2 listeners acknowledged "bonjour"',
    'hello/1': 'active: 2 listeners acknowledged "bonjour"',
  });
  expect(greetings.unitBags['listener/0']).toMatchObject({ ack: 'bonjour' });
}

describe('the example charms', () => {
  test('declare in charmcraft.yaml exactly the config and actions their zod schemas accept', async () => {
    for (const name of Object.keys(CHARMS) as Example[]) {
      const declared = loadYaml(await charmcraft(name)) as {
        config?: { options?: Record<string, never> };
        actions?: Record<string, never>;
      };
      const definition = CHARMS[name];
      expect(checkConfigDeclaration(definition.config!, declared.config?.options ?? {})).toEqual([]);
      expect(checkActionsDeclaration(definition.actions ?? {}, declared.actions ?? {})).toEqual([]);
    }
  });

  test('run the whole loop in-process: subordinate deploy, data both ways, an action, a rolled-back failure', async () => {
    const sim = new ModelSimulator({ seed: 7 });
    await exampleLoop(sim, { hello: await inProcess('hello'), listener: await inProcess('listener') });
  });

  test('run the same loop as bundled dispatch processes against the hook-tool executables', async () => {
    const workDir = await mkdtemp(join(os.tmpdir(), 'example-charms-'));
    const toolServer = await ToolServer.start();
    try {
      const sim = new ModelSimulator({ seed: 7, toolServer });
      await exampleLoop(sim, {
        hello: await asProcess('hello', workDir),
        listener: await asProcess('listener', workDir),
      });
    } finally {
      await toolServer.close();
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
