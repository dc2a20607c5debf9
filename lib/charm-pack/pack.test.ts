// Packing the example charms into .charm zips: the layout of docs/charm-runtime.md, "Packing" with
// Unix modes, the generated metadata/config/actions matching charmcraft.yaml (and the charms' zod
// schemas), the optional bundled Node, refusals of bad charms with one line naming the file, the
// CLI, and a packed charm unzipped and run as real `dispatch` processes against the fake's hook
// tools.
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmod, stat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import JSZip from 'jszip';

import { checkActionsDeclaration, checkConfigDeclaration } from '../charm/declarations.js';
import { type CharmDefinition } from '../charm/index.js';
import { parseCharmMeta, parseCharmMetaFiles } from './charm-meta.js';
import { ModelSimulator, type SimCharm } from '../charm-testing/simulator.js';
import { ToolServer } from '../charm-testing/tool-server.js';
import { hello } from '../../tests/example-charm/hello/src/charm.js';
import { listener } from '../../tests/example-charm/listener/src/charm.js';
import { UBUNTU_RUNTIMES } from './base-runtimes.js';
import { DISPATCH_SCRIPT } from './dispatch-script.js';
import { compareVersions, highestVersion, readElfRequirements } from './elf.js';
import { nodeBuild } from './node-builds.js';
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
  test('writes exactly the layout of docs/charm-runtime.md, "Packing", files only', () => {
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
      const files: { metadata: string; config?: string; actions?: string; manifest: string } = {
        metadata: await text(zip, 'metadata.yaml'),
        config: await text(zip, 'config.yaml'),
        manifest: await text(zip, 'manifest.yaml'),
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

  test('manifest.yaml names the base and architecture, and what packed it', async () => {
    const manifest = load(await text(zipOf('hello'), 'manifest.yaml')) as Record<string, unknown>;
    expect(manifest.bases).toEqual([{ name: 'ubuntu', channel: '24.04', architectures: ['amd64'] }]);
    expect(manifest['packed-by']).toMatch(/^turku-ts \S+ \(lib\/charm-pack\)$/);
  });
});

describe('packCharm options: the Node.js it ships per architecture', () => {
  test('ships node/<arch>/bin/node (0755) and the build LICENSE beside it', async () => {
    const x64 = await nodeBuild(ROOT, 'amd64', { offline: true });
    const result = await packCharm(join(EXAMPLES, 'listener'), join(work, 'with-node'), { nodes: { amd64: x64 } });
    const zip = await JSZip.loadAsync(await readFile(result.file));
    expect((await zip.file('node/amd64/bin/node')!.async('nodebuffer')).equals(await readFile(x64.binary))).toBe(true);
    expect(mode(zip, 'node/amd64/bin/node')).toBe(0o100755);
    expect(await text(zip, 'node/amd64/LICENSE')).toContain('Node.js is licensed');
    expect(result.entries).toEqual(expect.arrayContaining(['node/amd64/bin/node', 'node/amd64/LICENSE']));
    expect(result.entries.filter((entry) => entry.startsWith('node/'))).toHaveLength(2);
  });

  test('a Node.js naming no file, or not an ELF executable, is refused with one line', async () => {
    await expect(
      packCharm(join(EXAMPLES, 'hello'), work, { nodes: { amd64: { binary: join(work, 'nope') } } }),
    ).rejects.toThrow(`${join(work, 'nope')}: not a file (Node.js for amd64)`);
    const script = join(work, 'stand-in-node');
    await writeFile(script, '#!/bin/sh\necho stand-in node\n', { mode: 0o755 });
    await expect(packCharm(join(EXAMPLES, 'hello'), work, { nodes: { amd64: { binary: script } } })).rejects.toThrow(
      new CharmPackError(`${script}: not an ELF file`),
    );
  });

  test('a build for another architecture, or for one the charm does not declare, is refused', async () => {
    const x64 = await nodeBuild(ROOT, 'amd64', { offline: true });
    const arm64Charm = await selfContainedCharm(await mkdtemp(join(work, 'arch-')), 'armed');
    await expect(packCharm(arm64Charm, work, { nodes: { arm64: x64 } })).rejects.toThrow(
      `${x64.binary}: built for amd64, shipped as Node.js for arm64`,
    );
    await expect(packCharm(arm64Charm, work, { nodes: { amd64: x64 } })).rejects.toThrow(
      `${x64.binary}: the charm declares no amd64 platform`,
    );
  });

  test('a binary needing a newer glibc than a declared base provides is refused, naming both', async () => {
    // This machine's bash is built against its own, newer glibc than some Ubuntu base has.
    const bash = await readElfRequirements('/bin/bash');
    const needs = highestVersion(bash, 'GLIBC_')!;
    const older = Object.values(UBUNTU_RUNTIMES)
      .filter((runtime) => compareVersions(runtime.glibc.split('.').map(Number), needs.split('.').map(Number)) < 0)
      .at(-1);
    expect(older).toBeDefined();
    const dir = join(await mkdtemp(join(work, 'old-base-')), 'old');
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'src', 'main.ts'), 'process.exitCode = 0;\n');
    await writeFile(
      join(dir, 'charmcraft.yaml'),
      `type: charm\nname: old\nsummary: s\ndescription: d\nplatforms:\n  ${older!.base}:amd64:\n`,
    );
    await expect(packCharm(dir, work, { nodes: { amd64: { binary: '/bin/bash' } } })).rejects.toThrow(
      `/bin/bash: cannot run on ${older!.base}: needs GLIBC_${needs}, ${older!.base} has glibc ${older!.glibc}`,
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
    ['no platforms', HELLO.replace('platforms:\n  amd64:\n', ''), /: platforms is required: /],
    ['an unknown architecture', `${HELLO}  sparc:\n`, /: platform "sparc" has unknown architecture "sparc"$/],
    [
      'a platform base beside the top-level base',
      `${HELLO}  ubuntu@22.04:arm64:\n`,
      /: platform "ubuntu@22.04:arm64" declares a base and so does the top-level "base": keep one$/,
    ],
    [
      'a platform without base and no top-level base',
      HELLO.replace('base: ubuntu@24.04\n', ''),
      /: platform "amd64" names no base and there is no top-level "base"$/,
    ],
    [
      'build-for without build-on',
      HELLO.replace('  amd64:\n', '  amd64:\n    build-for: [amd64]\n'),
      /: platform "amd64" needs build-on and build-for lists, or no value at all$/,
    ],
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

  test('one .charm for several bases and architectures: manifest.yaml lists each base with its architectures', async () => {
    const dir = await selfContainedCharm(await mkdtemp(join(work, 'multi-')), 'multi');
    await writeFile(
      join(dir, 'charmcraft.yaml'),
      [
        'type: charm',
        'name: multi',
        'summary: s',
        'description: d',
        'platforms:',
        '  ubuntu@24.04:amd64:',
        '  ubuntu@24.04:arm64:',
        '  jammy-arm:',
        '    build-on: [ubuntu@22.04:amd64]',
        '    build-for: [ubuntu@22.04:arm64]',
        '  ubuntu@20.04:amd64:',
        '',
      ].join('\n'),
    );
    const result = await packCharm(dir, join(dir, 'build'));
    const zip = await JSZip.loadAsync(await readFile(result.file));
    expect((load(await text(zip, 'manifest.yaml')) as { bases: unknown }).bases).toEqual([
      { name: 'ubuntu', channel: '24.04', architectures: ['amd64', 'arm64'] },
      { name: 'ubuntu', channel: '22.04', architectures: ['arm64'] },
      { name: 'ubuntu', channel: '20.04', architectures: ['amd64'] },
    ]);
    // Juju reads the same bases from the packed files.
    expect(
      parseCharmMetaFiles({
        metadata: await text(zip, 'metadata.yaml'),
        manifest: await text(zip, 'manifest.yaml'),
      }).bases,
    ).toEqual(parseCharmMeta(await text(zip, 'charmcraft.yaml')).bases);
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
    expect(run.stdout).toMatch(/^packed out\/hello\.charm \(\d+ bytes; Node\.js for amd64\)\n$/);
    const zip = await JSZip.loadAsync(await readFile(join(cwd, 'out', 'hello.charm')));
    expect(mode(zip, 'dispatch')).toBe(0o100755);
    // By default the charm carries the pinned Node.js build for each declared architecture.
    const x64 = await nodeBuild(ROOT, 'amd64', { offline: true });
    expect(mode(zip, 'node/amd64/bin/node')).toBe(0o100755);
    expect((await zip.file('node/amd64/bin/node')!.async('nodebuffer')).equals(await readFile(x64.binary))).toBe(true);
    expect(Object.keys(zip.files).filter((entry) => entry.startsWith('node/'))).toEqual(
      expect.arrayContaining(['node/amd64/bin/node', 'node/amd64/LICENSE']),
    );
    // Compressing a Node.js build into the zip takes most of a core for tens of seconds; a busy
    // machine takes minutes.
  }, 240_000);

  test('an arm64 charm gets the arm64 build (from the cache scripts/setup fills; --offline: never downloaded)', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    const dir = await selfContainedCharm(cwd, 'armed');
    const run = cli(['--offline', '--out', join(cwd, 'out'), dir], cwd);
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(/\(\d+ bytes; Node\.js for arm64\)\n$/);
    const zip = await JSZip.loadAsync(await readFile(join(cwd, 'out', 'armed.charm')));
    const arm64 = await nodeBuild(ROOT, 'arm64', { offline: true });
    expect((await zip.file('node/arm64/bin/node')!.async('nodebuffer')).equals(await readFile(arm64.binary))).toBe(
      true,
    );
    expect(zip.file('node/amd64/bin/node')).toBeNull();
  }, 240_000);

  test('--node PATH must be an ELF executable; it replaces the pinned build of its architecture', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    const script = join(cwd, 'node');
    await writeFile(script, '#!/bin/sh\n', { mode: 0o755 });
    const bad = cli(['--node', script, '--out', join(cwd, 'out'), join(EXAMPLES, 'hello')], cwd);
    expect([bad.status, bad.stdout, bad.stderr]).toEqual([1, '', `ERROR ${script}: not an ELF file (--node)\n`]);
  });

  test('--no-node leaves Node.js out; --node and --no-node together are refused', async () => {
    const cwd = await mkdtemp(join(work, 'cli-'));
    const run = cli(['--no-node', '--out', join(cwd, 'out'), join(EXAMPLES, 'hello')], cwd);
    expect([run.status, run.stderr]).toEqual([0, '']);
    const zip = await JSZip.loadAsync(await readFile(join(cwd, 'out', 'hello.charm')));
    expect(Object.keys(zip.files).filter((entry) => entry.startsWith('node/'))).toEqual([]);
    const both = cli(['--no-node', '--node', process.execPath, join(EXAMPLES, 'hello')], cwd);
    expect([both.status, both.stderr]).toEqual([
      1,
      'ERROR --node and --no-node exclude each other; usage: pack-main [--out DIR] [--node PATH | --no-node] [--offline] [--charmcraft] [CHARM_DIR...]\n',
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

describe('dispatch picks the Node.js for the machine', () => {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const other = arch === 'amd64' ? 'arm64' : 'amd64';

  /** A charm directory with our dispatch and a bundle that prints which Node ran it. */
  async function charmWith(nodes: string[]): Promise<string> {
    const dir = await mkdtemp(join(work, 'dispatch-'));
    await writeFile(join(dir, 'dispatch'), DISPATCH_SCRIPT, { mode: 0o755 });
    await mkdir(join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'dist', 'charm.cjs'), 'console.log(process.env.PICKED ?? "node on PATH");\n');
    for (const name of nodes) {
      await mkdir(join(dir, 'node', name, 'bin'), { recursive: true });
      // A stand-in that says it was picked, then runs the real Node.
      const script = `#!/bin/sh\nPICKED=node/${name} exec ${process.execPath} "$@"\n`;
      await writeFile(join(dir, 'node', name, 'bin', 'node'), script, { mode: 0o755 });
    }
    return dir;
  }

  const dispatch = (dir: string, path: string) =>
    spawnSync(join(dir, 'dispatch'), [], { encoding: 'utf8', env: { PATH: path, JUJU_CHARM_DIR: dir } });
  const withNode = `${dirname(process.execPath)}:/usr/bin:/bin`;

  test(`node/<arch>/bin/node for this machine (${arch}), never another architecture's`, async () => {
    const run = dispatch(await charmWith([arch, other]), withNode);
    expect([run.status, run.stdout, run.stderr]).toEqual([0, `node/${arch}\n`, '']);
  });

  test("without its architecture's build, node on PATH; with neither, one ERROR line and exit 1", async () => {
    const dir = await charmWith([other]);
    expect(dispatch(dir, withNode)).toMatchObject({ status: 0, stdout: 'node on PATH\n', stderr: '' });
    // A PATH with the tools dispatch uses (uname) but no node.
    const tools = await mkdtemp(join(work, 'tools-'));
    await symlink('/bin/uname', join(tools, 'uname'));
    const none = dispatch(dir, tools);
    expect([none.status, none.stdout, none.stderr]).toEqual([
      1,
      '',
      `ERROR no Node.js for this charm: neither ${dir}/node/${arch}/bin/node nor node on PATH\n`,
    ]);
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
