// state-get, state-set, state-delete: the unit's controller-side key/value store (transactional).
import { type ToolContext } from './context.js';
import { parseKeyValues } from './context.js';
import { checkEmpty, parseFlags, runtimeError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';
import { readSettingsFile } from './relation.js';

export function stateGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, strict: { long: 'strict', kind: 'bool' } });
  const format = chosenFormat(parsed);
  const [keyArg, ...rest] = parsed.positional;
  checkEmpty(rest);
  const state = ctx.pending.state();
  if (keyArg === undefined || keyArg === '-') return emit(parsed, state, format);
  const value = state[keyArg];
  if (value === undefined && parsed.bools['strict'] === true) throw runtimeError(`${JSON.stringify(keyArg)} not found`);
  return emit(parsed, value ?? '', format);
}

export function stateSet(ctx: ToolContext, args: readonly string[], stdin: string | undefined): string {
  const parsed = parseFlags(args, { file: { long: 'file', kind: 'value' } });
  const pairs = parseKeyValues(parsed.positional);
  const file = parsed.values['file'];
  const settings = { ...(file === undefined ? {} : readSettingsFile(file, stdin)), ...pairs };
  // Juju stores an empty value as is (unlike relation-set, where it deletes the key).
  for (const [key, value] of Object.entries(settings)) ctx.pending.setState(key, value);
  return '';
}

export function stateDelete(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  const [key, ...rest] = parsed.positional;
  checkEmpty(rest);
  // Like Juju, no key is a no-op rather than an error.
  if (key !== undefined && key !== '') ctx.pending.setState(key, null);
  return '';
}
