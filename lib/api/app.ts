import type { Server } from 'node:http';

import { contextFromSettings, type ApiContext } from './context.js';
import type { Database } from './db/database.js';
import { migrate } from './db/migrations.js';
import { openPostgres } from './db/postgres.js';
import { openSqlite } from './db/sqlite.js';
import { createApiServer, listen } from './http.js';
import type { Logger } from '../common/logger.js';
import { createLogger } from './logger.js';
import type { ApiSettings } from './settings.js';

/** Wiring: settings → database (migrated) → context → HTTP server. */

/** `serving`: for the API server, which runs SQLite's WAL checkpoints in a worker thread. */
export async function openDatabase(
  settings: ApiSettings,
  options: { readonly serving?: boolean } = {},
): Promise<Database> {
  const db =
    settings.database_url !== undefined
      ? openPostgres(settings.database_url, { poolSize: settings.database_pool_size })
      : openSqlite(settings.database_path, { backgroundCheckpoints: options.serving === true });
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

export interface RunningApi {
  readonly server: Server;
  readonly ctx: ApiContext;
  /** `http(s)://host:port/v1`, with the port actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startApi(
  settings: ApiSettings,
  options: { readonly log?: Logger; readonly now?: () => Date; readonly random?: () => number } = {},
): Promise<RunningApi> {
  const log = options.log ?? createLogger(settings.log_level);
  const db = await openDatabase(settings, { serving: true });
  const overrides = {
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.random === undefined ? {} : { random: options.random }),
  };
  const ctx = contextFromSettings(db, settings, log, overrides);
  const tls =
    settings.tls_cert !== undefined && settings.tls_key !== undefined
      ? { cert: settings.tls_cert, key: settings.tls_key }
      : undefined;
  const server = await createApiServer(ctx, {
    maxBodyBytes: settings.max_body_bytes,
    tls,
    console: settings.console ? { sessionLifetimeMs: settings.console_session_hours * 3_600_000 } : undefined,
  });
  let address;
  try {
    address = await listen(server, settings.listen.host, settings.listen.port);
  } catch (error) {
    await db.close();
    throw error;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${tls === undefined ? 'http' : 'https'}://${host}:${address.port}/v1`;
  log.info(`turku-api listening on ${url} (${db.dialect})`);
  let closing: Promise<void> | undefined;
  return {
    server,
    ctx,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }).then(() => db.close());
      return closing;
    },
  };
}
