import { tunnelAllowance } from '../turku/tunnel-allowance.js';
import type { Logger } from '../common/logger.js';
import type { MachineRecord } from './records.js';
import type { Store } from './store.js';

/**
 * [NEW] Machines' tunnel port allowances (docs/datapath.md, "Tunnel ports"). An allowance is
 * assigned the first time a machine's agent asks for one and then latched: a later request
 * without the key keeps it, or a stolen key could ask its storage for the wide line again. Only
 * the operator clears it (`turku-api tunnel-reset`). Ports are chosen apart from those of the
 * storage's other machines, so no machine's key can hold another's tunnel ports.
 */

/** Assigns the machine an allowance if its agent asks and it has none; the ports it has after. */
export async function latchTunnelAllowance(
  store: Store,
  machine: MachineRecord,
  asked: boolean | undefined,
  now: Date,
  log: Logger,
): Promise<number[] | null> {
  if (machine.tunnel_ports !== null || asked !== true) return machine.tunnel_ports;
  const ports = await allowanceOnStorage(store, machine, machine.storage_id);
  await store.update('machines', machine.id, { tunnel_ports: ports, date_updated: now });
  log.info(`machine ${machine.uuid} (${machine.unit_name}) gets the tunnel ports ${ports.join(', ')}`);
  return ports;
}

/** A machine moving to another storage gets ports free there, if it has an allowance at all. */
export async function tunnelPortsAfterMove(
  store: Store,
  machine: MachineRecord,
  storageId: string,
): Promise<{ tunnel_ports: number[] } | Record<string, never>> {
  if (machine.tunnel_ports === null) return {};
  return { tunnel_ports: await allowanceOnStorage(store, machine, storageId) };
}

async function allowanceOnStorage(store: Store, machine: MachineRecord, storageId: string): Promise<number[]> {
  return tunnelAllowance(machine.uuid, await store.tunnelPortsOnStorage(storageId, machine.id));
}
