// The turku-sample charm one unit at a time (scenario Context, in-process) on a machine root.
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';

import { checkConfigDeclaration } from '../../../lib/charm/declarations.js';
import { runCharm } from '../../../lib/charm/index.js';
import { readSources } from '../../../lib/charm-interfaces/turku-sources.js';
import { parseCharmMeta } from '../../../lib/charm-pack/charm-meta.js';
import { Context, type RelationState, events } from '../../../lib/charm-testing/scenario.js';
import { SAMPLE_FILES, SampleConfig, turkuSampleCharm } from './charm.js';

const CHARMCRAFT = fileURLToPath(new URL('../charmcraft.yaml', import.meta.url));
let root: string | undefined;
afterEach(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

async function context(): Promise<Context> {
  root = await mkdtemp(join(tmpdir(), 'turku-sample-'));
  const definition = turkuSampleCharm(root);
  return new Context({
    meta: parseCharmMeta(await readFile(CHARMCRAFT, 'utf8')),
    executor: { kind: 'in-process', run: (io) => runCharm(definition, io) },
  });
}

const AGENT: RelationState = {
  endpoint: 'backup-sources',
  remoteApp: 'turku-agent',
  remoteUnits: { 'turku-agent/0': {} },
};

describe('turku-sample', () => {
  test('charmcraft.yaml declares exactly the config the zod schema accepts', async () => {
    const declared = loadYaml(await readFile(CHARMCRAFT, 'utf8')) as { config: { options: Record<string, never> } };
    expect(checkConfigDeclaration(SampleConfig, declared.config.options)).toEqual([]);
  });

  test('keeps its files and publishes them as one source the agent accepts', async () => {
    const ctx = await context();
    const out = await ctx.run(events.configChanged(), {
      config: { frequency: 'cron 0 * * * *', retention: 'last 3 snapshots' },
      relations: [AGENT],
    });
    expect(out.failed).toBe(false);
    expect(out.state.unitStatus).toEqual({ status: 'active', message: 'data in /srv/turku-sample' });
    const dataDir = join(root!, 'srv', 'turku-sample');
    for (const [name, text] of Object.entries(SAMPLE_FILES)) {
      expect(await readFile(join(dataDir, name), 'utf8')).toBe(text);
    }
    const published = readSources(out.state.relations![0]!.localUnitData ?? {});
    if (!published.ok) throw new Error(published.problems.join('; '));
    expect(published.value.sources).toEqual({
      'turku-sample-data': { path: dataDir, frequency: 'cron 0 * * * *', retention: 'last 3 snapshots' },
    });
  });

  // After a unit agent restart Juju runs relation-broken with JUJU_REMOTE_APP='' (it does not
  // reload the name): the hook must still succeed, or the agent's removal stalls.
  test('relation-broken after an agent restart (empty JUJU_REMOTE_APP) succeeds', async () => {
    const ctx = await context();
    const out = await ctx.run(events.relationBroken(AGENT, { afterAgentRestart: true }), { relations: [AGENT] });
    expect(out.failed).toBe(false);
    expect(out.state.unitStatus).toEqual({ status: 'active', message: 'data in /srv/turku-sample' });
  });

  test('never overwrites its data; a relative path is a blocked config naming the option', async () => {
    const ctx = await context();
    const first = await ctx.run(events.install(), { relations: [AGENT] });
    const file = join(root!, 'srv', 'turku-sample', 'README.txt');
    await writeFile(file, 'changed by the application\n');
    await ctx.run(events.configChanged(), { ...first.state, relations: [AGENT] });
    expect(await readFile(file, 'utf8')).toBe('changed by the application\n');

    const bad = await ctx.run(events.configChanged(), { config: { path: 'srv/data' }, relations: [AGENT] });
    expect(bad.state.unitStatus?.status).toBe('blocked');
    expect(bad.state.unitStatus?.message).toContain('path');
  });
});
