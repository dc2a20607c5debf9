// turku-local's command-line words: flags parsed as Juju's CLI takes them (node:util parseArgs,
// strict), `key=value` settings, durations, and the one-line failure it prints as `ERROR ...`.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A one-line failure the CLI prints as `ERROR <message>`. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Options every command takes, as Juju's -m; --format where a command prints a document. */
const GLOBAL: ParseArgsConfig['options'] = {
  model: { type: 'string', short: 'm' },
  'base-dir': { type: 'string' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** A command's arguments with the global options and its own; an unknown flag is a CliError. */
export function parse(args: string[], options: ParseArgsConfig['options'] = {}): Parsed {
  try {
    const parsed: Parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...GLOBAL, ...options },
    });
    return parsed;
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function list(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function count(value: unknown, flag: string): number | undefined {
  if (typeof value !== 'string') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive whole number, not "${value}"`);
  return n;
}

/** `5m`, `30s`, `1h`, `500ms`, a bare number of seconds; 0 or none: no limit. */
export function parseDuration(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value);
  if (match === null) throw new CliError(`invalid duration "${value}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

/** `k=v` pairs into settings (values stay strings: the charm's option types convert them). */
export function settingsOf(pairs: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`expected key=value, got "${pair}"`);
    settings[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return settings;
}
