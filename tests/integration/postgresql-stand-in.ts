// Charmhub's postgresql charm on the local substrate: a real PostgreSQL server on this host,
// reachable from the machines at the bridge's gateway address, and a stand-in charm that answers
// the `database` relation (interface postgresql_client) as the data-platform charms do: a role
// and a database for the requirer, and `endpoints`, `username`, `password`, `database` in its
// application bag.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

import { defineCharm, runCharm } from '../../lib/charm/index.js';
import { parseCharmMeta } from '../../lib/charm-pack/charm-meta.js';
import type { SimCharm } from '../../lib/charm-testing/simulator.js';
import type { StandInContext } from '../../lib/substrate/local/driver.js';
import { type PostgresServer, startPostgres } from '../support/postgres-server.js';

const META = `name: postgresql
summary: PostgreSQL (local substrate stand-in)
description: Answers postgresql_client requests with a role and a database on a real server.
provides:
  database:
    interface: postgresql_client
`;

/** A server listening on loopback and on `gateway`, with passwords required from the bridge. */
export async function startBridgePostgres(gateway: string, dir: string): Promise<PostgresServer> {
  const hba = join(dir, 'pg_hba.conf');
  await writeFile(
    hba,
    ['local all all trust', 'host all all 127.0.0.1/32 trust', `host all all ${gateway}/24 scram-sha-256`, ''].join(
      '\n',
    ),
    { mode: 0o644 },
  );
  return startPostgres({ settings: { listen_addresses: `127.0.0.1,${gateway}`, hba_file: hba } });
}

export function postgresqlStandIn(server: PostgresServer, context: StandInContext): SimCharm {
  const port = new URL(server.url).port;
  const definition = defineCharm({
    async reconcile(ctx) {
      ctx.status.active('');
      if (!(await ctx.tools.isLeader())) return;
      for (const relation of await ctx.tools.relationIds('database')) {
        const remote = await ctx.tools.relationRemoteApp(relation).catch(() => '');
        if (remote === '') continue;
        const wanted = (await ctx.tools.relationGet(relation, remote, { app: true }))['database'];
        const own = await ctx.tools.relationGet(relation, ctx.juju.app, { app: true });
        if (wanted === undefined || !/^[a-z_][a-z0-9_]*$/.test(wanted) || own['database'] === wanted) continue;
        const username = `relation_${relation.replace(/\D/g, '')}`;
        const password = randomBytes(18).toString('base64url');
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        try {
          await client.query(`CREATE ROLE ${username} LOGIN PASSWORD '${password}'`);
          await client.query(`CREATE DATABASE ${wanted} OWNER ${username}`);
        } finally {
          await client.end();
        }
        await ctx.tools.relationSet(
          relation,
          { endpoints: `${context.gateway}:${port}`, username, password, database: wanted },
          { app: true },
        );
      }
    },
  });
  return { meta: parseCharmMeta(META), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}
