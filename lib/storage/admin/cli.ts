// `turku-storage-admin`'s command line, read into a request without touching the machine: what
// the program was asked, or the usage refusal (exit status 2) to print instead.
import { parseArgs } from 'node:util';

import { UsageError, type UserError } from '../../common/errors.js';
import { parseRetention, RetentionError, type RetentionPolicy } from '../../turku/retention.js';
import { DEFAULT_STORAGE_CONFIG_DIR } from '../load-settings.js';

export const PROGRAM = 'turku-storage-admin';

/** Exit statuses: a refusal (unknown machine, missing snapshot, failed check) and bad usage. */
export const REFUSED_EXIT = 1;

export const COMMANDS = {
  'list-snapshots': {
    synopsis: 'list-snapshots [--machine MACHINE] [--source SOURCE] [--sizes]',
    summary:
      'list the machines here, their sources and snapshots (link-dest and Borg); --sizes measures each (20 s per source at most)',
  },
  verify: {
    synopsis: 'verify MACHINE SOURCE [SNAPSHOT]',
    summary:
      'check one snapshot (default: the latest) against its manifest, or borg check --verify-data; exit 1 on a problem',
  },
  manifest: {
    synopsis: 'manifest MACHINE SOURCE SNAPSHOT',
    summary: 'record the manifest of a link-dest snapshot taken without one (marked as recorded after the fact)',
  },
  expire: {
    synopsis: 'expire --retention POLICY [--machine MACHINE] [--source SOURCE] [--dry-run]',
    summary: 'remove the snapshots POLICY does not keep (machines busy with a backup are skipped)',
  },
} as const;

export type AdminCommand = keyof typeof COMMANDS;

const EXIT_STATUS =
  'Exit status: 0 success, 1 refused (such as an unknown machine or a failed check), 2 bad usage or configuration.';

const COMMON_OPTIONS = [
  `  -c, --config-dir DIR  the storage's configuration (default ${DEFAULT_STORAGE_CONFIG_DIR})`,
  '      --json            one JSON document on stdout instead of a table',
  '  -h, --help            this text',
];

export const USAGE = [
  `Usage: ${PROGRAM} <command> [arguments] [--config-dir DIR] [--json]`,
  '',
  ...Object.values(COMMANDS).flatMap(({ synopsis, summary }) => [`  ${synopsis}`, `      ${summary}`]),
  '',
  'MACHINE is a machine UUID or its friendly name (such as prod-sql-sql_2).',
  '',
  ...COMMON_OPTIONS,
  '',
  EXIT_STATUS,
].join('\n');

export function commandUsage(command: AdminCommand): string {
  const { synopsis, summary } = COMMANDS[command];
  return [
    `Usage: ${PROGRAM} ${synopsis} [--config-dir DIR] [--json]`,
    '',
    summary,
    '',
    ...COMMON_OPTIONS,
    '',
    EXIT_STATUS,
  ].join('\n');
}

/** Only this machine and/or this source; undefined for all. */
export interface Filter {
  readonly machine: string | undefined;
  readonly source: string | undefined;
}

export type AdminRequest =
  | { readonly kind: 'help'; readonly text: string }
  | {
      readonly kind: 'run';
      readonly configDir: string;
      readonly json: boolean;
      readonly action: AdminAction;
    };

export type AdminAction =
  | { readonly command: 'list-snapshots'; readonly filter: Filter; readonly sizes?: boolean }
  | { readonly command: 'verify'; readonly machine: string; readonly source: string; readonly snapshot: string }
  | { readonly command: 'manifest'; readonly machine: string; readonly source: string; readonly snapshot: string }
  | { readonly command: 'expire'; readonly filter: Filter; readonly policy: RetentionPolicy; readonly dryRun: boolean };

const OPTIONS = {
  'config-dir': { type: 'string', short: 'c', default: DEFAULT_STORAGE_CONFIG_DIR },
  json: { type: 'boolean', default: false },
  sizes: { type: 'boolean', default: false },
  machine: { type: 'string' },
  source: { type: 'string' },
  retention: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const isCommand = (name: string): name is AdminCommand => Object.hasOwn(COMMANDS, name);

/** Reads argv (without node and the program); throws a UsageError (exit status 2) on bad usage. */
export function parseAdminArgs(argv: readonly string[]): AdminRequest {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (command === undefined) {
    if (values.help) return { kind: 'help', text: USAGE };
    throw usage(`a command is required (see ${PROGRAM} --help)`);
  }
  if (command === 'help') {
    const topic = args[0];
    return { kind: 'help', text: topic !== undefined && isCommand(topic) ? commandUsage(topic) : USAGE };
  }
  if (!isCommand(command)) throw usage(`unknown command "${command}" (see ${PROGRAM} --help)`);
  if (values.help) return { kind: 'help', text: commandUsage(command) };
  return { kind: 'run', configDir: values['config-dir'], json: values.json, action: actionOf(command, args, values) };
}

function actionOf(command: AdminCommand, args: readonly string[], values: Values): AdminAction {
  const refuse = (option: keyof typeof OPTIONS, allowed: readonly AdminCommand[]) => {
    if (values[option] !== undefined && values[option] !== false && !allowed.includes(command)) {
      throw usage(`${command}: --${option} does not apply`);
    }
  };
  refuse('machine', ['list-snapshots', 'expire']);
  refuse('source', ['list-snapshots', 'expire']);
  refuse('retention', ['expire']);
  refuse('dry-run', ['expire']);
  refuse('sizes', ['list-snapshots']);
  const filter = { machine: nonEmpty('--machine', values.machine), source: nonEmpty('--source', values.source) };
  switch (command) {
    case 'list-snapshots':
      expectArgs(command, args, 0, 0);
      return values.sizes ? { command, filter, sizes: true } : { command, filter };
    case 'verify': {
      expectArgs(command, args, 2, 3);
      const [machine, source, snapshot = 'latest'] = args.map((arg, i) =>
        nonEmpty(['MACHINE', 'SOURCE', 'SNAPSHOT'][i]!, arg)!,
      );
      return { command, machine: machine!, source: source!, snapshot };
    }
    case 'manifest': {
      expectArgs(command, args, 3, 3);
      const [machine, source, snapshot] = args.map((arg, i) => nonEmpty(['MACHINE', 'SOURCE', 'SNAPSHOT'][i]!, arg)!);
      return { command, machine: machine!, source: source!, snapshot: snapshot! };
    }
    case 'expire':
      expectArgs(command, args, 0, 0);
      if (values.retention === undefined) throw usage('expire: --retention POLICY is required');
      return { command, filter, policy: strictPolicy(values.retention), dryRun: values['dry-run'] };
  }
}

/**
 * Strict, unlike a backup's lenient reading of a source's policy: a typo here must not remove
 * anything, and a policy that keeps everything is most likely not what was meant.
 */
export function strictPolicy(text: string): RetentionPolicy {
  let policy: RetentionPolicy;
  try {
    policy = parseRetention(text);
  } catch (error) {
    if (error instanceof RetentionError) throw usage(`retention: ${error.detail}`);
    throw error;
  }
  if (policy.length === 0) throw usage('retention: the policy keeps everything; nothing to do');
  return policy;
}

function expectArgs(command: AdminCommand, args: readonly string[], min: number, max: number): void {
  if (args.length >= min && args.length <= max) return;
  const extra = args[max];
  if (extra !== undefined)
    throw usage(`${command}: unexpected argument "${extra}" (usage: ${COMMANDS[command].synopsis})`);
  throw usage(`${command}: missing arguments (usage: ${COMMANDS[command].synopsis})`);
}

function nonEmpty(what: string, value: string | undefined): string | undefined {
  if (value === '') throw usage(`${what} must not be empty`);
  return value;
}

function usage(message: string): UserError {
  return new UsageError(message);
}
