// A small parser with the behaviour of Juju's gnuflag command line: `--name=v`, `--name v`,
// `-x v`, `-xv`, bool flags, flags interspersed with arguments, `--` ending the flags, and
// Juju's error texts (the word "option", exit code 2).

/** A tool failure: `code` 2 for usage errors, 1 for runtime errors; printed as `ERROR <message>`. */
export class ToolError extends Error {
  constructor(
    readonly code: 1 | 2,
    message: string,
  ) {
    super(message);
  }
}

export function usageError(message: string): ToolError {
  return new ToolError(2, message);
}

export function runtimeError(message: string): ToolError {
  return new ToolError(1, message);
}

/** Thrown by the parser for `--help` / `-h`: the tool prints its usage and exits 0. */
export class HelpRequested extends Error {}

export interface FlagDef {
  /** One-letter name used as `-x`. */
  short?: string;
  /** Name used as `--name`. */
  long?: string;
  kind: 'bool' | 'value';
}

export type FlagSpecs = Record<string, FlagDef>;

export interface ParsedArgs {
  /** Value flags by spec key (last occurrence wins). */
  values: Record<string, string>;
  bools: Record<string, boolean>;
  positional: string[];
  /** The flag as the caller spelt it (`-r` or `--relation`), for `invalid value` errors. */
  spelling: Record<string, string>;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(' ')}]`;
}

/** Fails with `unrecognized args` when anything is left over. */
export function checkEmpty(rest: readonly string[]): void {
  if (rest.length > 0) throw usageError(`unrecognized args: ${goQuoteList(rest)}`);
}

export function parseFlags(args: readonly string[], specs: FlagSpecs): ParsedArgs {
  const parsed: ParsedArgs = { values: {}, bools: {}, positional: [], spelling: {} };
  const byShort = new Map<string, string>();
  const byLong = new Map<string, string>();
  for (const [key, def] of Object.entries(specs)) {
    if (def.short !== undefined) byShort.set(def.short, key);
    if (def.long !== undefined) byLong.set(def.long, key);
  }
  const setBool = (key: string, spelt: string, text: string | undefined): void => {
    if (text === undefined || ['true', '1', 't', 'T', 'TRUE', 'True'].includes(text)) parsed.bools[key] = true;
    else if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(text)) parsed.bools[key] = false;
    else throw usageError(`invalid value ${JSON.stringify(text)} for option ${spelt}: parse error`);
    parsed.spelling[key] = spelt;
  };

  let i = 0;
  while (i < args.length) {
    const arg = args[i] as string;
    i += 1;
    if (arg === '--') {
      parsed.positional.push(...args.slice(i));
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      parsed.positional.push(arg);
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      const spelt = `--${name}`;
      if (name === 'help') throw new HelpRequested();
      const key = byLong.get(name);
      const def = key === undefined ? undefined : specs[key];
      if (key === undefined || def === undefined) throw usageError(`option provided but not defined: ${spelt}`);
      if (def.kind === 'bool') {
        setBool(key, spelt, inline);
        continue;
      }
      let value = inline;
      if (value === undefined) {
        if (i >= args.length) throw usageError(`option needs an argument: ${spelt}`);
        value = args[i] ?? '';
        i += 1;
      }
      parsed.values[key] = value;
      parsed.spelling[key] = spelt;
      continue;
    }
    // A cluster of one-letter flags: `-a`, `-ab`, `-rVALUE`, `-r VALUE`.
    let j = 1;
    while (j < arg.length) {
      const letter = arg[j] as string;
      const spelt = `-${letter}`;
      j += 1;
      if (letter === 'h') throw new HelpRequested();
      const key = byShort.get(letter);
      const def = key === undefined ? undefined : specs[key];
      if (key === undefined || def === undefined) throw usageError(`option provided but not defined: ${spelt}`);
      if (def.kind === 'bool') {
        if (arg[j] === '=') {
          setBool(key, spelt, arg.slice(j + 1));
          break;
        }
        setBool(key, spelt, undefined);
        continue;
      }
      let value: string;
      if (j < arg.length) {
        value = arg.slice(arg[j] === '=' ? j + 1 : j);
      } else {
        if (i >= args.length) throw usageError(`option needs an argument: ${spelt}`);
        value = args[i] ?? '';
        i += 1;
      }
      parsed.values[key] = value;
      parsed.spelling[key] = spelt;
      break;
    }
  }
  return parsed;
}
