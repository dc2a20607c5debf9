// storage-get, storage-list, storage-add (docs/charm-runtime.md, "Hook tools").
import { compareUnitNames } from '../model.js';
import { type ToolContext, appOfUnit, hookEvent, unitOf } from './context.js';
import { checkEmpty, parseFlags, runtimeError, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

export function storageGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, storage: { short: 's', kind: 'value' } });
  const format = chosenFormat(parsed);
  const [attribute, ...rest] = parsed.positional;
  checkEmpty(rest);
  const id = parsed.values['storage'] ?? hookEvent(ctx)?.storageId;
  if (id === undefined) throw usageError('no storage instance specified');
  const instance = ctx.model.storage[id];
  if (instance === undefined || !unitOf(ctx).storage.includes(id)) {
    throw usageError(
      `invalid value ${JSON.stringify(id)} for option -s: storage instance ${JSON.stringify(id)} not found`,
    );
  }
  const attributes = { kind: instance.kind, location: instance.location };
  if (attribute === undefined) return emit(parsed, attributes, format);
  if (attribute !== 'kind' && attribute !== 'location') {
    throw runtimeError(`invalid storage attribute ${JSON.stringify(attribute)}`);
  }
  return emit(parsed, attributes[attribute], format);
}

export function storageList(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  const [name, ...rest] = parsed.positional;
  checkEmpty(rest);
  // Storage ids sort like unit names: by store name, then number.
  const ids = unitOf(ctx)
    .storage.filter((id) => name === undefined || id.slice(0, id.lastIndexOf('/')) === name)
    .sort(compareUnitNames);
  return emit(parsed, ids, format);
}

export function storageAdd(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  if (parsed.positional.length === 0) throw usageError('storage add requires at least one storage directive');
  const requests: { name: string; count: number }[] = [];
  for (const directive of parsed.positional) {
    const [name = '', countText] = directive.split('=');
    const count = countText === undefined ? 1 : Number(countText);
    if (name === '' || !Number.isInteger(count) || count < 1) {
      throw usageError(`cannot parse storage directive ${JSON.stringify(directive)}`);
    }
    requests.push({ name, count });
  }
  const charm = appOfUnit(ctx).charm;
  for (const { name } of requests) {
    if (charm.storage[name] === undefined) throw runtimeError(`charm storage ${JSON.stringify(name)} not found`);
  }
  for (const { name, count } of requests) ctx.pending.addStorage(name, count);
  return '';
}
