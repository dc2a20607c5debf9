import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { registerStorage, startTestApi, type TestApi } from '../../../tests/support/api-harness.js';
import { createAuth } from '../../api/admin/commands.js';
import type { ApiContext } from '../../api/context.js';
import { Store } from '../../api/store.js';
import { createWorkloadLogger, type WorkloadLogger } from '../../common/workload-log.js';
import type { AgentIo } from '../cli.js';
import { runUpdateConfig } from '../update-config.js';

/** Shared by the agent's tests: temporary trees, captured output, fake programs. */

const created: string[] = [];

export async function tempDir(prefix = 'turku-agent-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

export interface CapturedIo extends AgentIo {
  readonly out: () => string;
  readonly err: () => string;
  readonly interrupt: (reason?: string) => void;
}

export function captureIo(): CapturedIo {
  let out = '';
  let err = '';
  const controller = new AbortController();
  return {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    hostname: () => 'test-host',
    signal: controller.signal,
    random: () => 0.5,
    out: () => out,
    err: () => err,
    interrupt: (reason = 'SIGINT') => controller.abort(reason),
  };
}

/** A logger whose lines are kept (all levels). */
export function memoryLog(): WorkloadLogger & { readonly lines: string[] } {
  const lines: string[] = [];
  const logger = createWorkloadLogger({ name: 'test', consoleLevel: 'debug', console: (line) => lines.push(line) });
  return Object.assign(logger, { lines });
}

/** An agent configuration tree: `<root>/etc` (config.d, sources.d), `<root>/var`, `<root>/lock`. */
export interface AgentTree {
  readonly root: string;
  readonly configDir: string;
  readonly varDir: string;
  readonly lockDir: string;
}

export async function agentTree(
  config: Record<string, unknown> = {},
  sources?: Record<string, unknown>,
): Promise<AgentTree> {
  const root = await tempDir();
  const tree = { root, configDir: join(root, 'etc'), varDir: join(root, 'var'), lockDir: join(root, 'lock') };
  await mkdir(join(tree.configDir, 'config.d'), { recursive: true });
  await writeFile(
    join(tree.configDir, 'config.d', '50-test.json'),
    JSON.stringify({ var_dir: tree.varDir, lock_dir: tree.lockDir, ...config }),
  );
  if (sources !== undefined) await writeSources(tree, sources);
  return tree;
}

export async function writeSources(tree: AgentTree, sources: Record<string, unknown>): Promise<void> {
  await mkdir(join(tree.configDir, 'sources.d'), { recursive: true });
  await writeFile(join(tree.configDir, 'sources.d', 'test.json'), JSON.stringify(sources));
}

/** Writes an executable Node.js script (a stand-in for ssh in a few tests). */
export async function nodeScript(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/usr/bin/env node\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

/** A loopback port nothing listens on (just now). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Ports handed out in order, then random ones from a high range. */
export function portSequence(...ports: number[]): () => number {
  return () => ports.shift() ?? 50_000 + Math.floor(Math.random() * 15_000);
}

/**
 * The body of a fake ssh acting as a storage: it records its argv, the known-hosts file and the
 * request to `<record>.<n>.json`, and then runs `behaviour` (JavaScript with `request`, `port`,
 * `log(level, message)` and `rsync(args, password)` in scope).
 */
export function fakeStorageScript(record: string, behaviour: string): string {
  return `
const { readFileSync, writeFileSync, existsSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const argv = process.argv.slice(2);
const counter = ${JSON.stringify(record)} + '.count';
const n = existsSync(counter) ? Number(readFileSync(counter, 'utf8')) + 1 : 1;
writeFileSync(counter, String(n));
const option = (name) => argv.filter((_, i) => argv[i - 1] === '-o').find((o) => o.startsWith(name + '='))?.slice(name.length + 1);
const knownHostsFile = option('UserKnownHostsFile');
const knownHosts = knownHostsFile && existsSync(knownHostsFile) ? readFileSync(knownHostsFile, 'utf8') : null;
const log = (level, message) => process.stderr.write('[2024-12-15 07:00:00,000 primary] ' + level + ': ' + message + '\\n');
const rsync = (args, password) =>
  spawnSync('rsync', args, { env: { ...process.env, RSYNC_PASSWORD: password }, encoding: 'utf8' });
let input = '';
let handled = false;
let saved = {};
const save = (extra) => {
  saved = { ...saved, ...extra };
  writeFileSync(${JSON.stringify(record)} + '.' + n + '.json', JSON.stringify({ argv, knownHosts, input, ...saved }));
};
const handle = (eof) => {
  if (handled) return;
  const end = input.indexOf('\\n.\\n');
  if (end < 0 && !eof) return;
  handled = true;
  const request = JSON.parse(end < 0 ? input : input.slice(0, end));
  const port = request.port;
  save({ request });
  (async () => { ${behaviour} })().catch((error) => { log('ERROR', String(error)); process.exit(1); });
};
let ended = false;
process.stdin.on('data', (chunk) => { input += chunk; handle(false); });
process.stdin.on('end', () => { ended = true; save({ eof: true }); handle(true); });
const waitForEof = () => new Promise((resolve) => (ended ? resolve() : process.stdin.on('end', resolve)));
`;
}

export interface ApiWithStorage {
  readonly api: TestApi;
  readonly machineAuth: { readonly name: string; readonly secret: string };
}

/** A real turku-api (SQLite) with one registered storage and a machine registration credential. */
export async function apiWithStorage(storage: Record<string, unknown> = {}): Promise<ApiWithStorage> {
  const api = await startTestApi('sqlite');
  const machineAuth = await createAuth(api.api.ctx, 'machine_reg', { name: 'Machine Registrations' });
  await registerStorage(api, storage);
  return { api, machineAuth };
}

export interface RegisteredAgent extends ApiWithStorage {
  readonly tree: AgentTree;
  readonly uuid: string;
  /** Where the fake ssh records what it saw: `<record>.<n>.json`, `<record>.count`. */
  readonly record: string;
  /** A directory with `file.txt` and `sub/deep.txt`, configured as the source `etc`. */
  readonly data: string;
}

/**
 * A machine registered with turku-update-config against a real API, whose `ssh_command` is a
 * fake storage running `behaviour` (see fakeStorageScript), unless `ssh` says otherwise.
 */
export async function registeredAgent(
  behaviour: string,
  options: { storage?: Record<string, unknown>; config?: Record<string, unknown>; ssh?: string[] } = {},
): Promise<RegisteredAgent> {
  const api = await apiWithStorage(options.storage);
  const root = await tempDir();
  const data = join(root, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  await writeFile(join(data, 'file.txt'), 'backed up\n');
  await writeFile(join(data, 'sub', 'deep.txt'), 'deep\n');
  const record = join(root, 'ssh');
  const ssh = options.ssh ?? [await nodeScript(root, 'fake-ssh', fakeStorageScript(record, behaviour))];
  const tree = await agentTree(
    {
      api_url: api.api.url,
      unit_name: 'sql/2',
      ssh_command: ssh,
      restore_path: join(root, 'restore'),
      ...options.config,
    },
    { etc: { path: data }, home: { path: join(root, 'home') } },
  );
  const io = captureIo();
  const code = await runUpdateConfig(
    ['-c', tree.configDir, '--api-auth-name', api.machineAuth.name, '--api-auth-secret', api.machineAuth.secret],
    io,
  );
  if (code !== 0) throw new Error(`registration failed: ${io.err()}`);
  const identity = JSON.parse(await readFile(join(tree.varDir, 'config.d', '10-machine_uuid.json'), 'utf8')) as {
    machine_uuid: string;
  };
  await postponeBackups(api.api.api.ctx, identity.machine_uuid);
  return { ...api, tree, uuid: identity.machine_uuid, record, data };
}

/**
 * New sources are first due at a hashed point within 15 minutes of registering, which can be the
 * registration instant itself; tests that say what is due start from nothing due instead.
 */
async function postponeBackups(ctx: ApiContext, machineUuid: string): Promise<void> {
  const later = new Date(ctx.now().getTime() + 3_600_000);
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machine = await store.machineByUuid(machineUuid);
    if (machine === undefined) throw new Error(`machine ${machineUuid} is not registered`);
    for (const source of await store.sourcesOfMachine(machine.id)) {
      await store.update('sources', source.id, { date_next_backup: later });
    }
  });
}

export interface FakeSshRecord {
  readonly argv: string[];
  readonly knownHosts: string | null;
  readonly input: string;
  readonly request?: Record<string, unknown> & { port: number };
  readonly eof?: boolean;
}

/** What the fake ssh saw in its `n`th run, or undefined if it did not run that often. */
export async function fakeSshRun(record: string, n: number): Promise<FakeSshRecord | undefined> {
  try {
    return JSON.parse(await readFile(`${record}.${n}.json`, 'utf8')) as FakeSshRecord;
  } catch {
    return undefined;
  }
}

/** Polls `condition` every 20 ms for up to `ms`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
