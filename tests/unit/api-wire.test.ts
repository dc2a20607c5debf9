import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';

import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

/**
 * An agent and a storage speaking only the original's wire format (docs/api.md) to the built
 * `turku-api` program: register, be assigned, check in and report a backup. Nothing from lib/ is
 * imported; the operator's steps (credentials, "back up now") go through the admin CLI, as an
 * operator's would.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const program = join(root, 'dist/lib/api/main.js');

const UUID = '5f1d3a2e-7c4b-4e9a-8d6f-0a1b2c3d4e5f';
const MACHINE_SECRET = 'q7Wm2Rk9Tz4Lp8Xv3Nc6Hb1Js5Gd0Fa';
const STORAGE = { name: 'backup-1', secret: 'Yt6Rb2Nq8Lw4Mz1Kc7Vx3Jp9Hs5Gf0Dd' };
const AGENT_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZ0ZXN0a2V5Zm9ydHVya3V3aXJldGVzdGluZzEyMzQ1 turku';
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhvc3RrZXlmb3J0dXJrdXdpcmV0ZXN0aW5nMTIzNDU2 root@backup-1';

let postgres: PostgresServer | undefined;

const serve = (config: string) => execa('node', [program, 'serve', '--config', config], { reject: false });

afterAll(async () => {
  await postgres?.stop();
});

describe.each(['sqlite', 'postgres'] as const)('the wire protocol against a turku-api process on %s', (backend) => {
  let dir: string;
  let config: string;
  let server: ReturnType<typeof serve>;
  let url: string;

  const admin = (...args: string[]) => execa('node', [program, ...args, '--config', config], { reject: false });
  const post = async (view: string, body: unknown) => {
    const response = await fetch(`${url}/${view}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
  };
  const ok = async (view: string, body: unknown): Promise<Record<string, unknown>> => {
    const response = await post(view, body);
    expect([view, response.status, response.type]).toEqual([view, 200, 'application/json']);
    return JSON.parse(response.body) as Record<string, unknown>;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'turku-api-wire-'));
    config = join(dir, 'api.yaml');
    let database = `database_path: ${join(dir, 'api.db')}`;
    if (backend === 'postgres') {
      postgres ??= await startPostgres();
      database = `database_url: ${postgres.url}`;
    }
    await writeFile(config, `listen: 127.0.0.1:0\n${database}\nlog_level: info\n`);
    server = serve(config);
    url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      server.stderr.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(seen);
        if (match !== null) resolve(match[1]!);
      });
      void server.then((result) => reject(new Error(`turku-api exited: ${result.stderr}`)));
    });
  }, 60_000);

  afterAll(async () => {
    server.kill('SIGTERM');
    const result = await server;
    expect(result.exitCode).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('registers, assigns, checks in, backs up and reports', async () => {
    const machineReg = await admin('auth-create', 'machine_reg', '--raw');
    const storageReg = await admin('auth-create', 'storage_reg', '--name', 'Storage Registrations', '--raw');
    expect([machineReg.exitCode, storageReg.exitCode]).toEqual([0, 0]);

    // A storage registers the way the original does: a bare-string auth and float space values.
    expect(
      await ok('storage_update_config', {
        auth: storageReg.stdout.trim(),
        storage: {
          ...STORAGE,
          ssh_ping_host: '192.0.2.10',
          ssh_ping_port: 2222,
          ssh_ping_user: 'turku-ping',
          ssh_ping_host_keys: [HOST_KEY],
          space_total: 953869.5,
          space_available: 512000.25,
          snapshot_modes: ['link-dest', 'none', 'borg'],
        },
      }),
    ).toEqual({ machines: {} });

    // An agent registers with its sources; unknown keys (pre-2020 per-source credentials) are ignored.
    expect(
      await ok('update_config', {
        auth: { name: 'Machine Registrations', secret: machineReg.stdout.trim() },
        machine: {
          uuid: UUID,
          secret: MACHINE_SECRET,
          environment_name: 'prod',
          service_name: 'sql',
          unit_name: 'sql/0',
          ssh_public_key: AGENT_KEY,
          sources: {
            etc: { path: '/etc', retention: 'last 7 days', username: 'legacy', password: 'legacy' },
            home: { path: '/home', frequency: 'weekly', snapshot_mode: 'borg', preserve_hard_links: 1 },
          },
        },
      }),
    ).toEqual({});

    // The storage learns the machine's key.
    expect(await ok('storage_update_config', { storage: STORAGE })).toEqual({
      machines: {
        [UUID]: {
          environment_name: 'prod',
          service_name: 'sql',
          unit_name: 'sql/0',
          comment: null,
          ssh_public_key: AGENT_KEY,
        },
      },
    });

    // The operator asks for a backup now; the agent's next check-in gets the source.
    expect((await admin('trigger', UUID, 'etc')).exitCode).toBe(0);
    const checkin = await ok('agent_ping_checkin', { machine: { uuid: UUID, secret: MACHINE_SECRET } });
    const endpoint = {
      name: 'backup-1',
      ssh_ping_host: '192.0.2.10',
      ssh_ping_host_keys: [HOST_KEY],
      ssh_ping_port: 2222,
      ssh_ping_user: 'turku-ping',
    };
    const etc = {
      path: '/etc',
      retention: 'last 7 days',
      bwlimit: null,
      filter: [],
      exclude: [],
      shared_service: false,
      large_rotating_files: false,
      large_modifying_files: false,
      snapshot_mode: null,
      preserve_hard_links: false,
      storage: endpoint,
    };
    expect(checkin).toEqual({ machine: { scheduled_sources: { etc } }, scheduled_sources: { etc } });

    // The storage, logged in by the agent's forced command, asks what to pull.
    const storageCheckin = await ok('storage_ping_checkin', { storage: STORAGE, machine: { uuid: UUID } });
    expect(storageCheckin).toEqual({
      machine: {
        uuid: UUID,
        environment_name: 'prod',
        service_name: 'sql',
        unit_name: 'sql/0',
        scheduled_sources: { etc },
      },
    });

    // It reports the snapshot; the source is no longer due.
    const begin = Date.now() / 1000 - 12.5;
    expect(
      await ok('storage_ping_source_update', {
        storage: STORAGE,
        machine: {
          uuid: UUID,
          sources: {
            etc: {
              success: true,
              snapshot: 'etc_20241215-031215_1a2b',
              summary: 'ok\n',
              time_begin: begin,
              time_end: begin + 12.5,
            },
          },
        },
      }),
    ).toEqual({});
    const after = await ok('agent_ping_checkin', { machine: { uuid: UUID, secret: MACHINE_SECRET } });
    expect(after).toEqual({ machine: { scheduled_sources: {} }, scheduled_sources: {} });

    // Restore lists every source, with borg kept because this storage advertised it.
    const restore = (await ok('agent_ping_restore', { machine: { uuid: UUID, secret: MACHINE_SECRET } })) as {
      machine: { sources: Record<string, { snapshot_mode: unknown; preserve_hard_links: unknown }> };
    };
    expect(Object.keys(restore.machine.sources)).toEqual(['etc', 'home']);
    expect(restore.machine.sources.home).toMatchObject({ snapshot_mode: 'borg', preserve_hard_links: true });

    // The operator sees the backup and a healthy fleet.
    const backups = await admin('backups', '--json');
    expect(JSON.parse(backups.stdout)).toEqual([
      expect.objectContaining({
        unit_name: 'sql/0',
        source: 'etc',
        storage: 'backup-1',
        success: true,
        duration_seconds: 12.5,
      }),
    ]);
    const health = await admin('health');
    expect([health.exitCode, health.stdout]).toEqual([0, 'OK 1 storages, 1 machines, 2 sources']);

    // Errors are plain text with the documented statuses.
    expect(await post('agent_ping_checkin', { machine: { uuid: UUID, secret: 'wrong'.repeat(6) } })).toMatchObject({
      status: 403,
      body: 'Bad auth\n',
    });
    const get = await fetch(`${url}/update_config`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  }, 60_000);
});
