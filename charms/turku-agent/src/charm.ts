// turku-agent: a subordinate that runs the Turku agent beside any principal. Every hook:
// packages and programs, the API to register with, the principals' sources in sources.d, the
// charm's config.d file, turku-update-config when its inputs changed, the timers, the status.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type HookContext, type JujuCommon, defineCharm } from '../../../lib/charm/index.js';
import {
  type Host,
  ensurePackages,
  installPrograms,
  installTimers,
  removeTimers,
} from '../../../lib/charm-host/index.js';
import { writeFileAtomic } from '../../../lib/common/atomic-write.js';
import { listSources, restore, restoreSession } from './actions.js';
import { runQueryAction } from './query-actions.js';
import { UPDATE_CONFIG_KEY, mergedSources, runUpdateConfig, updateConfigInputs } from './agent-workload.js';
import { resolveApi } from './api-source.js';
import { lastBackupText, readRecords } from './last-backup.js';
import {
  JUJU_CONFIG_FILE,
  MACHINE_PATHS,
  type Principal,
  apiHost,
  jujuConfigText,
  principalOf,
} from './config-files.js';
import {
  configSchema,
  findParams,
  listFilesParams,
  listSnapshotsParams,
  listSourcesParams,
  restoreParams,
  restoreSessionParams,
  type AgentCharmConfig,
} from './schemas.js';
import { WRITTEN_KEY, applySources, parseWritten, planSources, readPrincipalSources } from './sources.js';

export const PACKAGES = ['rsync', 'openssh-client'];
export const PROGRAMS = ['turku-update-config', 'turku-agent-ping', 'turku-timers'] as const;
/** state-set key: the timers were installed for this config dir and workload. */
const TIMERS_KEY = 'timers';

/** JUJU_PRINCIPAL_UNIT, else the one unit on juju-info (container scope shows only ours). */
async function principal(ctx: HookContext<AgentCharmConfig>): Promise<Principal | undefined> {
  const fromEnv = principalOf(ctx.juju.principalUnit);
  if (fromEnv !== undefined) return fromEnv;
  for (const relation of await ctx.tools.relationIds('juju-info')) {
    const [unit] = await ctx.tools.relationList(relation);
    if (unit !== undefined) return principalOf(unit);
  }
  return undefined;
}

/** Writes the principals' sources.d files; returns the blocked messages of principals with bad data. */
async function syncSources(ctx: HookContext<AgentCharmConfig>, sourcesDir: string): Promise<string[]> {
  const stored = await ctx.tools.stateGet();
  const principals = await readPrincipalSources(ctx.tools);
  const plan = planSources(principals, parseWritten(stored[WRITTEN_KEY]));
  await applySources(sourcesDir, plan);
  const written = JSON.stringify(plan.written);
  if (written !== (stored[WRITTEN_KEY] ?? '[]')) await ctx.tools.stateSet({ [WRITTEN_KEY]: written });
  const problems: string[] = [];
  for (const found of principals) {
    if (found.kind === 'bad') problems.push(`bad sources from ${found.app}: ${found.problems.join('; ')}`);
    if (found.kind === 'file' && found.dropped.length > 0) {
      await ctx.log.warning(`${found.app}: sources without a path are ignored: ${found.dropped.join(', ')}`);
    }
  }
  return problems;
}

async function writeIfChanged(file: string, text: string, mode: number): Promise<void> {
  if ((await readFile(file, 'utf8').catch(() => undefined)) === text) return;
  await writeFileAtomic(file, text, { mode });
}

async function reconcile(ctx: HookContext<AgentCharmConfig>, host: Host): Promise<void> {
  // The unit is going away: its periodic jobs go with it (the files stay for a reinstall).
  if (ctx.juju.hookName === 'stop' || ctx.juju.hookName === 'remove') {
    await removeTimers(host, 'agent');
    ctx.status.maintenance('the Turku agent timers are removed');
    return;
  }

  await ensurePackages(host, PACKAGES);
  await installPrograms(host, [...PROGRAMS]);
  const config = await ctx.config();
  const configDir = host.path(MACHINE_PATHS.configDir);
  const varDir = host.path(MACHINE_PATHS.varDir);
  await mkdir(join(configDir, 'config.d'), { recursive: true });

  const owner = await principal(ctx);
  if (owner === undefined) {
    ctx.status.waiting('waiting for the principal unit (juju-info relation)');
    return;
  }
  const sourceProblems = await syncSources(ctx, join(configDir, 'sources.d'));
  for (const problem of sourceProblems) ctx.status.blocked(problem);

  const api = await resolveApi(ctx.tools, config);
  if (api.kind !== 'ready') {
    ctx.status[api.kind](api.message);
    return;
  }
  // The credential is in this file: root only.
  const text = jujuConfigText({
    api: api.access,
    principal: owner,
    environmentName: config['environment-name'] || ctx.juju.model.name,
    paths: { varDir, lockDir: host.path(MACHINE_PATHS.lockDir), restorePath: host.path(MACHINE_PATHS.restorePath) },
  });
  await writeIfChanged(join(configDir, 'config.d', JUJU_CONFIG_FILE), text, 0o600);

  const stored = await ctx.tools.stateGet();
  const timers = `${host.workload.dir} ${configDir}`;
  if (stored[TIMERS_KEY] !== timers) {
    await installTimers(host, 'agent', configDir);
    await ctx.tools.stateSet({ [TIMERS_KEY]: timers });
  }
  const inputs = await updateConfigInputs(configDir, varDir);
  if (stored[UPDATE_CONFIG_KEY] !== inputs) {
    const { waiting } = await runUpdateConfig(host, configDir);
    if (waiting !== undefined) {
      // Tried again at the next hook (update-status at the latest) and by the agent's own timer.
      ctx.status.waiting(waiting);
      return;
    }
    // Registration creates the identity, which is one of the inputs: remember the state after.
    await ctx.tools.stateSet({ [UPDATE_CONFIG_KEY]: await updateConfigInputs(configDir, varDir) });
  }

  const names = Object.keys(await mergedSources(configDir));
  const count = names.length;
  // From the agent's own record of its sessions (last-backups.json in var_dir).
  const last = lastBackupText(await readRecords(varDir), names);
  ctx.status.active(
    `${count} ${count === 1 ? 'source' : 'sources'} registered with ${apiHost(api.access.url)}; ${last}`,
  );
}

export function turkuAgentCharm(hostFor: (juju: JujuCommon) => Host) {
  return defineCharm({
    config: configSchema,
    actions: {
      restore: { params: restoreParams, run: (ctx, params) => restore(ctx, hostFor(ctx.juju), params) },
      'restore-session': {
        params: restoreSessionParams,
        run: (ctx, params) => restoreSession(ctx, hostFor(ctx.juju), params),
      },
      'list-sources': { params: listSourcesParams, run: (ctx) => listSources(ctx, hostFor(ctx.juju)) },
      'list-snapshots': {
        params: listSnapshotsParams,
        run: (ctx, params) => runQueryAction(ctx, hostFor(ctx.juju), { kind: 'list-snapshots', ...params }),
      },
      'list-files': {
        params: listFilesParams,
        run: (ctx, params) => runQueryAction(ctx, hostFor(ctx.juju), { kind: 'list-files', ...params }),
      },
      find: {
        params: findParams,
        run: (ctx, params) => runQueryAction(ctx, hostFor(ctx.juju), { kind: 'find', ...params }),
      },
    },
    reconcile: (ctx) => reconcile(ctx, hostFor(ctx.juju)),
  });
}
