// config-get, status-set, status-get, application-version-set (docs/charm-runtime.md, "Hook tools").
import { type ConfigValue, type StatusName, type StatusValue, effectiveConfig } from '../model.js';
import { type ToolContext, appOfUnit, isLeader, unitOf } from './context.js';
import { checkEmpty, parseFlags, runtimeError, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

export function configGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, all: { short: 'a', long: 'all', kind: 'bool' } });
  const format = chosenFormat(parsed);
  const [key, ...rest] = parsed.positional;
  checkEmpty(rest);
  const all = parsed.bools['all'] === true;
  if (key !== undefined && all) throw usageError(`cannot use argument --all together with key ${JSON.stringify(key)}`);
  const app = appOfUnit(ctx);
  const values = effectiveConfig(app);
  if (key !== undefined) return emit(parsed, values[key] ?? null, format);
  if (!all) return emit(parsed, values, format);
  const withUnset: Record<string, ConfigValue | null> = {};
  for (const option of Object.keys(app.charm.config)) withUnset[option] = values[option] ?? null;
  return emit(parsed, withUnset, format);
}

const SETTABLE: readonly StatusName[] = ['maintenance', 'blocked', 'waiting', 'active'];

export function statusSet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { application: { long: 'application', kind: 'bool' } });
  const [status, message, ...rest] = parsed.positional;
  if (status === undefined) throw usageError('invalid args, require <status> [message]');
  if (!(SETTABLE as readonly string[]).includes(status)) {
    throw usageError(`invalid status ${JSON.stringify(status)}, expected one of [${SETTABLE.join(' ')}]`);
  }
  checkEmpty(rest);
  const value: StatusValue = {
    status: status as StatusName,
    message: message ?? '',
    data: {},
    since: ctx.model.now().toISOString(),
  };
  // Immediate: the status stays even if the hook later fails (docs/charm-runtime.md, "Hook tools").
  if (parsed.bools['application'] === true) {
    if (!isLeader(ctx)) throw runtimeError('this unit is not the leader');
    appOfUnit(ctx).status = value;
    return '';
  }
  const unit = unitOf(ctx);
  unit.workloadStatus = value;
  unit.statusHistory.push(value);
  unit.statusSetByCharm = true;
  return '';
}

function details(value: StatusValue): Record<string, unknown> {
  return { status: value.status, message: value.message, 'status-data': value.data };
}

export function statusGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {
    ...OUTPUT_FLAGS,
    includeData: { long: 'include-data', kind: 'bool' },
    application: { long: 'application', kind: 'bool' },
  });
  const format = chosenFormat(parsed);
  checkEmpty(parsed.positional);
  const includeData = parsed.bools['includeData'] === true;
  if (parsed.bools['application'] === true) {
    if (!isLeader(ctx)) throw runtimeError('finding application status: this unit is not the leader');
    const app = appOfUnit(ctx);
    const appStatus = app.status ?? { status: 'unknown', message: '', data: {}, since: '' };
    const units: Record<string, unknown> = {};
    for (const unit of Object.values(ctx.model.units)) {
      if (unit.app === app.name) units[unit.name] = details(unit.workloadStatus);
    }
    return emit(parsed, { 'application-status': { ...details(appStatus), units } }, format);
  }
  const status = unitOf(ctx).workloadStatus;
  if (!includeData) return emit(parsed, format === 'smart' ? status.status : { status: status.status }, format);
  return emit(parsed, details(status), format);
}

export function applicationVersionSet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {});
  const [version, ...rest] = parsed.positional;
  if (version === undefined) throw usageError('no version specified');
  checkEmpty(rest);
  appOfUnit(ctx).version = version;
  return '';
}
