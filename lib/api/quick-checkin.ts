import type { SourceDescriptor } from '../turku/protocol/index.js';
import { BoundedMemo } from './bounded-memo.js';
import { memoryBudgetBytes, type ApiContext } from './context.js';
import { toStringList, type Database, type Queryable, type Row } from './db/database.js';
import { describeSources, describeSourcesOn, type StorageOfDescriptor } from './descriptors.js';
import { machineCredentials, type MachineCredentials } from './login.js';
import { sourceFromRow, toPortList, type MachineRecord } from './records.js';
import { NO_RECORD_HASH, verifySecretFast } from './secrets.js';
import { Store } from './store.js';

/**
 * The agent check-in of a machine seen before (docs/api.md, "agent_ping_checkin"): in one statement
 * where the database is a round trip away (PostgreSQL), in one update and one read of the due
 * sources on SQLite (instead of a read of the machine, a read of its sources and an update). The
 * API remembers, per machine, the stored secret hash its last
 * successful login was verified against. A check-in whose secret matches that hash runs one
 * statement that updates the machine's check-in time only if its row still holds that very hash
 * and may still log in (active, published), and returns its due sources with its storage. A
 * rotated secret, or a machine deactivated, unpublished or deleted since, matches no row: the
 * check-in then takes the ordinary path, which reads the record and verifies again. Nothing is
 * accepted that the ordinary path would refuse.
 *
 * Timing: every check-in offering a strong secret pays one HMAC here, against the remembered hash
 * or a dummy one, whether the machine is known or not, before any failure goes the ordinary way.
 */

/**
 * What one remembered login costs, estimated: the UUID and the hash as V8 strings (about 60 and
 * 100 bytes) and the map's entry. Half of `cache_memory_mb` (64 MiB by default) holds about 170,000.
 */
export const REMEMBERED_LOGIN_BYTES = 200;

/** Per database (the hashes are its rows'), within the budget of the first context that asks. */
const remembered = new WeakMap<Database, BoundedMemo<string, string>>();

function memoryOf(ctx: Pick<ApiContext, 'db' | 'cacheMemoryBytes'>): BoundedMemo<string, string> {
  let memory = remembered.get(ctx.db);
  if (memory === undefined) remembered.set(ctx.db, (memory = new BoundedMemo(memoryBudgetBytes(ctx))));
  return memory;
}

/** After a successful ordinary login or update_config: the hash this machine's secret was verified against. */
export function rememberLogin(
  ctx: Pick<ApiContext, 'db' | 'cacheMemoryBytes'>,
  machine: Pick<MachineRecord, 'uuid' | 'secret_hash'>,
): void {
  memoryOf(ctx).set(machine.uuid, machine.secret_hash, REMEMBERED_LOGIN_BYTES);
}

const STORAGE_COLUMNS = [
  'name',
  'ssh_ping_host',
  'ssh_ping_host_keys',
  'ssh_ping_port',
  'ssh_ping_user',
  'snapshot_modes',
] as const;

/**
 * One row per due source (in name order), or one row without a source when none is due; no row
 * when the machine's record no longer matches. Sources are read after the update, as the ordinary
 * check-in reads them before it: the update changes no source.
 */
const CHECKIN = `WITH machine AS (
    UPDATE machines SET date_checked_in = $3
    WHERE uuid = $1 AND secret_hash = $2 AND active AND published
    RETURNING storage_id, tunnel_ports, id AS checkin_machine_id
  )
  SELECT sources.*, machine.checkin_machine_id, machine.storage_id AS checkin_storage_id,
    machine.tunnel_ports AS checkin_tunnel_ports, storages.id AS checkin_storage_found,
    ${STORAGE_COLUMNS.map((column) => `storages.${column} AS checkin_storage_${column}`).join(', ')}
  FROM machine
  LEFT JOIN sources ON sources.machine_id = machine.checkin_machine_id
    AND sources.active AND sources.published AND sources.date_next_backup <= $3
  LEFT JOIN storages ON storages.id = machine.storage_id
  ORDER BY sources.name`;

/** The due sources, when the one-statement check-in could answer; undefined: take the ordinary path. */
export async function quickCheckin(
  ctx: ApiContext,
  sent: MachineCredentials,
): Promise<Record<string, SourceDescriptor> | undefined> {
  const { db } = ctx;
  const { uuid, secret } = machineCredentials(sent);
  if (uuid === undefined || secret === undefined) return undefined;
  const memory = memoryOf(ctx);
  const hash = memory.get(uuid);
  const verification = verifySecretFast(secret, hash ?? NO_RECORD_HASH);
  if (hash === undefined || verification?.ok !== true || verification.rehash) return undefined;
  const now = ctx.now();
  if (db.statement === undefined) {
    const scheduled = await db.transaction((tx) => checkinInTransaction(ctx, tx, uuid, hash, now));
    if (scheduled === undefined) memory.delete(uuid);
    return scheduled;
  }
  const rows = await db.statement<Row>('turku_agent_checkin', CHECKIN, [uuid, hash, now.getTime()]);
  const first = rows[0];
  if (first === undefined) {
    memory.delete(uuid);
    return undefined;
  }
  const machine = {
    uuid,
    storage_id: String(first.checkin_storage_id),
    tunnel_ports: toPortList(first.checkin_tunnel_ports),
  };
  const due = rows.filter((row) => row.id !== null && row.id !== undefined).map(sourceFromRow);
  // FilterSets are read only for a source that refers to one, as on the ordinary path.
  const activeFilterSets = () => db.transaction((tx) => new Store(tx).activeFilterSets());
  return describeSourcesOn(storageOf(first), machine, due, activeFilterSets, ctx.log);
}

/** The machine's check-in time, when its row still holds `hash` and may log in; RETURNING what the descriptors need. */
const TOUCH_MACHINE = `UPDATE machines SET date_checked_in = $1
  WHERE uuid = $2 AND secret_hash = $3 AND active AND published
  RETURNING id, storage_id, tunnel_ports`;

/** SQLite: the update, then the due sources (and the storage only when one is due), as the ordinary path reads them. */
async function checkinInTransaction(
  ctx: ApiContext,
  tx: Queryable,
  uuid: string,
  hash: string,
  now: Date,
): Promise<Record<string, SourceDescriptor> | undefined> {
  const row = await tx.get(TOUCH_MACHINE, [now.getTime(), uuid, hash]);
  if (row === undefined) return undefined;
  const machine = { uuid, storage_id: String(row.storage_id), tunnel_ports: toPortList(row.tunnel_ports) };
  const store = new Store(tx);
  return describeSources(store, machine, await store.dueSources(String(row.id), now), ctx.log);
}

function storageOf(row: Row): StorageOfDescriptor | undefined {
  if (row.checkin_storage_found === null || row.checkin_storage_found === undefined) return undefined;
  const modes = row.checkin_storage_snapshot_modes;
  return {
    name: String(row.checkin_storage_name),
    ssh_ping_host: String(row.checkin_storage_ssh_ping_host),
    ssh_ping_host_keys: toStringList(row.checkin_storage_ssh_ping_host_keys),
    ssh_ping_port: Number(row.checkin_storage_ssh_ping_port),
    ssh_ping_user: String(row.checkin_storage_ssh_ping_user),
    snapshot_modes: modes === null ? null : toStringList(modes),
  };
}
