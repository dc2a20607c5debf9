// action-get, action-set, action-fail, action-log (docs/charm-runtime.md, "Hook tools").
import { type ToolContext, requireAction } from './context.js';
import { checkEmpty, parseFlags, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

const KEY_SEGMENT = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED = ['stdout', 'stdout-encoding', 'stderr', 'stderr-encoding'];

export function actionGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  const [key, ...rest] = parsed.positional;
  checkEmpty(rest);
  const action = requireAction(ctx);
  if (key === undefined) return emit(parsed, action.task.params, format);
  let value: unknown = action.task.params;
  for (const segment of key.split('.')) {
    value =
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? (value as Record<string, unknown>)[segment]
        : undefined;
  }
  return emit(parsed, value ?? null, format);
}

export function actionSet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  const entries: [string[], string][] = [];
  for (const arg of parsed.positional) {
    const eq = arg.indexOf('=');
    if (eq === -1) throw usageError(`argument ${JSON.stringify(arg)} must be of the form key...=value`);
    const path = arg.slice(0, eq).split('.');
    // Like Juju's Init: each segment in turn, its shape then the reserved names (at any depth);
    // every argument is checked before anything is set.
    for (const segment of path) {
      if (!KEY_SEGMENT.test(segment)) {
        throw usageError(
          `key ${JSON.stringify(segment)} must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods`,
        );
      }
      if (RESERVED.includes(segment)) throw usageError(`cannot set reserved action key ${JSON.stringify(segment)}`);
    }
    entries.push([path, arg.slice(eq + 1)]);
  }
  const action = requireAction(ctx);
  for (const [path, value] of entries) {
    let node = action.results;
    for (const segment of path.slice(0, -1)) {
      const child = node[segment];
      if (child === null || typeof child !== 'object' || Array.isArray(child)) node[segment] = {};
      node = node[segment] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
  return '';
}

export const DEFAULT_FAIL_MESSAGE = 'action failed without reason given, check action for errors';

export function actionFail(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  const [message, ...rest] = parsed.positional;
  checkEmpty(rest);
  const action = requireAction(ctx);
  action.failMessage = message ?? DEFAULT_FAIL_MESSAGE;
  return '';
}

export function actionLog(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  if (parsed.positional.length === 0) throw usageError('no message specified');
  const action = requireAction(ctx);
  const message = parsed.positional.join(' ');
  action.task.log.push(message);
  ctx.model.logs.push({ unit: ctx.unitName, level: 'INFO', source: 'action-log', event: ctx.event.name, message });
  return '';
}
