import { setActive, triggerBackup, AdminError } from '../admin/commands.js';
import type { ApiContext } from '../context.js';
import { Store } from '../store.js';
import { canonicalUuid } from '../../turku/uuid.js';

/**
 * What the console's buttons do: the admin commands' own functions (`turku-api trigger`,
 * `activate`/`deactivate machine`), and switching one source on or off, which has no command.
 */

export { AdminError };

export async function backUpNow(ctx: ApiContext, machineUuid: string, sourceName: string): Promise<void> {
  await triggerBackup(ctx, machineUuid, sourceName);
}

export async function setMachineActive(ctx: ApiContext, machineUuid: string, active: boolean): Promise<void> {
  await setActive(ctx, 'machine', machineUuid, active);
}

/** An inactive source is left out of check-ins; the agent's update_config never switches it back. */
export async function setSourceActive(
  ctx: ApiContext,
  machineUuid: string,
  sourceName: string,
  active: boolean,
): Promise<void> {
  const uuid = canonicalUuid(machineUuid);
  if (uuid === undefined) throw new AdminError(`"${machineUuid}" is not a machine UUID`);
  await ctx.db.transaction(async (tx) => {
    const store = new Store(tx);
    const machine = await store.machineByUuid(uuid);
    if (machine === undefined) throw new AdminError(`no machine with UUID ${uuid}`);
    const source = (await store.sourcesOfMachine(machine.id)).find((candidate) => candidate.name === sourceName);
    if (source === undefined) throw new AdminError(`machine ${uuid} has no source named "${sourceName}"`);
    await store.update('sources', source.id, { active, date_updated: ctx.now() });
  });
}
