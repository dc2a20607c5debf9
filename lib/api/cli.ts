import { parseArgs } from 'node:util';

import { ConfigError } from '../turku/config.js';
import { STRONG_SECRET_LENGTH } from '../turku/secret-strength.js';
import {
  AdminError,
  cleanLogs,
  createAuth,
  ensureAuth,
  fleetHealth,
  listBackups,
  listFilterSets,
  listMachines,
  listSources,
  listStorages,
  putFilterSet,
  reassignMachine,
  setActive,
  triggerBackup,
  type Switchable,
} from './admin/commands.js';
import { renderTable } from './admin/table.js';
import type { ApiContext } from './context.js';
import type { ApiSettings } from './settings.js';

/**
 * `turku-api <command> --config FILE`: the admin commands. The flow is free of process
 * globals so tests drive it in-process (only the default stdin reader of auth-ensure, used when
 * `io.readStdin` is absent, touches the process); main.ts wires it (and `serve`) to the process.
 */

export const USAGE = `Usage: turku-api <command> [arguments] --config FILE [--json]

  serve                                   run the /v1 HTTP API
  migrate                                 apply database migrations and exit
  auth-create machine_reg|storage_reg [--name NAME] [--comment TEXT] [--raw]
                                          create a registration credential; prints its secret once
  auth-ensure machine_reg|storage_reg --name NAME [--comment TEXT]
                                          make NAME exist, active, with the secret read from stdin
                                          (idempotent; for deployment tools; never printed)
  machines | storages | sources [--machine UUID] | backups [--limit N] | filter-sets
                                          list, with health
  trigger MACHINE-UUID SOURCE             back up a source at the agent's next check-in
  activate | deactivate machine UUID | storage NAME | auth NAME | filter-set NAME
  reassign MACHINE-UUID STORAGE           move a machine to another storage (old data stays)
  filter-set NAME [--comment TEXT] -- [FILTER...]
                                          create or replace a FilterSet (rules after "--")
  clean-logs --days N                     delete backup logs older than N days
  health                                  Nagios check: OK (exit 0), CRITICAL (2), UNKNOWN (3)

Exit status: 0 success, 1 refused (such as an unknown machine), 2 bad usage or configuration.`;

export interface ApiCliIo {
  loadSettings(file: string): Promise<ApiSettings>;
  /** A context on the configured database (migrated), and how to release it. */
  openContext(settings: ApiSettings): Promise<{ readonly ctx: ApiContext; close(): Promise<void> }>;
  /** Standard input, for commands that take a secret (never in argv); default: the process's. */
  readonly readStdin?: () => Promise<string>;
}

export interface ApiCliResult {
  readonly exitCode: number;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
}

class UsageError extends Error {}

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
  name: { type: 'string' },
  comment: { type: 'string' },
  raw: { type: 'boolean', default: false },
  machine: { type: 'string' },
  limit: { type: 'string' },
  days: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function runApiCli(argv: readonly string[], io: ApiCliIo): Promise<ApiCliResult> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return usageFailure((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === undefined || command === 'help') {
    return { exitCode: command === undefined && !values.help ? 2 : 0, stdout: USAGE.split('\n'), stderr: [] };
  }
  if (values.config === undefined) return usageFailure(`${command}: --config FILE is required`);

  let settings: ApiSettings;
  try {
    settings = await io.loadSettings(values.config);
  } catch (error) {
    if (error instanceof ConfigError) return usageFailure(error.message);
    throw error;
  }

  let opened;
  try {
    opened = await io.openContext(settings);
  } catch (error) {
    const message = `database: ${(error as Error).message}`;
    return command === 'health' ? { exitCode: 3, stdout: [`UNKNOWN ${message}`], stderr: [] } : failure(1, message);
  }
  try {
    return await runCommand(opened.ctx, command, args, values, io.readStdin ?? readProcessStdin);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message);
    if (error instanceof AdminError) return failure(1, error.message);
    if (command === 'health') return { exitCode: 3, stdout: [`UNKNOWN ${(error as Error).message}`], stderr: [] };
    throw error;
  } finally {
    await opened.close();
  }
}

async function runCommand(
  ctx: ApiContext,
  command: string,
  args: readonly string[],
  values: Values,
  readStdin: () => Promise<string>,
): Promise<ApiCliResult> {
  const print = (rows: readonly object[], columns?: readonly string[]) =>
    success(values.json ? [JSON.stringify(rows, null, 2)] : renderTable(rows, columns));

  switch (command) {
    case 'migrate':
      expectArgs(command, args, 0);
      return success(['database schema is up to date']);
    case 'auth-create': {
      expectArgs(command, args, 1);
      const type = args[0];
      if (type !== 'machine_reg' && type !== 'storage_reg') {
        throw new UsageError(`auth-create: expected machine_reg or storage_reg, got "${type}"`);
      }
      const created = await createAuth(ctx, type, { name: values.name, comment: values.comment });
      if (values.json) return success([JSON.stringify(created, null, 2)]);
      return success([
        values.raw ? created.secret : `New registration secret created: ${created.secret} (${created.name})`,
      ]);
    }
    case 'auth-ensure': {
      expectArgs(command, args, 1);
      const type = args[0];
      if (type !== 'machine_reg' && type !== 'storage_reg') {
        throw new UsageError(`auth-ensure: expected machine_reg or storage_reg, got "${type}"`);
      }
      if (values.name === undefined) throw new UsageError('auth-ensure: --name NAME is required');
      // One line on stdin: a trailing newline (echo, a here-string) is not part of the secret.
      const secret = (await readStdin()).replace(/\r?\n$/, '');
      const ensured = await ensureAuth(ctx, type, values.name, secret, values.comment);
      if (values.json) return success([JSON.stringify(ensured, null, 2)]);
      const weak = ensured.weak_secret
        ? `; its secret is weak (under ${STRONG_SECRET_LENGTH} characters): stored with a slow hash`
        : '';
      return success([`registration credential "${ensured.name}" (${ensured.secret_type}): ${ensured.result}${weak}`]);
    }
    case 'machines':
      expectArgs(command, args, 0);
      return print(await listMachines(ctx));
    case 'storages':
      expectArgs(command, args, 0);
      return print(await listStorages(ctx));
    case 'sources':
      expectArgs(command, args, 0);
      return print(await listSources(ctx, values.machine));
    case 'backups':
      expectArgs(command, args, 0);
      return print(await listBackups(ctx, positiveInteger('--limit', values.limit ?? '50')), [
        'date',
        'unit_name',
        'source',
        'storage',
        'success',
        'skipped',
        'snapshot',
        'duration_seconds',
      ]);
    case 'filter-sets':
      expectArgs(command, args, 0);
      return print(await listFilterSets(ctx));
    case 'trigger':
      expectArgs(command, args, 2);
      await triggerBackup(ctx, args[0]!, args[1]!);
      return success([`source "${args[1]!}" of ${args[0]!} is due now`]);
    case 'activate':
    case 'deactivate': {
      expectArgs(command, args, 2);
      const kind = args[0]!;
      if (!['machine', 'storage', 'auth', 'filter-set'].includes(kind)) {
        throw new UsageError(`${command}: expected machine, storage, auth or filter-set, got "${kind}"`);
      }
      await setActive(ctx, kind as Switchable, args[1]!, command === 'activate');
      return success([`${kind} ${args[1]!} ${command}d`]);
    }
    case 'reassign':
      expectArgs(command, args, 2);
      await reassignMachine(ctx, args[0]!, args[1]!);
      return success([`machine ${args[0]!} now backs up to ${args[1]!}`]);
    case 'filter-set': {
      if (args.length < 1) throw new UsageError('filter-set: expected NAME [FILTER...]');
      await putFilterSet(ctx, args[0]!, args.slice(1), values.comment);
      return success([`filter set "${args[0]!}" saved with ${args.length - 1} filters`]);
    }
    case 'clean-logs': {
      expectArgs(command, args, 0);
      if (values.days === undefined) throw new UsageError('clean-logs: --days N is required');
      const deleted = await cleanLogs(ctx, nonNegativeNumber('--days', values.days));
      return success([`deleted ${deleted} backup logs`]);
    }
    case 'health': {
      expectArgs(command, args, 0);
      const result = await fleetHealth(ctx);
      return { exitCode: result.ok ? 0 : 2, stdout: result.lines, stderr: [] };
    }
    default:
      throw new UsageError(`unknown command "${command}" (see turku-api --help)`);
  }
}

async function readProcessStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

function expectArgs(command: string, args: readonly string[], count: number): void {
  if (args.length !== count) {
    throw new UsageError(`${command}: expected ${count} argument${count === 1 ? '' : 's'}, got ${args.length}`);
  }
}

function positiveInteger(option: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`${option}: expected a positive integer, got "${text}"`);
  return value;
}

function nonNegativeNumber(option: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`${option}: expected a non-negative number, got "${text}"`);
  }
  return value;
}

const success = (stdout: string[]): ApiCliResult => ({ exitCode: 0, stdout, stderr: [] });
const failure = (exitCode: number, message: string): ApiCliResult => ({
  exitCode,
  stdout: [],
  stderr: [`turku-api: ${message}`],
});
const usageFailure = (message: string) => failure(2, message);
