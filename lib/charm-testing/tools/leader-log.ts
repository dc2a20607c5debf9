// is-leader, leader-get, leader-set, juju-log (docs/charm-runtime.md, "Hook tools").
import { type LogEntry } from '../model.js';
import { applyWrites, sameBag } from '../pending.js';
import { type ToolContext, appOfUnit, isLeader, parseKeyValues, unitOf } from './context.js';
import { checkEmpty, parseFlags, runtimeError, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

export function isLeaderTool(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  checkEmpty(parsed.positional);
  return emit(parsed, isLeader(ctx), format);
}

export function leaderGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  const [keyArg, ...rest] = parsed.positional;
  checkEmpty(rest);
  if (keyArg?.includes('=') === true) throw usageError(`invalid key ${JSON.stringify(keyArg)}`);
  const settings = appOfUnit(ctx).leaderSettings;
  if (keyArg === undefined || keyArg === '-') return emit(parsed, settings, format);
  return emit(parsed, settings[keyArg] ?? null, format);
}

/** Immediate (not transactional): a failed hook keeps the write (docs/charm-runtime.md, "Hook tools"). */
export function leaderSet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  const pairs = parseKeyValues(parsed.positional);
  if (!isLeader(ctx)) throw runtimeError('cannot write leadership settings: cannot write settings: not the leader');
  const app = appOfUnit(ctx);
  const next = applyWrites(app.leaderSettings, new Map(Object.entries(pairs)));
  if (sameBag(app.leaderSettings, next)) return '';
  app.leaderSettings = next;
  app.leaderSettingsVersion += 1;
  // The leader does not get leader-settings-changed for its own write.
  unitOf(ctx).seenLeaderSettingsVersion = app.leaderSettingsVersion;
  return '';
}

const LEVELS: readonly LogEntry['level'][] = ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];

/** The hook or action name the log lines belong to. */
export function eventName(ctx: ToolContext): string {
  return ctx.event.name;
}

export function jujuLog(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {
    level: { short: 'l', long: 'log-level', kind: 'value' },
    debug: { long: 'debug', kind: 'bool' },
    format: { long: 'format', kind: 'value' },
  });
  if (parsed.positional.length === 0) throw usageError('no message specified');
  let level: LogEntry['level'] = 'INFO';
  const requested = parsed.values['level'];
  if (parsed.bools['debug'] === true) level = 'DEBUG';
  else if (requested !== undefined) {
    const upper = requested.toUpperCase();
    if ((LEVELS as readonly string[]).includes(upper)) level = upper as LogEntry['level'];
    else {
      ctx.model.logs.push({
        unit: ctx.unitName,
        level: 'WARNING',
        source: 'juju-log',
        event: eventName(ctx),
        message: `Specified log level of ${JSON.stringify(requested)} is not valid`,
      });
    }
  }
  const relationId = ctx.env['JUJU_RELATION_ID'] ?? '';
  const prefix = relationId === '' ? '' : `${relationId}: `;
  ctx.model.logs.push({
    unit: unitOf(ctx).name,
    level,
    source: 'juju-log',
    event: eventName(ctx),
    message: prefix + parsed.positional.join(' '),
  });
  return '';
}
