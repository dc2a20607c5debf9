import { jest } from '@jest/globals';
import { mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { QUERIES_UNSUPPORTED } from '../../lib/agent/queries.js';
import { createWorld, DIST, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';

/**
 * Issue 20, item 3: the read-only queries (docs/datapath.md, "Queries (our extension of the stdin
 * protocol)") through the whole data path: the agent in its network namespace, the storage's real
 * sshd and forced command, link-dest snapshots and borg archives made by real backups.
 */

jest.setTimeout(300_000);

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;

/** Two backups of each source, with a file changed, one added and one removed in between. */
beforeAll(async () => {
  world = await createWorld('queries');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  const trees = { etc: join(world.root, 'etc'), vault: join(world.root, 'vault') };
  for (const tree of Object.values(trees)) {
    await mkdir(join(tree, 'ssh'), { recursive: true });
    await writeFile(join(tree, 'ssh', 'sshd_config'), 'Port 22\n');
    await writeFile(join(tree, 'hosts'), '127.0.0.1 localhost\n');
    await writeFile(join(tree, 'old.conf'), 'going away\n');
    for (let i = 0; i < 5; i++) await writeFile(join(tree, `many-${i}`), 'x'.repeat(i));
    // A stored link to the agent's root: a query must never follow it on the storage.
    await symlink('/', join(tree, 'root-link'));
    await utimes(join(tree, 'ssh', 'sshd_config'), new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));
  }
  await agent.setSources({
    etc: { path: trees.etc },
    vault: { path: trees.vault, snapshot_mode: 'borg' },
  });
  await world.register(storage, agent);
  await world.backUp(agent, 'etc', 'vault');
  for (const tree of Object.values(trees)) {
    await writeFile(join(tree, 'ssh', 'sshd_config'), 'Port 2222\n');
    await writeFile(join(tree, 'new.conf'), 'new\n');
    await rm(join(tree, 'old.conf'));
  }
  await world.backUp(agent, 'etc', 'vault');
});
afterAll(() => world?.destroy());

interface Json {
  snapshots?: { name: string; mode: string; size: number | null; files: number | null }[];
  entries?: { name: string; entry: string; size: number; mode: string; target?: string }[];
  matches?: { path: string; held: number; events: { snapshot: string; change: string; size?: number }[] }[];
  snapshot?: string;
  more: number;
  complete: boolean;
}

async function query(...args: string[]): Promise<Json> {
  const result = await agent.ping(...args, '--json');
  expect(result).toMatchObject({ exitCode: 0, stderr: '' });
  return JSON.parse(result.stdout) as Json;
}

describe.each([
  ['etc', 'link-dest'],
  ['vault', 'borg'],
])('%s (%s)', (source, mode) => {
  test('list-snapshots: both snapshots, oldest first, with size and file count', async () => {
    const answer = await query('--list-snapshots', source);
    expect(answer.snapshots).toHaveLength(2);
    expect(answer.snapshots!.map((s) => s.mode)).toEqual([mode, mode]);
    // sshd_config, hosts, old.conf and many-0..4; then new.conf in place of old.conf.
    expect(answer.snapshots!.map((s) => s.files)).toEqual([8, 8]);
    expect(answer.snapshots![0]!.size).toBe(8 + 20 + 11 + 10);
    expect(answer.snapshots![1]!.size).toBe(10 + 20 + 4 + 10);
    expect(answer.complete).toBe(true);

    // The storage's own list-snapshots gives the same columns with --sizes.
    const admin = await execa(process.execPath, [
      join(DIST, 'storage', 'admin-main.js'),
      'list-snapshots',
      '--sizes',
      '--json',
      '--source',
      source,
      '--config-dir',
      storage.configDir,
    ]);
    const listed = (
      JSON.parse(admin.stdout) as { sources: Record<string, { name: string; size: number; files: number }[]> }[]
    )[0]!;
    expect(listed.sources[source]!.map(({ name, size, files }) => ({ name, size, files }))).toEqual(
      answer.snapshots!.map(({ name, size, files }) => ({ name, size, files })),
    );

    const table = await agent.ping('--list-snapshots', source);
    expect(table.exitCode).toBe(0);
    expect(table.stdout.split('\n').slice(0, 2)).toEqual([
      `Snapshots of ${source} on storage primary:`,
      expect.stringMatching(/^SNAPSHOT +MODE +FINISHED +SIZE +FILES$/),
    ]);
  });

  test('list-files: one directory, sorted, bounded, links shown and never followed', async () => {
    const top = await query('--list-files', source);
    expect(top.entries!.map((e) => e.name)).toEqual([
      'hosts',
      'many-0',
      'many-1',
      'many-2',
      'many-3',
      'many-4',
      'new.conf',
      'root-link',
      'ssh',
    ]);
    expect(top.entries!.find((e) => e.name === 'root-link')).toMatchObject({ entry: 'symlink', target: '/' });
    expect(top.entries!.find((e) => e.name === 'ssh')).toMatchObject({
      entry: 'dir',
      mode: expect.stringMatching(/^d/),
    });
    expect(top.entries!.find((e) => e.name === 'hosts')).toMatchObject({ entry: 'file', size: 20, mode: '-rw-r--r--' });

    const first = (await query('--list-snapshots', source)).snapshots![0]!.name;
    const ssh = await query('--list-files', source, '--snapshot', first, '--path', 'ssh');
    expect(ssh).toMatchObject({ snapshot: first, entries: [{ name: 'sshd_config', size: 8 }], more: 0 });

    const bounded = await agent.ping('--list-files', source, '--limit', '3');
    expect(bounded.stdout).toContain('... and 6 more not shown');

    // The stored link to "/" leads nowhere on the storage: not to its /etc, nor anywhere else.
    const escape = await agent.ping('--list-files', source, '--path', 'root-link/etc');
    expect(escape.exitCode).toBe(1);
    expect(escape.stdout).toBe('');
    expect(escape.stderr).toMatch(
      mode === 'borg' ? /no "root-link\/etc" in the snapshot/ : /"root-link" is a symbolic link/,
    );
    const climb = await agent.ping('--list-files', source, '--path', '../../..');
    expect(climb).toMatchObject({ exitCode: 1, stdout: '' });
    expect(climb.stderr).toMatch(/the path must stay inside the snapshot/);
  });

  test('find: which snapshots hold a path and where it changed', async () => {
    const snapshots = (await query('--list-snapshots', source)).snapshots!.map((s) => s.name);
    const answer = await query('--find', source, '--pattern', '*.conf');
    expect(answer.matches).toEqual([
      {
        path: 'new.conf',
        entry: 'file',
        held: 1,
        events: [expect.objectContaining({ snapshot: snapshots[1], change: 'added', size: 4 })],
      },
      {
        path: 'old.conf',
        entry: 'file',
        held: 1,
        events: [
          expect.objectContaining({ snapshot: snapshots[0], change: 'added', size: 11 }),
          expect.objectContaining({ snapshot: snapshots[1], change: 'removed' }),
        ],
      },
    ]);
    const config = await query('--find', source, '--pattern', 'ssh/sshd_config');
    expect(config.matches![0]!.events.map((e) => e.change)).toEqual(['added', 'changed']);
    expect(config.matches![0]!.held).toBe(2);

    // Past the limit, only counted; the stored link is not walked into (no "root-link/etc/…").
    const limited = await query('--find', source, '--pattern', '**', '--limit', '2');
    expect(limited.matches).toHaveLength(2);
    expect(limited.more).toBe(9);
    const everything = await query('--find', source, '--pattern', '**');
    expect(everything.matches!.some((m) => m.path.startsWith('root-link/'))).toBe(false);

    const table = await agent.ping('--find', source, '--pattern', 'sshd_config');
    expect(table.stdout).toMatch(/^ssh\/sshd_config +\S+ .* added +8 /m);
    expect(table.stdout).toMatch(/^ssh\/sshd_config +\S+ .* changed +10 /m);
  });
});

test('a snapshot or source the storage does not have is a clear error', async () => {
  const missing = await agent.ping('--list-files', 'etc', '--snapshot', 'nope');
  expect(missing).toMatchObject({ exitCode: 1, stdout: '' });
  expect(missing.stderr).toBe('turku-agent-ping: Storage primary: snapshot "nope" not found for source "etc"');
  const unknown = await agent.ping('--list-snapshots', 'unknown');
  expect(unknown).toMatchObject({ exitCode: 0 });
  expect(unknown.stdout).toContain('(none)');
});

test('an original-style storage (the query key ignored) gets the clear message', async () => {
  // The forced command behind a filter that drops the key, as an original storage would ignore it.
  const filter = join(storage.dir, 'drop-query.cjs');
  await writeFile(
    filter,
    `const { spawn } = require('node:child_process');
let text = '';
process.stdin.on('data', (chunk) => {
  text += chunk;
  const end = text.indexOf('\\n.\\n');
  if (end < 0) return;
  process.stdin.pause();
  const request = JSON.parse(text.slice(0, end));
  delete request.query;
  const child = spawn(process.execPath, ${JSON.stringify([join(DIST, 'storage', 'ping-main.js'), '--config-dir', storage.configDir])}.concat(process.argv.slice(2)), { stdio: ['pipe', 'inherit', 'inherit'] });
  child.stdin.end(JSON.stringify(request) + '\\n.\\n');
  child.on('exit', (code) => process.exit(code ?? 1));
});
`,
  );
  await storage.configure({ authorized_keys_command: `${process.execPath} ${filter}` });
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  try {
    const result = await agent.ping('--list-snapshots', 'etc');
    expect(result).toMatchObject({ exitCode: 1, stdout: '' });
    expect(result.stderr).toBe(`turku-agent-ping: Storage primary: ${QUERIES_UNSUPPORTED}`);
    expect(await storage.localLog()).toContain('Restore mode finished');
  } finally {
    await storage.configure({});
    expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  }
});

test('another machine asking about a source of the same name sees only its own (none)', async () => {
  const other = await world.addAgent('other');
  await other.setSources({ etc: { path: join(world.root, 'etc') } });
  expect(await other.updateConfig()).toMatchObject({ exitCode: 0 });
  expect(await storage.updateConfig()).toMatchObject({ exitCode: 0 });
  const result = await other.ping('--list-snapshots', 'etc', '--json');
  expect(result).toMatchObject({ exitCode: 0, stderr: '' });
  expect(JSON.parse(result.stdout)).toMatchObject({ storage: 'primary', source: 'etc', snapshots: [] });
  const files = await other.ping('--list-files', 'etc');
  expect(files).toMatchObject({ exitCode: 1, stdout: '' });
  expect(files.stderr).toBe('turku-agent-ping: Storage primary: no snapshots of source "etc" on this storage');
});
