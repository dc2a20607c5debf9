import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../tests/support/api-harness.js';
import { tunnelAllowance } from '../turku/tunnel-allowance.js';
import { createAuth, listMachines, reassignMachine, resetTunnelPorts } from './admin/commands.js';
import { MIGRATIONS, migrate } from './db/migrations.js';
import { openSqlite } from './db/sqlite.js';
import { Store } from './store.js';

/**
 * [NEW] Tunnel port allowances through real HTTP on both backends: assigned when our agent asks,
 * latched, apart from the storage's other machines, sent to the storage and in the agent's
 * descriptors, redrawn on a move and cleared only by the operator.
 */

const A = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const B = '1c7e2f40-8d1b-4c5e-9a3f-2b6d8e0f1a23';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE_SECRET = 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4';

afterAll(stopPostgres);

describe.each(BACKENDS)('tunnel port allowances on %s', (backend) => {
  let t: TestApi;
  let machineAuth: { name: string; secret: string };
  let storageAuth: { name: string; secret: string };

  beforeEach(async () => {
    t = await startTestApi(backend);
    machineAuth = await createAuth(t.api.ctx, 'machine_reg');
    storageAuth = await createAuth(t.api.ctx, 'storage_reg');
    await registerStorage('primary');
  }, 30_000);
  afterEach(() => t.close());

  const storageBody = (name: string) => ({
    name,
    secret: STORAGE_SECRET,
    ssh_ping_host: `${name}.example.com`,
    ssh_ping_port: 22,
    ssh_ping_user: 'turku-ping',
    space_total: 1000,
    space_available: 500,
  });
  async function registerStorage(name: string): Promise<void> {
    expect((await t.post('storage_update_config', { auth: storageAuth, storage: storageBody(name) })).status).toBe(200);
  }
  async function updateConfig(uuid: string, extra: Record<string, unknown>): Promise<void> {
    const response = await t.post('update_config', {
      auth: machineAuth,
      machine: { uuid, secret: SECRET, unit_name: `m-${uuid.slice(0, 4)}`, ssh_public_key: KEY, ...extra },
    });
    expect([response.status, response.text]).toEqual([200, '{}']);
  }
  async function machinesOnStorage(name = 'primary'): Promise<Record<string, Record<string, unknown>>> {
    const response = await t.post('storage_update_config', { storage: storageBody(name) });
    expect(response.status).toBe(200);
    return (response.json() as { machines: Record<string, Record<string, unknown>> }).machines;
  }
  async function portsOf(uuid: string): Promise<number[] | null | undefined> {
    return t.api.ctx.db.transaction(async (tx) => (await new Store(tx).machineByUuid(uuid))?.tunnel_ports);
  }
  async function descriptorStorage(view: 'agent_ping_checkin' | 'agent_ping_restore', uuid: string) {
    const response = await t.post(view, { machine: { uuid, secret: SECRET } });
    expect(response.status).toBe(200);
    const machine = (response.json() as { machine: Record<string, Record<string, { storage: object }>> }).machine;
    const sources = view === 'agent_ping_checkin' ? machine.scheduled_sources! : machine.sources!;
    return sources.etc!.storage as Record<string, unknown>;
  }

  it('an original agent (no key) gets none: no column value, no key to the storage or the agent', async () => {
    await updateConfig(A, { sources: { etc: { path: '/etc' } } });
    expect(await portsOf(A)).toBeNull();
    expect(Object.keys((await machinesOnStorage())[A]!)).not.toContain('tunnel_ports');
    expect(Object.keys(await descriptorStorage('agent_ping_restore', A))).not.toContain('tunnel_ports');
  });

  it('our agent gets four ports when it asks, sent to its storage and in its descriptors', async () => {
    await updateConfig(A, { tunnel_allowance: true, sources: { etc: { path: '/etc' } } });
    const ports = await portsOf(A);
    expect(ports).toEqual(tunnelAllowance(A));
    expect((await machinesOnStorage())[A]).toMatchObject({ tunnel_ports: ports });
    expect(await descriptorStorage('agent_ping_restore', A)).toMatchObject({ name: 'primary', tunnel_ports: ports });
    t.clock = new Date(t.clock.getTime() + 3 * 86_400_000);
    expect(await descriptorStorage('agent_ping_checkin', A)).toMatchObject({ tunnel_ports: ports });
    expect((await listMachines(t.api.ctx))[0]).toMatchObject({ uuid: A, tunnel_ports: ports!.join(',') });
    expect(t.log.lines.join('\n')).toContain(`machine ${A} (m-9bef) gets the tunnel ports ${ports!.join(', ')}`);
  });

  it('the allowance is latched: a request without the key (or with false) keeps it', async () => {
    await updateConfig(A, { tunnel_allowance: true });
    const ports = await portsOf(A);
    await updateConfig(A, {});
    await updateConfig(A, { tunnel_allowance: false });
    expect(await portsOf(A)).toEqual(ports);
    expect((await machinesOnStorage())[A]).toMatchObject({ tunnel_ports: ports });
  });

  it('a machine never gets ports another machine of its storage holds, whatever its UUID', async () => {
    await updateConfig(A, { tunnel_allowance: true });
    await updateConfig(B, { tunnel_allowance: true });
    const a = (await portsOf(A))!;
    const b = (await portsOf(B))!;
    expect(b.some((port) => a.includes(port))).toBe(false);
  });

  it('a move to another storage draws ports free there; the operator can clear an allowance', async () => {
    await registerStorage('second');
    await updateConfig(A, { tunnel_allowance: true });
    await updateConfig(B, { tunnel_allowance: true });
    const b = (await portsOf(B))!;
    // A moves to B's storage (whichever that is) and must not land on B's ports.
    const storageOfB = Object.hasOwn(await machinesOnStorage('primary'), B) ? 'primary' : 'second';
    await reassignMachine(t.api.ctx, A, storageOfB);
    const moved = (await portsOf(A))!;
    expect(moved).toHaveLength(4);
    expect(moved.some((port) => b.includes(port))).toBe(false);

    expect(await resetTunnelPorts(t.api.ctx, A)).toEqual(moved);
    expect(await portsOf(A)).toBeNull();
    expect(Object.keys((await machinesOnStorage(storageOfB))[A]!)).not.toContain('tunnel_ports');
    expect(await resetTunnelPorts(t.api.ctx, A)).toBeNull();
    // An agent of ours asking again gets an allowance again.
    await updateConfig(A, { tunnel_allowance: true });
    expect(await portsOf(A)).toHaveLength(4);
  });

  it('a malformed flag is refused like any other bad machine option, and changes nothing', async () => {
    await updateConfig(A, {});
    const response = await t.post('update_config', {
      machine: { uuid: A, secret: SECRET, tunnel_allowance: 'please' },
    });
    expect(response.status).toBe(400);
    expect(await portsOf(A)).toBeNull();
  });
});

it('a database of the first schema gains the column, NULL for the machines it has', async () => {
  const db = openSqlite(':memory:');
  try {
    await db.transaction(async (tx) => {
      for (const statement of MIGRATIONS[0]!.statements) await tx.run(statement);
      await tx.run('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)');
      await tx.run(`INSERT INTO storages (id, name, secret_hash, ssh_ping_host, ssh_ping_port, ssh_ping_user,
        date_registered, date_updated) VALUES ('s', 'primary', 'x', 'h', 22, 'u', 0, 0)`);
      await tx.run(`INSERT INTO machines (id, uuid, secret_hash, unit_name, ssh_public_key, storage_id,
        date_registered, date_updated) VALUES ('m', '${A}', 'x', 'web/0', 'k', 's', 0, 0)`);
    });
    expect(await migrate(db)).toEqual([2, 3, 4, 5, 6]);
    const machine = await db.transaction((tx) => new Store(tx).machineByUuid(A));
    expect(machine?.tunnel_ports).toBeNull();
  } finally {
    await db.close();
  }
});
