import { parseArgs } from 'node:util';

import { errorLine, USAGE_EXIT, UsageError } from '../common/errors.js';
import { ConfigFileError } from '../turku/config.js';
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
  resetTunnelPorts,
  setActive,
  triggerBackup,
  type Switchable,
} from './admin/commands.js';
import { renderTable } from '../common/table.js';
import { ConsoleAdminError, createAdmin, ensureAdmin } from './console/admins.js';
import { importOriginal, summaryLines } from './import/run.js';
import type { ApiContext } from './context.js';
import type { ApiSettings } from './settings.js';

/**
 * `turku-api <command> --config FILE`: the admin commands. The flow is free of process
 * globals so tests drive it in-process (only the default stdin reader of auth-ensure, used when
 * `io.readStdin` is absent, touches the process); main.ts wires it (and `serve`) to the process.
 */

interface CommandHelp {
  /** The command and its arguments, as typed after `turku-api`. */
  readonly synopsis: string;
  /** What it does, one line or a few. */
  readonly summary: readonly string[];
}

/**
 * Every command, in the order the usage lists them. The dispatcher below switches over exactly
 * these names (the compiler checks both ways), and a test runs `<command> --help` for each.
 */
export const COMMANDS = {
  serve: { synopsis: 'serve', summary: ['run the /v1 HTTP API'] },
  migrate: { synopsis: 'migrate', summary: ['apply database migrations and exit'] },
  'auth-create': {
    synopsis: 'auth-create machine_reg|storage_reg|admin [--name NAME] [--comment TEXT] [--raw]',
    summary: ['create a registration credential or a web console admin; prints its secret once'],
  },
  'auth-ensure': {
    synopsis: 'auth-ensure machine_reg|storage_reg|admin --name NAME [--comment TEXT]',
    summary: [
      'make NAME exist, active, with the secret read from stdin',
      '(idempotent; for deployment tools; never printed)',
    ],
  },
  machines: { synopsis: 'machines', summary: ['list machines, with health and weak secrets'] },
  storages: { synopsis: 'storages', summary: ['list storages, with health and weak secrets'] },
  sources: { synopsis: 'sources [--machine UUID]', summary: ['list sources, with health'] },
  backups: { synopsis: 'backups [--limit N]', summary: ['list the latest backups (50 unless --limit)'] },
  'filter-sets': { synopsis: 'filter-sets', summary: ['list the FilterSets'] },
  trigger: { synopsis: 'trigger MACHINE-UUID SOURCE', summary: ["back up a source at the agent's next check-in"] },
  activate: {
    synopsis: 'activate machine UUID | storage NAME | auth NAME | filter-set NAME',
    summary: ['switch an object on'],
  },
  deactivate: {
    synopsis: 'deactivate machine UUID | storage NAME | auth NAME | filter-set NAME',
    summary: ['switch an object off'],
  },
  reassign: {
    synopsis: 'reassign MACHINE-UUID STORAGE',
    summary: ['move a machine to another storage (old data stays)'],
  },
  'tunnel-reset': {
    synopsis: 'tunnel-reset MACHINE-UUID',
    summary: [
      "forget a machine's tunnel port allowance (its agent went back to an",
      'original one): its storage writes the wide authorized_keys line again',
    ],
  },
  'filter-set': {
    synopsis: 'filter-set NAME [--comment TEXT] -- [FILTER...]',
    summary: ['create or replace a FilterSet (rules after "--")'],
  },
  'clean-logs': { synopsis: 'clean-logs --days N', summary: ['delete backup logs older than N days'] },
  health: { synopsis: 'health', summary: ['Nagios check: OK (exit 0), CRITICAL (2), UNKNOWN (3)'] },
  import: {
    synopsis: 'import --from SQLITE-FILE|postgres://URL [--dry-run]',
    summary: ['copy an original Turku database into this one (one transaction; idempotent)'],
  },
} as const satisfies Record<string, CommandHelp>;

export type Command = keyof typeof COMMANDS;

const isCommand = (name: string): name is Command => Object.hasOwn(COMMANDS, name);

const EXIT_STATUS = 'Exit status: 0 success, 1 refused (such as an unknown machine), 2 bad usage or configuration.';
const SYNOPSIS_WIDTH = 38;

export const USAGE = [
  'Usage: turku-api <command> [arguments] --config FILE [--json]',
  '',
  ...Object.values(COMMANDS).flatMap(({ synopsis, summary }: CommandHelp) => {
    const indent = ' '.repeat(SYNOPSIS_WIDTH + 4);
    const [first, ...rest] = summary;
    const head =
      synopsis.length <= SYNOPSIS_WIDTH
        ? [`  ${synopsis.padEnd(SYNOPSIS_WIDTH)}  ${first!}`]
        : [`  ${synopsis}`, `${indent}${first!}`];
    return [...head, ...rest.map((line) => `${indent}${line}`)];
  }),
  '',
  `  ${'-h, --help'.padEnd(SYNOPSIS_WIDTH)}  this text; \`turku-api <command> --help\` for one command`,
  '',
  EXIT_STATUS,
].join('\n');

/** `turku-api <command> --help`. */
export function commandUsage(command: Command): string {
  const { synopsis, summary } = COMMANDS[command] as CommandHelp;
  const options = command === 'serve' ? '--config FILE' : '--config FILE [--json]';
  return [`Usage: turku-api ${synopsis} ${options}`, '', ...summary, '', EXIT_STATUS].join('\n');
}

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

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
  name: { type: 'string' },
  comment: { type: 'string' },
  raw: { type: 'boolean', default: false },
  machine: { type: 'string' },
  limit: { type: 'string' },
  days: { type: 'string' },
  from: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
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
  if (command === undefined || command === 'help') {
    const topic = args[0];
    if (command === 'help' && topic !== undefined && isCommand(topic)) return help(commandUsage(topic));
    return { ...help(USAGE), exitCode: command === undefined && !values.help ? 2 : 0 };
  }
  if (!isCommand(command)) return usageFailure(`unknown command "${command}" (see turku-api --help)`);
  if (values.help) return help(commandUsage(command));
  if (command === 'serve') return usageFailure('serve: the turku-api program runs it (turku-api serve --config FILE)');
  if (values.config === undefined) return usageFailure(`${command}: --config FILE is required`);

  let settings: ApiSettings;
  try {
    settings = await io.loadSettings(values.config);
  } catch (error) {
    if (error instanceof ConfigFileError) return usageFailure(error.message);
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
    if (error instanceof AdminError || error instanceof ConsoleAdminError) return failure(1, error.message);
    if (command === 'health') return { exitCode: 3, stdout: [`UNKNOWN ${(error as Error).message}`], stderr: [] };
    throw error;
  } finally {
    await opened.close();
  }
}

async function runCommand(
  ctx: ApiContext,
  command: Exclude<Command, 'serve'>,
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
      if (type === 'admin') {
        const admin = await createAdmin(ctx.db, values.name ?? 'admin', ctx.now());
        if (values.json) return success([JSON.stringify(admin, null, 2)]);
        return success([values.raw ? admin.secret : `New console admin created: ${admin.name} ${admin.secret}`]);
      }
      if (type !== 'machine_reg' && type !== 'storage_reg') {
        throw new UsageError(`auth-create: expected machine_reg, storage_reg or admin, got "${type}"`);
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
      if (type !== 'machine_reg' && type !== 'storage_reg' && type !== 'admin') {
        throw new UsageError(`auth-ensure: expected machine_reg, storage_reg or admin, got "${type}"`);
      }
      if (values.name === undefined) throw new UsageError('auth-ensure: --name NAME is required');
      // One line on stdin: a trailing newline (echo, a here-string) is not part of the secret.
      const secret = (await readStdin()).replace(/\r?\n$/, '');
      if (type === 'admin') {
        const result = await ensureAdmin(ctx.db, values.name, secret, ctx.now());
        if (values.json) return success([JSON.stringify({ name: values.name, type, result }, null, 2)]);
        return success([`console admin "${values.name}": ${result}`]);
      }
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
    case 'tunnel-reset': {
      expectArgs(command, args, 1);
      const ports = await resetTunnelPorts(ctx, args[0]!);
      return success([
        ports === null
          ? `machine ${args[0]!} has no tunnel port allowance; nothing changed`
          : `machine ${args[0]!} no longer has the tunnel ports ${ports.join(', ')}; ` +
            'its storage uses the wide line from its next update until its agent asks again',
      ]);
    }
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
    case 'import': {
      expectArgs(command, args, 0);
      if (values.from === undefined) throw new UsageError('import: --from SQLITE-FILE|postgres://URL is required');
      const summary = await importOriginal(ctx.db, values.from, { dryRun: values['dry-run'] });
      if (values.json) return success([JSON.stringify(summary, null, 2)]);
      return {
        ...success(summaryLines(summary)),
        stderr: summary.warnings.map((line) => `turku-api: warning: ${line}`),
      };
    }
    default:
      return unhandled(command);
  }
}

/** Every command of COMMANDS has its case above: adding one without the other does not compile. */
function unhandled(command: never): never {
  throw new Error(`turku-api: no handler for the command "${String(command)}"`);
}

/** `serve`'s own arguments (main.ts starts the server): the config file, or what to print instead. */
export function serveArguments(argv: readonly string[]): { readonly config: string } | ApiCliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { config: OPTIONS.config, help: OPTIONS.help },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return usageFailure(`serve: ${(error as Error).message}`);
  }
  if (parsed.values.help) return help(commandUsage('serve'));
  if (parsed.positionals.length > 0) return usageFailure(`serve: unexpected argument "${parsed.positionals[0]!}"`);
  if (parsed.values.config === undefined) return usageFailure('serve: --config FILE is required');
  return { config: parsed.values.config };
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
const help = (text: string): ApiCliResult => success(text.split('\n'));
const failure = (exitCode: number, message: string): ApiCliResult => ({
  exitCode,
  stdout: [],
  stderr: [errorLine('turku-api', message)],
});
const usageFailure = (message: string) => failure(USAGE_EXIT, message);
