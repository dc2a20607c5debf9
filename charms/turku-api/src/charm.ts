// The turku-api charm: runs `turku-api serve` (SQLite on the unit, or PostgreSQL from the
// `database` relation), and as leader shares one registration credential per `agents` and
// `storages` relation as a Juju secret. One holistic reconcile for every hook; actions run the
// real `turku-api` admin commands (actions.ts).
import { readFile } from 'node:fs/promises';

import { type HookContext, type HookTools, type JujuCommon, defineCharm } from '../../../lib/charm/index.js';
import { type Host, installPrograms } from '../../../lib/charm-host/index.js';
import { turkuApiActions } from './actions.js';
import type { ApiProgram } from './api-program.js';
import { type Database, SQLITE_FILE, apiSettingsFile, publishedApiUrl } from './config-files.js';
import { consoleAdminCredential } from './console-admin.js';
import { type DatabaseAnswer, readDatabase } from './database.js';
import {
  PEERS_ENDPOINT,
  peerRegistrations,
  publishRegistrations,
  registrationRelations,
  staleRegistrations,
  writePeerSecretIds,
} from './registrations.js';
import { publishObservability } from './observability.js';
import { ApiCharmConfig } from './schemas.js';
import { apiHealth, logFileHint, openOnly, serveApi, stopServing } from './service.js';
import { readStorageUnits, storagesStatus } from './storages.js';

export { ACTION_PARAMS, ApiCharmConfig } from './schemas.js';

/** Where this unit's API data lives, or why it must not serve. Pure. */
export type ServingPlan =
  | { readonly serve: Database; readonly blocked?: string }
  | { readonly serve: undefined; readonly blocked?: string; readonly waiting?: string };

export function servingPlan(input: {
  readonly database: DatabaseAnswer | undefined;
  readonly units: number;
  readonly leader: boolean;
  readonly sqlitePath: string;
}): ServingPlan {
  const { database, units, leader } = input;
  if (database === undefined) {
    if (units <= 1) return { serve: { kind: 'sqlite', path: input.sqlitePath } };
    const blocked = `${units} units need a shared database: integrate with postgresql (database endpoint)`;
    // Only the leader keeps serving its SQLite data: two units would each register machines in
    // their own database, and agents would see different APIs behind one address.
    return leader
      ? { serve: { kind: 'sqlite', path: input.sqlitePath }, blocked }
      : { serve: undefined, blocked: `${blocked}; this unit does not serve until then` };
  }
  if (!database.ready) return { serve: undefined, waiting: `waiting for the database relation: ${database.missing}` };
  return { serve: { kind: 'postgresql', url: database.url } };
}

/** Units of this application: the peers that joined, or what Juju plans, whichever is more. */
async function unitCount(tools: HookTools, self: string): Promise<number> {
  const [peers] = await tools.relationIds(PEERS_ENDPOINT);
  const joined = peers === undefined ? 1 : (await tools.relationList(peers)).length + 1;
  const goal = await tools.goalState();
  const app = self.split('/')[0]!;
  const planned = Object.entries(goal.units).filter(
    ([unit, { status }]) => unit.split('/')[0] === app && status !== 'dying' && status !== 'dead',
  ).length;
  return Math.max(joined, planned);
}

/** The `/v1` URL for agents and storages (network-get only when no external-url is set). */
async function apiUrl(ctx: HookContext<ApiCharmConfig>, config: ApiCharmConfig): Promise<string> {
  if (config['external-url'] !== '') return config['external-url'];
  const network = await ctx.tools.networkGet('agents');
  const address = network['ingress-addresses'][0];
  if (address === undefined) throw new Error('network-get agents: no ingress address');
  return publishedApiUrl(config, address);
}

/**
 * Leader: credentials for every agents/storages relation (secret, grant, app bag; new ones only
 * when `createNew`), each ensured in the database; secrets of removed relations deleted and their
 * Auths deactivated; the peer list.
 */
async function shareRegistrations(
  ctx: HookContext<ApiCharmConfig>,
  program: ApiProgram,
  url: string,
  createNew: boolean,
): Promise<void> {
  const { tools, juju } = ctx;
  const broken = juju.hookName.endsWith('-relation-broken') ? juju.relation?.name : undefined;
  const relations = await registrationRelations(tools, broken);
  const registrations = await publishRegistrations(tools, relations, url, createNew);
  for (const { credential } of registrations) {
    await program.ensureAuth(credential['auth-type'], credential['auth-name'], credential['auth-secret']);
  }
  for (const stale of await staleRegistrations(tools, relations)) {
    await tools.secretRemove(stale.secretId);
    await program.deactivateAuth(stale.authName);
    await ctx.log.info(`removed the registration credential of ${stale.relation}`);
  }
  await writePeerSecretIds(
    tools,
    juju.app,
    registrations.map((registration) => registration.secretId),
  );
  // The console admin, once get-admin-credential has created it: kept in the database in use.
  const admin = await consoleAdminCredential(tools, false);
  if (admin !== undefined) await program.ensureAdmin(admin.name, admin.secret);
}

export function turkuApiCharm(hostFor: (juju: JujuCommon) => Host) {
  return defineCharm({
    config: ApiCharmConfig,
    actions: turkuApiActions(hostFor),
    async reconcile(ctx) {
      const host = hostFor(ctx.juju);
      const { tools } = ctx;
      if (ctx.juju.hookName === 'stop' || ctx.juju.hookName === 'remove') {
        // The unit is going away (docs/charm-runtime.md, "Which hook runs next": stop runs only
        // once its relations are broken).
        await stopServing(host);
        ctx.status.maintenance('stopped: the unit is being removed');
        return;
      }
      const config = await ctx.config();
      await installPrograms(host, ['turku-api']);
      const leader = await tools.isLeader();

      const plan = servingPlan({
        database: await readDatabase(tools, { app: ctx.juju.app, leader }),
        units: await unitCount(tools, ctx.juju.unit),
        leader,
        sqlitePath: host.path(SQLITE_FILE),
      });
      if (plan.blocked !== undefined) ctx.status.blocked(plan.blocked);
      if (plan.serve === undefined) {
        await stopServing(host);
        await openOnly(tools, undefined);
        if ('waiting' in plan && plan.waiting !== undefined) ctx.status.waiting(plan.waiting);
        return;
      }

      const settings = apiSettingsFile(config, plan.serve);
      const program = await serveApi(host, settings, async (fresh) => {
        for (const credential of await peerRegistrations(tools, ctx.juju.app)) {
          await fresh.ensureAuth(credential['auth-type'], credential['auth-name'], credential['auth-secret']);
        }
      });
      await openOnly(tools, config.port);
      await publishObservability(tools, ctx.juju, { port: config.port, leader });

      const url = await apiUrl(ctx, config);
      // A leader serving SQLite only until a shared database comes (more units planned) hands out
      // no new credentials: whatever registered now would be left behind in SQLite at the switch.
      if (leader) await shareRegistrations(ctx, program, url, plan.blocked === undefined);
      else {
        // The leader ensured them in the shared database already; again here costs little and
        // covers a database related after the leader's last hook.
        for (const credential of await peerRegistrations(tools, ctx.juju.app)) {
          await program.ensureAuth(credential['auth-type'], credential['auth-name'], credential['auth-secret']);
        }
      }

      const health = await apiHealth(config.port);
      if (health === undefined) {
        const log = await readFile(logFileHint(host), 'utf8').catch(() => '');
        const last = log.trim().split('\n').pop() ?? '';
        ctx.status.blocked(`the API does not answer on port ${config.port}${last === '' ? '' : `: ${last}`}`);
        return;
      }
      const machines = health.counts['machine'] ?? 0;
      const db = plan.serve.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
      ctx.status.active(`${url} (${db}); ${machines} machines; ${storagesStatus(await readStorageUnits(tools))}`);
    },
  });
}
