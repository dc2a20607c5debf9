// The three Turku charms as Juju receives them: each packed once (lib/charm-pack) and opened as a
// zip for its layout, its modes and its declarations (against the charms' zod schemas), then
// unzipped with its modes and run: every packed workload program, the packed turku-api serving
// HTTP, and the packed charms' real `dispatch` against the Juju fake, each unit in its own machine
// root (TURKU_MACHINE_ROOT) so no hook ever touches this machine's `/`.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import JSZip from 'jszip';

import { checkActionsDeclaration, checkConfigDeclaration } from '../../lib/charm/declarations.js';
import { type CharmDefinition, type JujuCommon, defineCharm, runCharm } from '../../lib/charm/index.js';
import { type Host, hostAt, stopService, workloadAt } from '../../lib/charm-host/index.js';
import { CHARM_WORKLOADS } from '../../lib/charm-host/workload.js';
import { DISPATCH_SCRIPT } from '../../lib/charm-pack/dispatch-script.js';
import { packCharm } from '../../lib/charm-pack/pack.js';
import { parseCharmMeta, parseCharmMetaFiles } from '../../lib/charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../../lib/charm-testing/simulator.js';
import { ToolServer } from '../../lib/charm-testing/tool-server.js';
import { extractWithModes } from '../../lib/substrate/local/packed-charms.js';
import { freePort } from '../support/processes.js';
import { turkuAgentCharm } from '../../charms/turku-agent/src/charm.js';
import {
  configSchema as agentConfig,
  findParams,
  listFilesParams,
  listSnapshotsParams,
  listSourcesParams,
  restoreParams,
  restoreSessionParams,
} from '../../charms/turku-agent/src/schemas.js';
import { ACTION_PARAMS, ApiCharmConfig, turkuApiCharm } from '../../charms/turku-api/src/charm.js';
import {
  ExpireNowParams,
  ListSnapshotsParams,
  StorageConfig,
  VerifySnapshotParams,
  turkuStorageCharm,
} from '../../charms/turku-storage/src/charm.js';

jest.setTimeout(120_000);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHARMS = ['turku-agent', 'turku-api', 'turku-storage'] as const;
type CharmName = (typeof CHARMS)[number];

// The definitions are only read here (config, actions): their host is never asked for.
const noHost = (_juju: JujuCommon): Host => {
  throw new Error('the pack test runs no hook in-process');
};
const DEFINITIONS: Record<CharmName, CharmDefinition> = {
  'turku-agent': turkuAgentCharm(noHost),
  'turku-api': turkuApiCharm(noHost),
  'turku-storage': turkuStorageCharm(noHost),
};
/** What each charm exports for its declarations: the config schema and each action's params. */
const SCHEMAS = {
  'turku-agent': {
    config: agentConfig,
    actions: {
      restore: restoreParams,
      'restore-session': restoreSessionParams,
      'list-sources': listSourcesParams,
      'list-snapshots': listSnapshotsParams,
      'list-files': listFilesParams,
      find: findParams,
    },
  },
  'turku-api': { config: ApiCharmConfig, actions: ACTION_PARAMS },
  'turku-storage': {
    config: StorageConfig,
    actions: {
      'list-snapshots': ListSnapshotsParams,
      'verify-snapshot': VerifySnapshotParams,
      'expire-now': ExpireNowParams,
    },
  },
} as const;

let work: string;
const zips: Partial<Record<CharmName, JSZip>> = {};
/** Each charm unzipped like a unit agent does: `<work>/agents/unit-<app>-0/charm`. */
const charmDirs: Partial<Record<CharmName, string>> = {};

beforeAll(async () => {
  work = await mkdtemp(join(os.tmpdir(), 'turku-charms-pack-'));
  for (const name of CHARMS) {
    const result = await packCharm(join(ROOT, 'charms', name), join(work, 'build'));
    expect(result.file).toBe(join(work, 'build', `${name}.charm`));
    const zip = await JSZip.loadAsync(await readFile(result.file));
    expect(Object.keys(zip.files).sort()).toEqual([...result.entries].sort());
    zips[name] = zip;
    charmDirs[name] = join(work, 'agents', `unit-${name}-0`, 'charm');
    await extractWithModes(zip, charmDirs[name]);
  }
});

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

function zipOf(name: CharmName): JSZip {
  const zip = zips[name];
  if (zip === undefined) throw new Error(`${name} was not packed`);
  return zip;
}

function charmDir(name: CharmName): string {
  const dir = charmDirs[name];
  if (dir === undefined) throw new Error(`${name} was not unpacked`);
  return dir;
}

async function text(zip: JSZip, path: string): Promise<string> {
  const entry = zip.file(path);
  if (entry === null) throw new Error(`no ${path} in the charm`);
  return entry.async('string');
}

async function yamlOf(zip: JSZip, path: string): Promise<Record<string, unknown>> {
  return load(await text(zip, path)) as Record<string, unknown>;
}

async function charmcraft(name: CharmName): Promise<Record<string, unknown>> {
  return load(await readFile(join(ROOT, 'charms', name, 'charmcraft.yaml'), 'utf8')) as Record<string, unknown>;
}

function mode(zip: JSZip, path: string): number {
  return Number(zip.file(path)?.unixPermissions ?? 0);
}

describe('each packed .charm opened as a zip', () => {
  test.each(CHARMS)('%s has exactly the docs/charm-runtime.md, "Packing" layout and its workload programs', (name) => {
    const base = [
      'dispatch',
      'dist/charm.cjs',
      'metadata.yaml',
      'config.yaml',
      'actions.yaml',
      'manifest.yaml',
      'charmcraft.yaml',
      'README.md',
      'LICENSE',
    ];
    // Nothing native: every architecture runs the same JavaScript (the API's SQLite is node:sqlite).
    // Each program is a launcher (workload/<program>.cjs) and its bundle beside it.
    const programs = CHARM_WORKLOADS[name]!.flatMap((program) => [
      `workload/${program}.cjs`,
      `workload/${program}.bundle.cjs`,
    ]);
    // turku-api ships its alert rules and dashboard for the observability relations.
    const cos = name === 'turku-api' ? ['cos/turku-api.dashboard.json', 'cos/turku-api.rules.yaml'] : [];
    expect(Object.keys(zipOf(name).files).sort()).toEqual([...base, ...programs, ...cos].sort());
  });

  test('the workloads are the ones each charm runs', () => {
    expect(CHARM_WORKLOADS['turku-agent']).toEqual(['turku-update-config', 'turku-agent-ping', 'turku-timers']);
    expect(CHARM_WORKLOADS['turku-api']).toEqual(['turku-api']);
    expect(CHARM_WORKLOADS['turku-storage']).toEqual([
      'turku-storage-update-config',
      'turku-storage-ping',
      'turku-storage-admin',
      'turku-storage-sample-verify',
      'turku-storage-tunnel-owner',
      'turku-timers',
    ]);
  });

  test.each(CHARMS)('%s: dispatch is our script, 0755 and a regular file; nothing else is executable', async (name) => {
    const zip = zipOf(name);
    expect(await text(zip, 'dispatch')).toBe(DISPATCH_SCRIPT);
    expect(mode(zip, 'dispatch')).toBe(0o100755);
    for (const path of Object.keys(zip.files).filter((p) => p !== 'dispatch')) {
      expect([path, mode(zip, path)]).toEqual([path, 0o100644]);
    }
    expect(await text(zip, 'dist/charm.cjs')).toMatch(/^"use strict";/);
    expect(await text(zip, 'LICENSE')).toContain('GNU GENERAL PUBLIC LICENSE');
    expect(await text(zip, 'README.md')).toBe(await readFile(join(ROOT, 'charms', name, 'README.md'), 'utf8'));
    expect(await text(zip, 'charmcraft.yaml')).toBe(
      await readFile(join(ROOT, 'charms', name, 'charmcraft.yaml'), 'utf8'),
    );
  });

  test.each(CHARMS)('%s: metadata.yaml has the name, subordinate and endpoints of charmcraft.yaml', async (name) => {
    const zip = zipOf(name);
    const metadata = await yamlOf(zip, 'metadata.yaml');
    const declared = await charmcraft(name);
    expect(metadata.name).toBe(name);
    for (const key of ['subordinate', 'requires', 'provides', 'peers', 'storage', 'summary', 'description']) {
      expect([key, metadata[key]]).toEqual([key, declared[key]]);
    }
    expect(metadata['display-name']).toBe(declared.title);
    for (const key of ['type', 'base', 'platforms', 'parts', 'config', 'actions'])
      expect(metadata).not.toHaveProperty(key);
    // Juju reads the same charm from the generated files as from charmcraft.yaml.
    const files = {
      metadata: await text(zip, 'metadata.yaml'),
      config: await text(zip, 'config.yaml'),
      actions: await text(zip, 'actions.yaml'),
      manifest: await text(zip, 'manifest.yaml'),
    };
    expect(parseCharmMetaFiles(files)).toEqual(parseCharmMeta(await text(zip, 'charmcraft.yaml')));
  });

  test.each(CHARMS)('%s: manifest.yaml lists every base it runs on, 24.04 first (the default)', async (name) => {
    const both = ['amd64', 'arm64'];
    const expected = [
      { name: 'ubuntu', channel: '24.04', architectures: both },
      { name: 'ubuntu', channel: '22.04', architectures: both },
      ...(name === 'turku-agent' ? [{ name: 'ubuntu', channel: '20.04', architectures: both }] : []),
    ];
    expect((await yamlOf(zipOf(name), 'manifest.yaml')).bases).toEqual(expected);
  });

  test('turku-agent is a subordinate on container-scoped juju-info and backup-sources; the others are not', async () => {
    const agent = await yamlOf(zipOf('turku-agent'), 'metadata.yaml');
    expect(agent.subordinate).toBe(true);
    expect(agent.requires).toMatchObject({
      'juju-info': { interface: 'juju-info', scope: 'container' },
      'backup-sources': { interface: 'turku-sources', scope: 'container' },
      'turku-api': { interface: 'turku-agent-api' },
    });
    for (const name of ['turku-api', 'turku-storage'] as const) {
      expect((await yamlOf(zipOf(name), 'metadata.yaml')).subordinate ?? false).toBe(false);
    }
    expect((await yamlOf(zipOf('turku-api'), 'metadata.yaml')).provides).toMatchObject({
      agents: { interface: 'turku-agent-api' },
      storages: { interface: 'turku-storage-api' },
    });
    expect((await yamlOf(zipOf('turku-storage'), 'metadata.yaml')).requires).toMatchObject({
      'turku-api': { interface: 'turku-storage-api' },
    });
  });

  test.each(CHARMS)('%s: config.yaml and actions.yaml agree with the exported zod schemas', async (name) => {
    const zip = zipOf(name);
    const config = (await yamlOf(zip, 'config.yaml')) as { options: Record<string, never> };
    const actions = (await yamlOf(zip, 'actions.yaml')) as Record<string, never>;
    const declared = await charmcraft(name);
    expect(config).toEqual(declared.config);
    expect(actions).toEqual(declared.actions);
    const schemas = SCHEMAS[name];
    expect(checkConfigDeclaration(schemas.config, config.options)).toEqual([]);
    expect(checkActionsDeclaration(schemas.actions, actions)).toEqual([]);
    // The charm runs with those same schemas, and handles exactly the declared actions.
    const definition = DEFINITIONS[name];
    expect(definition.config).toBe(schemas.config);
    expect(checkActionsDeclaration(definition.actions ?? {}, actions)).toEqual([]);
    expect(Object.keys(definition.actions ?? {}).sort()).toEqual(Object.keys(actions).sort());
  });
});

// ---- running the unpacked charms ---------------------------------------------------------

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runNode(args: string[], cwd: string): Ran {
  const run = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function health(port: number): Promise<{ status: number; type: string; body: unknown } | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/health`);
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.json() };
}

const MODULE_NOT_FOUND = /ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND|Cannot find (module|package)/;

describe('the unpacked charms keep their modes and their programs run', () => {
  test.each(CHARMS)('%s: dispatch is executable on disk, the rest is not', async (name) => {
    const dir = charmDir(name);
    expect((await stat(join(dir, 'dispatch'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dir, 'dist', 'charm.cjs'))).mode & 0o777).toBe(0o644);
  });

  const helpful: Array<[CharmName, string, RegExp]> = [
    ['turku-agent', 'turku-update-config', /^Usage: turku-update-config/],
    ['turku-agent', 'turku-agent-ping', /^Usage: turku-agent-ping/],
    ['turku-agent', 'turku-timers', /^Usage:\n {2}turku-timers install/],
    ['turku-storage', 'turku-timers', /^Usage:\n {2}turku-timers install/],
    ['turku-storage', 'turku-storage-update-config', /^Usage: turku-storage-update-config/],
    ['turku-storage', 'turku-storage-ping', /^usage: turku-storage-ping \[--config-dir DIR\] <machine-uuid>/],
    ['turku-storage', 'turku-storage-admin', /^Usage: turku-storage-admin <command>/],
    ['turku-storage', 'turku-storage-sample-verify', /^Usage: turku-storage-sample-verify/],
    ['turku-storage', 'turku-storage-tunnel-owner', /^Usage: turku-storage-tunnel-owner/],
    ['turku-api', 'turku-api', /^Usage: turku-api <command>/],
  ];
  test.each(helpful)('%s: workload/%s.cjs --help prints its usage', (name, program, usage) => {
    const run = runNode([`workload/${program}.cjs`, '--help'], charmDir(name));
    expect(run.stderr).not.toMatch(MODULE_NOT_FOUND);
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(usage);
  });

  // Without a configuration each storage program ends with its one-line error: it loads and runs.
  test('turku-storage: the update, ping and admin programs load and end with their one-line error', async () => {
    const dir = charmDir('turku-storage');
    const empty = await mkdtemp(join(work, 'storage-config-'));
    const update = runNode(['workload/turku-storage-update-config.cjs', '--config-dir', empty], dir);
    expect([update.status, update.stdout, update.stderr]).toEqual([
      1,
      '',
      'turku-storage-update-config: Incomplete config: name: is required\n',
    ]);
    const ping = runNode(['workload/turku-storage-ping.cjs', '--config-dir', empty], dir);
    expect([ping.status, ping.stdout, ping.stderr]).toEqual([
      1,
      '',
      'turku-storage-ping: usage: turku-storage-ping [--config-dir DIR] <machine-uuid>\n',
    ]);
    const admin = runNode(['workload/turku-storage-admin.cjs', 'list-snapshots', '--config-dir', empty], dir);
    expect([admin.status, admin.stdout, admin.stderr]).toEqual([
      2,
      '',
      `turku-storage-admin: ${empty}: Incomplete config: name: is required\n`,
    ]);
  });

  test('turku-api: the packed program migrates a SQLite database and serves /v1/health', async () => {
    const dir = charmDir('turku-api');
    const data = await mkdtemp(join(work, 'api-'));
    const port = await freePort();
    const config = join(data, 'config.json');
    await writeFile(
      config,
      JSON.stringify({ listen: `127.0.0.1:${port}`, database_path: join(data, 'turku-api.db'), log_level: 'warning' }),
    );
    const migrate = runNode(['workload/turku-api.cjs', 'migrate', '--config', config], dir);
    expect(migrate.stderr).not.toMatch(MODULE_NOT_FOUND);
    expect(migrate.status).toBe(0);
    expect(existsSync(join(data, 'turku-api.db'))).toBe(true);

    const serve = spawn(process.execPath, ['workload/turku-api.cjs', 'serve', '--config', config], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    serve.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    serve.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => serve.on('exit', () => resolve()));
    try {
      const answer = await waitFor(`turku-api on port ${port} (output: ${output})`, () => health(port));
      expect(answer.status).toBe(200);
      expect(answer.type).toMatch(/^application\/json/);
      expect(answer.body).toMatchObject({ healthy: true, counts: { machine: 0, storage: 0, source: 0 } });
    } finally {
      serve.kill('SIGTERM');
      await exited;
    }
    expect(output).not.toMatch(MODULE_NOT_FOUND);
  });
});

// ---- the packed dispatch against the Juju fake -----------------------------------------

/**
 * The packed charm's own `dispatch`, with the unit's machine root in its environment: a hook of
 * these charms must never act on this machine's `/`.
 */
async function packedCharm(name: CharmName, root: string): Promise<SimCharm> {
  const dir = charmDir(name);
  await mkdir(root, { recursive: true });
  if (root === '/' || !root.startsWith(work)) throw new Error(`refusing machine root ${root}`);
  return {
    meta: parseCharmMeta(await readFile(join(dir, 'charmcraft.yaml'), 'utf8')),
    executor: { kind: 'process', dispatch: join(dir, 'dispatch'), charmDir: dir, env: { TURKU_MACHINE_ROOT: root } },
  };
}

function hookErrors(sim: ModelSimulator): string[] {
  return sim.model.logs
    .filter((line) => line.level === 'ERROR' || line.source === 'stderr')
    .map((line) => `${line.unit} ${line.event}: ${line.message}`);
}

/** A principal that publishes its `sources` config on backup-sources, as a workload charm would. */
function principalCharm(): SimCharm {
  const meta = [
    'name: web',
    'summary: x',
    'description: x',
    'provides:',
    '  backup-sources: {interface: turku-sources, scope: container}',
    'config:',
    '  options:',
    "    sources: {type: string, default: ''}",
    '',
  ].join('\n');
  const definition = defineCharm({
    async reconcile(ctx) {
      const sources = String((await ctx.tools.configGet())['sources'] ?? '');
      for (const relation of await ctx.tools.relationIds('backup-sources'))
        await ctx.tools.relationSet(relation, { sources });
    },
  });
  return { meta: parseCharmMeta(meta), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}

describe('the packed charms run as real dispatch processes against the Juju fake', () => {
  let toolServer: ToolServer;
  const roots: Partial<Record<CharmName, string>> = {};
  beforeAll(async () => {
    toolServer = await ToolServer.start();
  });
  afterAll(async () => {
    await toolServer.close();
    // The API the packed turku-api charm supervises outlives its hooks: stop it by its pid file.
    for (const root of Object.values(roots)) {
      await stopService(
        hostAt(root, workloadAt(join(root, 'none'), { packed: true, node: process.execPath })),
        'turku-api',
      );
    }
  });

  test('turku-api serves; turku-storage and turku-agent register with it, all from their packed files', async () => {
    for (const name of CHARMS) roots[name] = join(work, 'machines', name);
    const port = await freePort();
    const sim = new ModelSimulator({ seed: 11, toolServer });
    await sim.deploy('turku-api', await packedCharm('turku-api', roots['turku-api']!), {
      // The fake's ingress address (10.0.0.1) is not this machine's: the units reach the API on loopback.
      config: { port, 'external-url': `http://127.0.0.1:${port}/v1` },
    });
    await sim.deploy('turku-storage', await packedCharm('turku-storage', roots['turku-storage']!));
    await sim.deploy('web', principalCharm(), { config: { sources: JSON.stringify({ www: { path: '/srv/www' } }) } });
    await sim.deploy('turku-agent', await packedCharm('turku-agent', roots['turku-agent']!));
    await sim.integrate('turku-agent:juju-info', 'web:juju-info');
    await sim.integrate('turku-agent:backup-sources', 'web:backup-sources');
    await sim.settle();
    expect(hookErrors(sim)).toEqual([]);
    expect(sim.workloadStatuses()).toEqual({
      'turku-api/0': `active: http://127.0.0.1:${port}/v1 (SQLite); 0 machines; no storages related`,
      'turku-storage/0': 'waiting: waiting for a turku-api relation',
      'turku-agent/0':
        'blocked: needs the turku-api relation or the api-url, registration-name and registration-secret config',
      'web/0': 'active: ',
    });
    expect(await health(port)).toMatchObject({ status: 200, body: { healthy: true } });

    await sim.integrate('turku-storage:turku-api', 'turku-api:storages');
    await sim.integrate('turku-agent:turku-api', 'turku-api:agents');
    await sim.settle();
    expect(hookErrors(sim)).toEqual([]);
    expect(sim.workloadStatuses()).toEqual({
      'turku-api/0': expect.stringMatching(
        new RegExp(`^active: http://127\\.0\\.0\\.1:${port}/v1 \\(SQLite\\); 1 machines; `),
      ),
      'turku-storage/0': expect.stringMatching(/^active: \S+: .* free on 1 volume$/),
      'turku-agent/0': `active: 1 source registered with 127.0.0.1:${port}; no backup yet`,
      'web/0': 'active: ',
    });

    // The packed turku-api's own CLI (from the copy the charm installed) sees both registrations.
    const apiRoot = roots['turku-api']!;
    const apiConfig = join(apiRoot, 'etc/turku-api/config.json');
    const installed = join(apiRoot, 'usr/local/lib/turku/unit-turku-api-0/workload');
    for (const [command, count] of [
      ['machines', 1],
      ['storages', 1],
      ['sources', 1],
    ] as const) {
      const listed = runNode([join(installed, 'turku-api.cjs'), command, '--config', apiConfig, '--json'], apiRoot);
      expect([command, listed.status, listed.stderr]).toEqual([command, 0, '']);
      expect([command, (JSON.parse(listed.stdout) as unknown[]).length]).toEqual([command, count]);
    }

    // Everything the hooks wrote is inside the units' roots; the programs run from copies out of the charm.
    expect(existsSync(join(apiRoot, 'var/lib/turku-api/turku-api.db'))).toBe(true);
    expect(existsSync(join(installed, 'turku-api.cjs'))).toBe(true);
    expect(existsSync(join(installed, 'node_modules'))).toBe(false);
    for (const name of ['turku-agent', 'turku-storage'] as const) {
      const root = roots[name]!;
      for (const program of CHARM_WORKLOADS[name]!) {
        expect(await readFile(join(root, 'usr/local/bin', program), 'utf8')).toContain(
          join(root, `usr/local/lib/turku/unit-${name}-0/workload/${program}.cjs`),
        );
      }
    }
    expect(existsSync(join(roots['turku-agent']!, 'etc/turku-agent/sources.d/web.json'))).toBe(true);
    // The packed turku-timers ran too: cron lines (no systemd in a unit root) calling the wrappers.
    for (const name of ['turku-agent', 'turku-storage'] as const) {
      const cron = await readFile(join(roots[name]!, 'etc/cron.d', name), 'utf8');
      const configDir = name === 'turku-agent' ? '/etc/turku-agent' : '/etc/turku-storage';
      expect(cron).toMatch(new RegExp(`/usr/local/bin/${name}-\\S+ .*--config-dir ${configDir}`));
    }
    expect(existsSync(join(roots['turku-storage']!, 'etc/turku-storage'))).toBe(true);
  });
});
