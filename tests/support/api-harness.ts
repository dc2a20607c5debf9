import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createAuth } from '../../lib/api/admin/commands.js';
import { startApi, type RunningApi } from '../../lib/api/app.js';
import { memoryLogger } from '../../lib/api/logger.js';
import { parseSettings } from '../../lib/api/settings.js';
import { createDatabase, startPostgres, type PostgresServer } from './postgres-server.js';

/**
 * A real turku-api on loopback for behaviour tests, on SQLite (a file in a temp directory) or
 * on a throwaway PostgreSQL server (a fresh database per API), with a clock the test moves.
 */

export type Backend = 'sqlite' | 'postgres';
export const BACKENDS: readonly Backend[] = ['sqlite', 'postgres'];

export interface TestApi {
  readonly api: RunningApi;
  readonly url: string;
  readonly log: ReturnType<typeof memoryLogger>;
  /** The API's idea of now; tests move it. */
  clock: Date;
  /** Numbers the API uses for chance (storage choice); Math.random when empty. */
  readonly randoms: number[];
  post(
    view: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; json: () => unknown; contentType: string | null }>;
  close(): Promise<void>;
}

let postgres: Promise<PostgresServer> | undefined;

/** One PostgreSQL server per test file; each API gets its own database on it. */
async function postgresDatabaseUrl(): Promise<string> {
  postgres ??= startPostgres();
  const server = await postgres;
  const name = await createDatabase(server, 'test');
  return server.url.replace(/\/[^/]*$/, `/${name}`);
}

export async function stopPostgres(): Promise<void> {
  if (postgres !== undefined) await (await postgres).stop();
  postgres = undefined;
}

export async function startTestApi(
  backend: Backend,
  extra: Record<string, unknown> = {},
  share?: { readonly databaseUrl?: string; readonly databasePath?: string },
): Promise<TestApi & { readonly databaseUrl?: string; readonly databasePath?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'turku-api-test-'));
  const database =
    backend === 'postgres'
      ? { database_url: share?.databaseUrl ?? (await postgresDatabaseUrl()) }
      : { database_path: share?.databasePath ?? join(dir, 'api.db') };
  const settings = parseSettings({ listen: '127.0.0.1:0', ...database, ...extra });
  const log = memoryLogger();
  const randoms: number[] = [];
  const harness = {
    clock: new Date('2024-12-15T07:00:00Z'),
  };
  const api = await startApi(settings, {
    log,
    now: () => harness.clock,
    random: () => randoms.shift() ?? Math.random(),
  });
  const result: TestApi & { databaseUrl?: string; databasePath?: string } = {
    api,
    url: api.url,
    log,
    get clock() {
      return harness.clock;
    },
    set clock(value: Date) {
      harness.clock = value;
    },
    randoms,
    async post(view, body, headers = {}) {
      const response = await fetch(`${api.url}/${view}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return {
        status: response.status,
        text,
        json: () => JSON.parse(text) as unknown,
        contentType: response.headers.get('content-type'),
      };
    },
    async close() {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if ('database_url' in database) result.databaseUrl = database.database_url;
  else result.databasePath = database.database_path;
  return result;
}

export const STORAGE_HOST_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@primary';

/** Registers the storage `primary` (with `overrides`) through the API's own HTTP endpoint. */
export async function registerStorage(api: TestApi, overrides: Record<string, unknown> = {}): Promise<void> {
  const storageAuth = await createAuth(api.api.ctx, 'storage_reg');
  const response = await api.post('storage_update_config', {
    auth: storageAuth,
    storage: {
      name: 'primary',
      secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4',
      ssh_ping_host: 'primary.example.com',
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
      ssh_ping_host_keys: [STORAGE_HOST_KEY],
      space_total: 1000,
      space_available: 500,
      ...overrides,
    },
  });
  if (response.status !== 200) throw new Error(`storage registration failed: ${response.text}`);
}
