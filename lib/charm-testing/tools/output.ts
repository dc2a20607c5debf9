// Juju's output formatters (smart / json / yaml) and the `--format` / `-o` flags they share.
import { writeFileSync } from 'node:fs';
import { dump } from 'js-yaml';
import { type FlagSpecs, type ParsedArgs, usageError } from './flags.js';

export type OutputFormat = 'smart' | 'json' | 'yaml';

export const OUTPUT_FLAGS: FlagSpecs = {
  format: { long: 'format', kind: 'value' },
  output: { short: 'o', long: 'output', kind: 'value' },
};

/** Go marshals maps with sorted keys; doing the same keeps output stable and Juju-like. */
function sortedDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortedDeep(v)]));
  }
  return value;
}

function yamlOf(value: unknown): string {
  return dump(sortedDeep(value), { lineWidth: -1 });
}

export function render(value: unknown, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(sortedDeep(value ?? null))}\n`;
  if (value === undefined || value === null) return '';
  if (format === 'yaml') return yamlOf(value);
  if (typeof value === 'boolean') return value ? 'True\n' : 'False\n';
  if (typeof value === 'string') return value === '' ? '' : `${value}\n`;
  if (typeof value === 'number') return `${value}\n`;
  if (Array.isArray(value)) return value.map((item) => `${String(item)}\n`).join('');
  return yamlOf(value);
}

/** The format chosen with `--format` (default `fallback`); other values fail like Juju. */
export function chosenFormat(
  parsed: ParsedArgs,
  allowed: readonly OutputFormat[] = ['smart', 'json', 'yaml'],
  fallback: OutputFormat = allowed[0] ?? 'smart',
): OutputFormat {
  const text = parsed.values['format'];
  if (text === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(text)) {
    throw usageError(
      `invalid value ${JSON.stringify(text)} for option --format: unknown format ${JSON.stringify(text)}`,
    );
  }
  return text as OutputFormat;
}

/** Renders `value` for the tool's stdout, or into the `-o` file (stdout then stays empty). */
export function emit(parsed: ParsedArgs, value: unknown, format: OutputFormat): string {
  const text = render(value, format);
  const file = parsed.values['output'];
  if (file === undefined) return text;
  writeFileSync(file, text);
  return '';
}
