// The actions: each runs the real `turku-api` admin command on this unit's settings file and
// returns its JSON as results. A refusal (unknown machine, no such storage) fails the action with
// the command's one line.
import { type ActionContext, type JujuCommon, type Listing, listingResults } from '../../../lib/charm/index.js';
import type { Host } from '../../../lib/charm-host/index.js';
import type { ApiProgram } from './api-program.js';
import { ACTION_RESULTS_DIR } from './config-files.js';
import { ACTION_PARAMS, type ApiCharmConfig } from './schemas.js';
import { consoleAdminCredential } from './console-admin.js';
import { apiHealth, servingProgram } from './service.js';
import { type RegisteredStorage, mergeStorages, readStorageUnits } from './storages.js';

type Ctx = ActionContext<ApiCharmConfig>;

async function programOrFail(ctx: Ctx, host: Host): Promise<ApiProgram> {
  const program = await servingProgram(host);
  if (program === undefined) {
    ctx.fail(`${ctx.juju.unit} does not serve the API (see its status); run the action on a unit that does`);
  }
  return program;
}

async function jsonOrFail<T>(ctx: Ctx, program: ApiProgram, args: readonly string[]): Promise<T> {
  const result = await program.json<T>(args);
  if (!result.ok) ctx.fail(result.message);
  return result.value;
}

async function changeOrFail(ctx: Ctx, program: ApiProgram, args: readonly string[]): Promise<string> {
  const result = await program.run(args);
  if (result.exitCode !== 0) ctx.fail(failure(result.stderr, result.stdout, result.exitCode));
  return result.stdout.trim();
}

/**
 * A listing as action results: whole when it fits, else the first items plus the whole listing
 * in a file on the unit (action-set takes values in argv, 128 KiB each at most).
 */
function listing(ctx: Ctx, host: Host, key: string, items: Listing): Promise<Record<string, string>> {
  return listingResults(ctx.juju, { key, listing: items, dir: host.path(ACTION_RESULTS_DIR) });
}

function failure(stderr: string, stdout: string, code: number): string {
  return (
    [...stderr.split('\n'), ...stdout.split('\n')].map((line) => line.trim()).find((line) => line !== '') ??
    `exit status ${code}`
  );
}

export function turkuApiActions(hostFor: (juju: JujuCommon) => Host) {
  return {
    'create-registration': {
      params: ACTION_PARAMS['create-registration'],
      async run(ctx: Ctx, params: { type: 'machine_reg' | 'storage_reg'; name?: string | undefined }) {
        const program = await programOrFail(ctx, hostFor(ctx.juju));
        const args = [
          'auth-create',
          ...(params.name === undefined ? [] : [`--name=${params.name}`]),
          '--',
          params.type,
        ];
        const created = await jsonOrFail<{ name: string; secret_type: string; secret: string }>(ctx, program, args);
        await ctx.setResults({ name: created.name, type: created.secret_type, secret: created.secret });
      },
    },
    'list-machines': {
      params: ACTION_PARAMS['list-machines'],
      async run(ctx: Ctx) {
        const host = hostFor(ctx.juju);
        const program = await programOrFail(ctx, host);
        const machines = await jsonOrFail<unknown[]>(ctx, program, ['machines']);
        await ctx.setResults({ count: machines.length, ...(await listing(ctx, host, 'machines', machines)) });
      },
    },
    'list-sources': {
      params: ACTION_PARAMS['list-sources'],
      async run(ctx: Ctx, params: { machine?: string | undefined }) {
        const host = hostFor(ctx.juju);
        const program = await programOrFail(ctx, host);
        const args = ['sources', ...(params.machine === undefined ? [] : [`--machine=${params.machine}`])];
        const sources = await jsonOrFail<unknown[]>(ctx, program, args);
        await ctx.setResults({ count: sources.length, ...(await listing(ctx, host, 'sources', sources)) });
      },
    },
    'list-storages': {
      params: ACTION_PARAMS['list-storages'],
      async run(ctx: Ctx) {
        const host = hostFor(ctx.juju);
        const program = await programOrFail(ctx, host);
        const registered = await jsonOrFail<RegisteredStorage[]>(ctx, program, ['storages']);
        const reports = await readStorageUnits(ctx.tools);
        const storages = mergeStorages(registered, reports);
        const problems = reports.flatMap((report) =>
          report.ok ? [] : [`${report.unit}: ${report.problems.join('; ')}`],
        );
        // Storages are few; their problems (one line per storage unit) stay inline with them.
        await ctx.setResults({
          count: storages.length,
          ...(await listing(ctx, host, 'storages', storages)),
          ...(problems.length > 0 ? { problems } : {}),
        });
      },
    },
    'backup-now': {
      params: ACTION_PARAMS['backup-now'],
      async run(ctx: Ctx, params: { machine: string; source: string }) {
        const program = await programOrFail(ctx, hostFor(ctx.juju));
        await ctx.setResults({
          message: await changeOrFail(ctx, program, ['trigger', '--', params.machine, params.source]),
        });
      },
    },
    reassign: {
      params: ACTION_PARAMS.reassign,
      async run(ctx: Ctx, params: { machine: string; storage: string }) {
        const program = await programOrFail(ctx, hostFor(ctx.juju));
        await ctx.setResults({
          message: await changeOrFail(ctx, program, ['reassign', '--', params.machine, params.storage]),
        });
      },
    },
    'get-admin-credential': {
      params: ACTION_PARAMS['get-admin-credential'],
      async run(ctx: Ctx) {
        const program = await programOrFail(ctx, hostFor(ctx.juju));
        // The application's secret is the leader's to create and read by its label.
        if (!(await ctx.tools.isLeader())) {
          ctx.fail(`${ctx.juju.unit} is not the leader: juju run ${ctx.juju.app}/leader get-admin-credential`);
        }
        const admin = (await consoleAdminCredential(ctx.tools, true))!;
        // Idempotent: also puts it (back) into a database that lacks it, such as a new PostgreSQL.
        await program.ensureAdmin(admin.name, admin.secret);
        await ctx.setResults({ name: admin.name, secret: admin.secret, path: '/console' });
      },
    },
    health: {
      params: ACTION_PARAMS.health,
      async run(ctx: Ctx) {
        const host = hostFor(ctx.juju);
        const program = await programOrFail(ctx, host);
        const config = await ctx.config();
        const api = await apiHealth(config.port, 3000);
        if (api === undefined) ctx.fail(`the API does not answer on http://127.0.0.1:${config.port}/v1/health`);
        // The Nagios check: exit 0 OK, 2 CRITICAL (the fleet, still a successful check), 3 UNKNOWN.
        const fleet = await program.run(['health']);
        const lines = fleet.stdout.trim().split('\n');
        if (fleet.exitCode !== 0 && fleet.exitCode !== 2) ctx.fail(failure(fleet.stderr, fleet.stdout, fleet.exitCode));
        await ctx.setResults({
          api: 'ok',
          // Action result keys take no underscores: backup_log -> backup-log.
          counts: Object.fromEntries(Object.entries(api.counts).map(([key, n]) => [key.replaceAll('_', '-'), n])),
          fleet: lines[0] ?? '',
          // One line per machine in trouble: a whole fleet's worth goes to a file.
          ...(lines.length > 1 ? await listing(ctx, host, 'problems', lines.slice(1)) : {}),
        });
      },
    },
  };
}
