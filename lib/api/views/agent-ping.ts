import type { MachineLogin, SourceDescriptor } from '../../turku/protocol/index.js';
import type { ApiContext } from '../context.js';
import { checkIn, describeSources } from '../descriptors.js';
import { loginMachine } from '../login.js';
import { quickCheckin, rememberLogin } from '../quick-checkin.js';
import { secretTransaction } from '../secret-checks.js';

/**
 * `agent_ping_checkin` (docs/api.md, "agent_ping_checkin"), the hot path every machine calls every
 *   five minutes: one indexed machine lookup, a fast hash check, the due sources, one update (for a
 *   machine seen before, one update and one read on SQLite and one statement on PostgreSQL:
 *   quick-checkin.ts). The login is the whole
 *   request, so there is nothing more to validate once it succeeds.
 */
export async function agentPingCheckin(
  ctx: ApiContext,
  login: MachineLogin,
): Promise<{
  machine: { scheduled_sources: Record<string, SourceDescriptor> };
  scheduled_sources: Record<string, SourceDescriptor>;
}> {
  let scheduled = await quickCheckin(ctx, login.machine);
  if (scheduled === undefined) {
    const { machine, due } = await secretTransaction(ctx.db, async (store, checks) => {
      const now = ctx.now();
      const machine = await loginMachine(store, checks, login.machine);
      return { machine, due: await checkIn(store, machine, now, ctx.log) };
    });
    rememberLogin(ctx, machine);
    scheduled = due;
  }
  // Pre-2020 agents read the top-level duplicate and quit without it.
  return { machine: { scheduled_sources: scheduled }, scheduled_sources: scheduled };
}

/**
 * `agent_ping_restore` (docs/api.md, "agent_ping_restore"): every active source, published or not,
 * due or not.
 */
export async function agentPingRestore(
  ctx: ApiContext,
  login: MachineLogin,
): Promise<{ machine: { sources: Record<string, SourceDescriptor> } }> {
  return secretTransaction(ctx.db, async (store, checks) => {
    const machine = await loginMachine(store, checks, login.machine);
    const sources = (await store.sourcesOfMachine(machine.id)).filter((source) => source.active);
    return { machine: { sources: await describeSources(store, machine, sources, ctx.log) } };
  });
}
