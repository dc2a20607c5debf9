// The `database` relation against a REAL PostgreSQL (tests/support/postgres-server.ts): the leader
// asks for a database, both units serve the shared database with the credentials the provider
// published (in a Juju secret, or in its bag), and the relation not answered yet is waiting.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

import { runCharm } from '../../../lib/charm/index.js';
import { parseCharmMeta } from '../../../lib/charm-pack/charm-meta.js';
import { Context, type RelationState, type State, events } from '../../../lib/charm-testing/scenario.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { createDatabase, startPostgres, type PostgresServer } from '../../../tests/support/postgres-server.js';
import { freePort } from '../../../tests/support/processes.js';
import { turkuApiCharm } from './charm.js';

jest.setTimeout(60_000);

const CHARM_DIR = fileURLToPath(new URL('..', import.meta.url));
const meta = parseCharmMeta(await readFile(`${CHARM_DIR}/charmcraft.yaml`, 'utf8'));
const PG_SECRET_ID = 'd0pg0000000000000001';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server.stop());

const endpoint = () => new URL(server.url).host; // 127.0.0.1:<port>

/** One Context per unit, each on its own machine root. */
const units: { roots: MachineRoots; ctx: Context }[] = [];
async function unit(id: number): Promise<Context> {
  const roots = await new MachineRoots().init();
  const charm = turkuApiCharm(roots.hostFor);
  const ctx = new Context({ meta, unitId: id, executor: { kind: 'in-process', run: (io) => runCharm(charm, io) } });
  units.push({ roots, ctx });
  return ctx;
}
afterEach(async () => {
  for (const { roots } of units.splice(0)) await roots.cleanup();
});

let port: number;
beforeEach(async () => {
  port = await freePort();
});

async function health(at: number): Promise<{ counts: Record<string, number> } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${at}/v1/health`, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as { counts: Record<string, number> };
  } catch {
    return undefined;
  }
}

describe('database relation (postgresql_client)', () => {
  test('with the credentials in a secret, two units serve one shared PostgreSQL database', async () => {
    const name = await createDatabase(server, 'turku_api');
    const database: RelationState = {
      id: 7,
      endpoint: 'database',
      remoteApp: 'postgresql',
      remoteEndpoint: 'database',
      remoteAppData: { endpoints: endpoint(), database: name, 'secret-user': `secret:${PG_SECRET_ID}` },
    };
    const state = (leader: boolean, peer: string): State => ({
      leader,
      config: { port },
      relations: [
        database,
        { endpoint: 'turku-peers', remoteUnits: { [peer]: {} } },
        { id: 3, endpoint: 'agents', remoteApp: 'ubuntu-agent', remoteEndpoint: 'turku-api' },
      ],
      secrets: [
        {
          id: PG_SECRET_ID,
          owner: { app: 'postgresql' },
          revisions: [{ revision: 1, content: { username: 'turku', password: 'p@ss word/1' } }],
        },
      ],
    });

    const leader = await (await unit(0)).run(events.relationChanged(database), state(true, 'turku-api/1'));
    expect(leader.exitCode).toBe(0);
    expect(leader.state.unitStatus).toEqual({
      status: 'active',
      message: `http://10.1.0.10:${port}/v1 (PostgreSQL); 0 machines; no storages related`,
    });
    expect(leader.state.relations!.find((r) => r.endpoint === 'database')!.localAppData).toEqual({
      database: 'turku_api',
      'requested-secrets': '["username","password"]',
    });
    const file = units[0]!.roots.path('0', '/etc/turku-api/config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({
      database_url: `postgresql://turku:p%40ss%20word%2F1@${endpoint()}/${name}`,
    });
    expect(await health(port)).toMatchObject({ counts: { auth: 1 } });

    // The credential is in the shared database, so the second unit (non-leader) knows it too.
    const client = new pg.Client({ connectionString: server.url.replace(/\/[^/]*$/, `/${name}`) });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; active: boolean }>('SELECT name, active FROM auths');
      expect(rows).toEqual([{ name: 'juju agents:3', active: true }]);
    } finally {
      await client.end();
    }
    const secondPort = await freePort();
    const second = await (
      await unit(1)
    ).run(events.configChanged(), {
      ...state(false, 'turku-api/0'),
      config: { port: secondPort },
    });
    expect(second.exitCode).toBe(0);
    expect(second.state.unitStatus?.status).toBe('active');
    expect(second.state.relations!.find((r) => r.endpoint === 'database')!.localAppData ?? {}).toEqual({});
    expect(await health(secondPort)).toMatchObject({ counts: { auth: 1 } });
  });

  test('credentials in the bag work too; an unanswered relation is waiting and nothing serves', async () => {
    const name = await createDatabase(server, 'turku_api');
    const ctx = await unit(0);
    const asked: RelationState = { id: 7, endpoint: 'database', remoteApp: 'postgresql', remoteAppData: {} };
    const waiting = await ctx.run(events.relationJoined(asked, 'postgresql/0'), {
      leader: true,
      config: { port },
      relations: [{ ...asked, remoteUnits: { 'postgresql/0': {} } }],
    });
    expect(waiting.exitCode).toBe(0);
    expect(waiting.state.unitStatus).toEqual({
      status: 'waiting',
      message: 'waiting for the database relation: endpoints',
    });
    expect(waiting.state.relations![0]!.localAppData).toMatchObject({ database: 'turku_api' });
    expect(await health(port)).toBeUndefined();

    const answered = await ctx.run(events.relationChanged(asked), {
      ...waiting.state,
      relations: [
        {
          ...waiting.state.relations![0]!,
          remoteAppData: {
            endpoints: `${endpoint()},10.9.9.9:5432`,
            database: name,
            username: 'turku',
            password: 'pw',
          },
        },
      ],
    });
    expect(answered.exitCode).toBe(0);
    expect(answered.state.unitStatus?.message).toContain('(PostgreSQL)');
    expect(answered.state.ports).toEqual([`${port}/tcp`]);
    expect(await health(port)).toMatchObject({ counts: { auth: 0 } });
  });
});
