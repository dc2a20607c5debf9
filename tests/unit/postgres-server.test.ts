import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import pg from 'pg';
import { findPostgresBin, startPostgres, type PostgresServer } from '../support/postgres-server.js';

const TIMEOUT_MS = 60_000;

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The error code of a TCP connection attempt to 127.0.0.1:port, or undefined if it connected. */
function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

test('findPostgresBin finds the server binaries (install the Debian postgresql package if not)', () => {
  expect(findPostgresBin()).toMatch(/^\/usr\/lib\/postgresql\/\d+(\.\d+)*\/bin$/);
});

test(
  'two throwaway servers run side by side, then stop without a trace',
  async () => {
    const started = await Promise.allSettled([startPostgres(), startPostgres({ settings: { work_mem: '8MB' } })]);
    const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      for (const result of started) if (result.status === 'rejected') throw result.reason;
      const [first, second] = servers as [PostgresServer, PostgresServer];

      const ports = servers.map((server) => {
        expect(server.url).toMatch(/^postgres:\/\/turku@127\.0\.0\.1:\d+\/turku$/);
        return Number(new URL(server.url).port);
      });
      expect(new Set(ports).size).toBe(2);

      const dataDirs = await Promise.all(
        servers.map((server) =>
          withClient(server.url, async (client) => {
            const { rows } = await client.query<{ version: string; user: string; database: string }>(
              'select version() as version, current_user as user, current_database() as database',
            );
            expect(rows[0]?.version).toContain('PostgreSQL');
            expect(rows[0]?.user).toBe('turku');
            expect(rows[0]?.database).toBe('turku');

            await client.query('create table things (id int primary key, name text not null)');
            await client.query('insert into things values ($1, $2), ($3, $4)', [1, 'één', 2, 'two']);
            const things = await client.query('select id, name from things order by id');
            expect(things.rows).toEqual([
              { id: 1, name: 'één' },
              { id: 2, name: 'two' },
            ]);

            const dataDir = await client.query<{ data_directory: string }>('show data_directory');
            return dataDir.rows[0]?.data_directory ?? '';
          }),
        ),
      );
      expect(new Set(dataDirs).size).toBe(2);
      for (const dataDir of dataDirs) expect(existsSync(dataDir)).toBe(true);

      const workMem = async (server: PostgresServer) =>
        withClient(server.url, async (client) => (await client.query<{ work_mem: string }>('show work_mem')).rows[0]);
      expect(await workMem(first)).toEqual({ work_mem: '4MB' });
      expect(await workMem(second)).toEqual({ work_mem: '8MB' });

      await Promise.all(servers.map((server) => server.stop()));
      await Promise.all(servers.map((server) => server.stop())); // idempotent

      for (const dataDir of dataDirs) {
        expect(existsSync(dataDir)).toBe(false);
        expect(existsSync(dirname(dataDir))).toBe(false);
      }
      for (const port of ports) expect(await connectError(port)).toBe('ECONNREFUSED');
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  },
  TIMEOUT_MS,
);

test(
  'a server that cannot start fails with its own error message',
  async () => {
    await expect(startPostgres({ settings: { no_such_setting: 'on' } })).rejects.toThrow(
      /unrecognized configuration parameter "no_such_setting"/,
    );
    await expect(startPostgres({ settings: { 'bad name': 'on' } })).rejects.toThrow(/Not a PostgreSQL setting name/);
  },
  TIMEOUT_MS,
);
