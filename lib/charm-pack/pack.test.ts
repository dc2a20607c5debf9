// Packing the example charms into .charm zips: the layout of spec 7.4 with Unix modes, the
// generated metadata/config/actions matching charmcraft.yaml (and the charms' zod schemas), the
// optional bundled Node, refusals of bad charms with one line naming the file, the CLI, and a
// packed charm unzipped and run as real `dispatch` processes against the fake's hook tools.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmod, stat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import JSZip from 'jszip';

import { checkActionsDeclaration, checkConfigDeclaration } from '../charm/declarations.js';
import { type CharmDefinition } from '../charm/index.js';
import { parseCharmMeta, parseCharmMetaFiles } from '../charm-testing/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../charm-testing/simulator.js';
import { ToolServer } from '../charm-testing/tool-server.js';
import { hello } from '../../tests/example-charm/hello/src/charm.js';
import { listener } from '../../tests/example-charm/listener/src/charm.js';
import { DISPATCH_SCRIPT } from './dispatch-script.js';
import { CharmPackError, packCharm, prepareForCharmcraft } from './pack.js';

jest.setTimeout(120_000);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'tests', 'example-charm');
const CLI = join(ROOT, 'dist', 'lib', 'charm-pack', 'pack-main.js');
type Example = 'hello' | 'listener';
const DEFINITIONS: Record<Example, CharmDefinition> = { hello, listener };

let work: string;
const packed: Partial<Record<Example, JSZip>> = {};

beforeAll(async () => {
  work = await mkdtemp(join(os.tmpdir(), 'charm-pack-test-'));
  for (const name of ['hello', 'listener'] as Example[]) {
    const result = await packCharm(join(EXAMPLES, name), join(work, 'build'));
    expect(result.file).toBe(join(work, 'build', `${name}.charm`));
    packed[name] = await JSZip.loadAsync(await readFile(result.file));
    expect(result.entries.sort()).toEqual(Object.keys(packed[name].files).sort());
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function zipOf(name: Example): JSZip {
  const zip = packed[name];
  if (!zip) throw new Error(`${name} was not packed`);
  return zip;
}

async function text(zip: JSZip, path: string): Promise<string> {
  const entry = zip.file(path);
  if (!entry) throw new Error(`no ${path} in the charm`);
  return entry.async('string');
}

function mode(zip: JSZip, path: string): number {
  return Number(zip.file(path)?.unixPermissions ?? 0);
}

async function charmcraft(name: Example): Promise<Record<string, unknown>> {
  return load(await readFile(join(EXAMPLES, name, 'charmcraft.yaml'), 'utf8')) as Record<string, unknown>;
}

describe('packCharm on the example charms', () => {
  test('writes exactly the layout of spec 7.4, files only', () => {
    const common = ['LICENSE', 'charmcraft.yaml', 'config.yaml', 'dispatch', 'dist/charm.cjs', 'manifest.yaml'];
    expect(Object.keys(zipOf('hello').files).sort()).toEqual([...common, 'actions.yaml', 'metadata.yaml'].sort());
    // listener declares no actions, so (like charmcraft) no actions.yaml.
    expect(Object.keys(zipOf('listener').files).sort()).toEqual([...common, 'metadata.yaml'].sort());
  });

  test('dispatch is our script with mode 0755 (a regular file); the rest 0644', async () => {
    for (const name of ['hello', 'listener'] as Example[]) {
      const zip = zipOf(name);
      expect(await text(zip, 'dispatch')).toBe(DISPATCH_SCRIPT);
      expect(mode(zip, 'dispatch')).toBe(0o100755);
      for (const path of Object.keys(zip.files).filter((p) => p !== 'dispatch')) expect(mode(zip, path)).toBe(0o100644);
      expect(await text(zip, 'dist/charm.cjs')).toMatch(/^"use strict";/);
      expect(await text(zip, 'LICENSE')).toContain('GNU GENERAL PUBLIC LICENSE');
      expect(await text(zip, 'charmcraft.yaml')).toBe(await readFile(join(EXAMPLES, name, 'charmcraft.yaml'), 'utf8'));
    }
  });

  test('metadata.yaml is charmcraft.yaml without build keys, title as display-name', async () => {
    expect(load(await text(zipOf('hello'), 'metadata.yaml'))).toEqual({
      name: 'hello',
      'display-name': 'Hello (example)',
      summary: 'Example principal that greets its listeners.',
      description: 'Publishes a greeting to related listeners and counts their acknowledgements.\n',
      peers: { 'hello-peers': { interface: 'hello-peers' } },
      provides: { listeners: { interface: 'hello-listener' } },
    });
    const listenerMeta = load(await text(zipOf('listener'), 'metadata.yaml')) as Record<string, unknown>;
    expect(Object.keys(listenerMeta).sort()).toEqual(
      ['name', 'display-name', 'summary', 'description', 'subordinate', 'requires'].sort(),
    );
    expect(listenerMeta.requires).toEqual((await charmcraft('listener')).requires);
  });

  test('config.yaml and actions.yaml are the declared maps, and Juju reads the same charm from them', async () => {
    for (const name of ['hello', 'listener'] as Example[]) {
      const zip = zipOf(name);
      const declared = await charmcraft(name);
      expect(load(await text(zip, 'config.yaml'))).toEqual(declared.config);
      if (declared.actions !== undefined) expect(load(await text(zip, 'actions.yaml'))).toEqual(declared.actions);
      const files: { metadata: string; config?: string; actions?: string } = {
        metadata: await text(zip, 'metadata.yaml'),
        config: await text(zip, 'config.yaml'),
      };
      if (zip.file('actions.yaml')) files.actions = await text(zip, 'actions.yaml');
      expect(parseCharmMetaFiles(files)).toEqual(parseCharmMeta(await text(zip, 'charmcraft.yaml')));
    }
  });

  test('the packed config and actions agree with the charms zod schemas', async () => {
    for (const name of ['hello', 'listener'] as Example[]) {
      const zip = zipOf(name);
      const config = load(await text(zip, 'config.yaml')) as { options: Record<string, never> };
      const actions = zip.file('actions.yaml') ? (load(await text(zip, 'actions.yaml')) as Record<string, never>) : {};
      const definition = DEFINITIONS[name];
      expect(checkConfigDeclaration(definition.config!, config.options)).toEqual([]);
      expect(checkActionsDeclaration(definition.actions ?? {}, actions)).toEqual([]);
    }
  });

  test('manifest.yaml names the one base and architecture, and what packed it', async () => {
    const manifest = load(await text(zipOf('hello'), 'manifest.yaml')) as Record<string, unknown>;
    expect(manifest.bases).toEqual([{ name: 'ubuntu', channel: '24.04', architectures: ['amd64'] }]);
    expect(manifest['packed-by']).toMatch(/^turku-ts \S+ \(lib\/charm-pack\)$/);
  });
});

describe('packCharm options', () => {
  test('--node ships an executable node/bin/node, with the tarball LICENSE beside bin/', async () => {
    const nodeDist = join(work, 'node-v20-linux-x64');
    await mkdir(join(nodeDist, 'bin'), { recursive: true });
    await writeFile(join(nodeDist, 'bin', 'node'), '#!/bin/sh\necho stand-in node\n');
    await writeFile(join(nodeDist, 'LICENSE'), 'Node.js is licensed for use as follows: ...\n');
    const result = await packCharm(join(EXAMPLES, 'listener'), join(work, 'with-node'), {
      node: join(nodeDist, 'bin', 'node'),
    });
    const zip = await JSZip.loadAsync(await readFile(result.file));
    expect(await text(zip, 'node/bin/node')).toBe('#!/bin/sh\necho stand-in node\n');
    expect(mode(zip, 'node/bin/node')).toBe(0o100755);
    expect(await text(zip, 'node/LICENSE')).toContain('Node.js is licensed');
    expect(result.entries).toEqual(expect.arrayContaining(['node/bin/node', 'node/LICENSE']));
  });

  test('--node naming no file fails with one line', async () => {
    await expect(packCharm(join(EXAMPLES, 'hello'), work, { node: join(work, 'nope') })).rejects.toThrow(
      `${join(work, 'nope')}: not a file (--node)`,
    );
  });
});

describe('bad charms fail with one line naming the file and the problem', () => {
  const HELLO = 'type: charm\nname: bad\nsummary: s\ndescription: d\nbase: ubuntu@24.04\nplatforms:\n  amd64:\n';
  const cases: Array<[string, string, RegExp]> = [
    ['no summary', HELLO.replace('summary: s\n', ''), /: summary is required$/],
    ['no description', HELLO.replace('description: d\n', ''), /: description is required$/],
    ['type bundle', HELLO.replace('type: charm', 'type: bundle'), /: type must be "charm", got "bundle"$/],
    [
      'a config option without type',
      `${HELLO}config:\n  options:\n    port: {default: 1}\n`,
      /option "port" has no type/,
    ],
    [
      'a subordinate without a container-scoped requires',
      `${HELLO}subordinate: true\nrequires:\n  db: {interface: pgsql}\n`,
      /: subordinate charm "bad" lacks "requires" relation with container scope$/,
    ],
    ['a reserved relation name', `${HELLO}provides:\n  juju-x: {interface: x}\n`, /reserved relation name: "juju-x"/],
    ['two platforms', `${HELLO}  arm64:\n`, /platforms must name exactly one platform .*got 2$/],
    ['the deprecated bases', `${HELLO}bases: []\n`, /"bases" is deprecated/],
    ['bad YAML', `${HELLO}config: [\n`, /charmcraft\.yaml: .+/],
  ];
  test.each(cases)('%s', async (_label, yaml, message) => {
    const dir = await mkdtemp(join(work, 'bad-'));
    await writeFile(join(dir, 'charmcraft.yaml'), yaml);
    const error = await packCharm(dir, join(dir, 'build')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CharmPackError);
    const text = (error as Error).message;
    expect(text.startsWith(`${join(dir, 'charmcraft.yaml')}: `)).toBe(true);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  test('a charm without src/main.ts', async () => {
    const dir = await mkdtemp(join(work, 'bad-'));
    await writeFile(join(dir, 'charmcraft.yaml'), HELLO);
    await expect(packCharm(dir, join(dir, 'build'))).rejects.toThrow(
      `${join(dir, 'src', 'main.ts')}: missing (the charm's entry point)`,
    );
  });

  test('a directory without charmcraft.yaml', async () => {
    const dir = await mkdtemp(join(work, 'empty-'));
    await expect(packCharm(dir, dir)).rejects.toThrow(`${join(dir, 'charmcraft.yaml')}: cannot read`);
  });
});

/** A charm directory outside the repository: its entry point imports nothing, so it bundles anywhere. */
async function selfContainedCharm(parent: string, name: string, main = 'process.exitCode = 0;\n'): Promise<string> {
  const dir = join(parent, name);
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(
    join(dir, 'charmcraft.yaml'),
    `type: charm\nname: ${name}\nsummary: s\ndescription: d\nbase: ubuntu@22.04\nplatforms:\n  arm64:\n`,
  );
  await writeFile(join(dir, 'src', 'main.ts'), main);
  return dir;
}

describe('other charm directories', () => {
  test('a README.md ships; base and platform come from charmcraft.yaml', async () => {
    const dir = await selfContainedCharm(await mkdtemp(join(work, 'own-')), 'own');
    await writeFile(join(dir, 'README.md'), '# own\n');
    const result = await packCharm(dir, join(dir, 'build'));
    const zip = await JSZip.loadAsync(await readFile(result.file));
    expect(await text(zip, 'README.md')).toBe('# own\n');
    expect(result.entries).toContain('README.md');
    expect(result.entries).not.toContain('config.yaml');
    expect((load(await text(zip, 'manifest.yaml')) as { bases: unknown }).bases).toEqual([
      { name: 'ubuntu', channel: '22.04', architectures: ['arm64'] },
    ]);
  });

  test('a TypeScript error in the charm fails with one line naming file, line and column', async () => {
    const dir = await selfContainedCharm(await mkdtemp(join(work, 'own-')), 'broken', 'const x = ;\n');
    const error = await packCharm(dir, join(dir, 'build')).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CharmPackError);
    expect((error as Error).message).toMatch(/main\.ts:1:10: Unexpected ";"$/);
  });

  test('prepareForCharmcraft writes what parts.charm.prime takes into the charm directory', async () => {
    const dir = await selfContainedCharm(await mkdtemp(join(work, 'own-')), 'crafted');
    await prepareForCharmcraft(dir);
    expect(await readFile(join(dir, 'dispatch'), 'utf8')).toBe(DISPATCH_SCRIPT);
    expect((await stat(join(dir, 'dispatch'))).mode & 0o777).toBe(0o755);
    expect(await readFile(join(dir, 'dist', 'charm.cjs'), 'utf8')).toContain('process.exitCode');
    expect(await readFile(join(dir, 'LICENSE'), 'utf8')).toContain('GNU GENERAL PUBLIC LICENSE');
  });
});

describe('the pack-main CLI (built by npm test)', () => {
  function cli(args: string[], cwd: string) {
    return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  }

  test('with no charm directories and no charms/ it says so on stderr and exits 0', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    const run = cli([], cwd);
    expect([run.status, run.stdout, run.stderr]).toEqual([0, '', 'no charms found under charms/\n']);
  });

  test('packs the charm directories it is given into --out', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    const run = cli(['--out', join(cwd, 'out'), join(EXAMPLES, 'hello')], cwd);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^packed out\/hello\.charm \(\d+ bytes\)\n$/);
    const zip = await JSZip.loadAsync(await readFile(join(cwd, 'out', 'hello.charm')));
    expect(mode(zip, 'dispatch')).toBe(0o100755);
    // By default the charm carries the Node.js that packed it, executable.
    expect(mode(zip, 'node/bin/node')).toBe(0o100755);
    expect((await zip.file('node/bin/node')!.async('nodebuffer')).equals(await readFile(process.execPath))).toBe(true);
  }, 60_000);

  test('--no-node leaves Node.js out; --node and --no-node together are refused', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    const run = cli(['--no-node', '--out', join(cwd, 'out'), join(EXAMPLES, 'hello')], cwd);
    expect([run.status, run.stderr]).toEqual([0, '']);
    const zip = await JSZip.loadAsync(await readFile(join(cwd, 'out', 'hello.charm')));
    expect(zip.file('node/bin/node')).toBeNull();
    const both = cli(['--no-node', '--node', process.execPath, join(EXAMPLES, 'hello')], cwd);
    expect([both.status, both.stderr]).toEqual([
      1,
      'ERROR --node and --no-node exclude each other; usage: pack-main [--out DIR] [--node PATH | --no-node] [--charmcraft] [CHARM_DIR...]\n',
    ]);
  });

  test('with no charm directories, packs every charms/<dir> that has a charmcraft.yaml; --charmcraft prepares it', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    await selfContainedCharm(join(cwd, 'charms'), 'one');
    await selfContainedCharm(join(cwd, 'charms'), 'two');
    await mkdir(join(cwd, 'charms', 'not-a-charm'), { recursive: true });
    const run = cli(['--charmcraft', '--no-node'], cwd);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/wrote charms\/one\/dispatch\n.*\npacked build\/one\.charm \(\d+ bytes\)\n/s);
    expect(run.stdout).toMatch(/packed build\/two\.charm/);
    expect(run.stdout).not.toMatch(/not-a-charm/);
    expect((await stat(join(cwd, 'charms', 'two', 'dispatch'))).mode & 0o777).toBe(0o755);
  });

  test('discovers charms/<dir>/charmcraft.yaml and reports a bad one with exit 1 and one stderr line', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    await mkdir(join(cwd, 'charms', 'broken'), { recursive: true });
    await mkdir(join(cwd, 'charms', 'not-a-charm'), { recursive: true });
    await writeFile(join(cwd, 'charms', 'broken', 'charmcraft.yaml'), 'type: charm\nname: broken\n');
    const run = cli([], cwd);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('ERROR charms/broken/charmcraft.yaml: summary is required\n');
  });

  test('an unknown flag exits 1 with one line', () => {
    const run = cli(['--bogus'], work);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^ERROR .*--bogus/);
  });
});

describe('a packed charm runs', () => {
  /** Extracts a .charm keeping its Unix modes, as Juju does (unzip is not on every CI machine). */
  async function extract(charm: string, into: string): Promise<void> {
    const zip = await JSZip.loadAsync(await readFile(charm));
    for (const [path, entry] of Object.entries(zip.files)) {
      const target = join(into, path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, await entry.async('nodebuffer'));
      await chmod(target, Number(entry.unixPermissions) & 0o777);
    }
  }

  /** Unpacks a packed example and makes it a process charm, as a unit agent would run it. */
  async function unpacked(name: Example): Promise<SimCharm> {
    const charmDir = join(work, 'unpacked', name);
    await extract(join(work, 'build', `${name}.charm`), charmDir);
    return {
      meta: parseCharmMetaFiles({
        metadata: await readFile(join(charmDir, 'metadata.yaml'), 'utf8'),
        config: await readFile(join(charmDir, 'config.yaml'), 'utf8'),
        ...(name === 'hello' ? { actions: await readFile(join(charmDir, 'actions.yaml'), 'utf8') } : {}),
      }),
      executor: { kind: 'process', dispatch: join(charmDir, 'dispatch'), charmDir },
    };
  }

  test('unzipped, its dispatch runs hooks and an action against the fake hook tools', async () => {
    const toolServer = await ToolServer.start();
    try {
      const sim = new ModelSimulator({ seed: 3, toolServer });
      await sim.deploy('hello', await unpacked('hello'));
      await sim.deploy('listener', await unpacked('listener'));
      await sim.integrate('listener:juju-info', 'hello:juju-info');
      await sim.integrate('listener:hello', 'hello:listeners');
      await sim.settle();
      const relation = Object.values(sim.model.relations).find((r) => r.ends.some((e) => e.endpoint === 'listeners'));
      expect(relation?.appBags.hello).toEqual({ greeting: 'hello' });
      expect(relation?.unitBags['listener/0']).toMatchObject({ ack: 'hello', principal: 'hello/0' });
      expect(sim.model.units['hello/0']?.workloadStatus).toMatchObject({
        status: 'active',
        message: '1 listeners acknowledged "hello"',
      });
      const task = await sim.runAction('hello/0', 'greet', ['name=packed']);
      expect(task.results).toMatchObject({ message: 'hello, packed', acks: '1', 'return-code': 0 });
    } finally {
      await toolServer.close();
    }
  });
});
