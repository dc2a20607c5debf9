import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';

import { createAuth } from '../../lib/api/admin/commands.js';
import { COMMANDS } from '../../lib/api/cli.js';
import { Store } from '../../lib/api/store.js';
import { COMMANDS as STORAGE_ADMIN_COMMANDS } from '../../lib/storage/admin/cli.js';
import { startTestApi } from '../support/api-harness.js';

/**
 * The built programs (dist/) as real processes: every program and subcommand answers --help and
 * -h with its usage on stdout and exit 0 (and does nothing else), and the printing ones end
 * quietly when the reader of their output goes away.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = (path: string) => join(root, 'dist', path);

const TURKU_API = 'lib/api/main.js';
const TURKU_POLICY = 'lib/policy-cli/main.js';

/** [program under dist/, arguments before --help, the usage's first words]. */
const PROGRAMS: readonly (readonly [string, readonly string[], RegExp])[] = [
  [TURKU_API, [], /^Usage: turku-api <command>/],
  // From the CLI's own table, so a new command cannot be left out.
  ...Object.keys(COMMANDS).map(
    (command) => [TURKU_API, [command], new RegExp(`^Usage: turku-api ${command}[ \\n]`)] as const,
  ),
  ['lib/agent/update-config-main.js', [], /^Usage: turku-update-config /],
  ['lib/agent/ping-main.js', [], /^Usage: turku-agent-ping /],
  ['lib/storage/update-config-main.js', [], /^Usage: turku-storage-update-config /],
  ['lib/storage/ping-main.js', [], /^usage: turku-storage-ping /],
  ['lib/storage/admin-main.js', [], /^Usage: turku-storage-admin <command>/],
  ['lib/storage/sample-verify-main.js', [], /^Usage: turku-storage-sample-verify /],
  ['lib/storage/tunnel-owner-main.js', [], /^Usage: turku-storage-tunnel-owner\n/],
  ...Object.keys(STORAGE_ADMIN_COMMANDS).map(
    (command) =>
      ['lib/storage/admin-main.js', [command], new RegExp(`^Usage: turku-storage-admin ${command}[ \\n]`)] as const,
  ),
  ['lib/timers/main.js', [], /^Usage:\n {2}turku-timers /],
  ...['install', 'remove', 'render'].map(
    (command) => ['lib/timers/main.js', [command, 'agent'], /^Usage:\n {2}turku-timers /] as const,
  ),
  [TURKU_POLICY, [], /^Usage:\n {2}turku-policy /],
  ...['frequency', 'retention'].map((command) => [TURKU_POLICY, [command], /^Usage:\n {2}turku-policy /] as const),
  ['lib/charm-pack/pack-main.js', [], /^usage: pack-main /],
  ['lib/substrate/local/demo-main.js', [], /^Usage: demo-main.js up /],
  ...['up', 'down'].map(
    (command) => ['lib/substrate/local/demo-main.js', [command], /^Usage: demo-main.js up /] as const,
  ),
  ['lib/substrate/local/cli-main.js', [], /^Usage: turku-local <command> /],
];

describe('package.json bin', () => {
  it('is the lockfile root package bin too (npm ci checks only the dependencies for a stale lockfile)', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { bin?: Record<string, string> }>;
    };
    expect(lock.packages['']?.bin).toEqual(manifest.bin);
  });
});

describe('--help', () => {
  it('lists every turku-api command in the usage', async () => {
    const usage = (await execa('node', [dist(TURKU_API), '--help'])).stdout;
    for (const command of Object.keys(COMMANDS)) expect(usage).toMatch(new RegExp(`^ {2}${command}( |$)`, 'm'));
  });

  it.each(PROGRAMS.flatMap(([program, args, usage]) => ['--help', '-h'].map((flag) => [program, args, flag, usage])))(
    '%s %p %s prints its usage on stdout and exits 0',
    async (program, args, flag, usage) => {
      const result = await execa('node', [dist(program as string), ...(args as string[]), flag as string], {
        reject: false,
        stdin: 'ignore',
        // Nothing may run: no config, no API, no systemd are needed to ask for help.
        env: { HOME: '/nonexistent' },
        timeout: 30_000,
      });
      expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
      expect(result.stdout).toMatch(usage as RegExp);
    },
    60_000,
  );
});

/** Runs `node program args`, closes its stdout after the first line, and reports how it ended. */
function firstLineThenClose(program: string, args: readonly string[]) {
  return new Promise<{ firstLine: string; code: number | null; signal: string | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn('node', [dist(program), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let firstLine = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (firstLine === '' && stdout.includes('\n')) {
          firstLine = stdout.slice(0, stdout.indexOf('\n'));
          child.stdout.destroy();
        }
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ firstLine, code, signal, stderr }));
    },
  );
}

describe('a closed output pipe', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'turku-closed-pipe-'));
    const databasePath = join(dir, 'api.db');
    const api = await startTestApi('sqlite', {}, { databasePath });
    const storageAuth = await createAuth(api.api.ctx, 'storage_reg');
    const machineAuth = await createAuth(api.api.ctx, 'machine_reg');
    const storage = { name: 'primary', secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4' };
    await api.post('storage_update_config', {
      auth: storageAuth,
      storage: { ...storage, ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u' },
    });
    const uuid = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
    const machine = {
      uuid,
      secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
      unit_name: 'sql/2',
      ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku',
      sources: { etc: { path: '/etc' } },
    };
    expect((await api.post('update_config', { auth: machineAuth, machine })).status).toBe(200);
    // 5,000 backups: the listing is far larger than a pipe's 64 KiB buffer.
    await api.api.ctx.db.transaction(async (tx) => {
      const store = new Store(tx);
      const source = (await store.sourcesOfMachine((await store.machineByUuid(uuid))!.id))[0]!;
      for (let i = 0; i < 5000; i++) {
        await store.insert('backup_logs', {
          source_id: source.id,
          date: new Date(Date.UTC(2024, 0, 1) + i * 60_000),
          storage_id: null,
          success: true,
          skipped: false,
          date_begin: null,
          date_end: null,
          snapshot: `etc_${i}`,
          summary: 'x'.repeat(40),
        });
      }
    });
    await api.api.close();
    config = join(dir, 'api.yaml');
    await writeFile(config, `database_path: ${databasePath}\n`);
  }, 60_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    [['backups', '--limit', '5000'], /^DATE\s+UNIT_NAME/],
    [['backups', '--limit', '5000', '--json'], /^\[$/],
  ])(
    'turku-api %p | head -1 ends quietly with exit 0',
    async (args, first) => {
      const ended = await firstLineThenClose(TURKU_API, [...args, '--config', config]);
      expect(ended).toEqual({ firstLine: expect.stringMatching(first) as unknown, code: 0, signal: null, stderr: '' });
    },
    60_000,
  );

  it('turku-policy frequency --count 10000 | head -1 ends quietly with exit 0', async () => {
    const ended = await firstLineThenClose(TURKU_POLICY, [
      'frequency',
      'hourly',
      '--source-id',
      '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d',
      '--count',
      '10000',
    ]);
    expect(ended).toEqual({
      firstLine: expect.stringMatching(/^\d{4}-/) as unknown,
      code: 0,
      signal: null,
      stderr: '',
    });
  }, 60_000);
});
