// The charm's entry point. Routing on JUJU_DISPATCH_PATH: every hook runs the one holistic
// `reconcile`; `actions/<name>` runs that action's handler; no dispatch path (juju exec, a manual
// run) does nothing. The unit status is collected during the hook and set once at the end, unless
// the status memo says the unit shows it already (status-memo.ts).
//
// Keep this file's import graph small (no zod values, no js-yaml): it is loaded by every hook of
// every charm, and a bundled no-op charm must start within 1.5x of `node -e 0`. zod reaches the
// bundle only with the charm's own schemas; schemas.ts parses with the schema's own methods.
import type * as z from 'zod/mini';

import type { Logger } from '../common/logger.js';
import { type JujuActionContext, type JujuHookContext, charmDirOf, readJujuContext } from './context.js';
import { ActionFailure, CharmConfigError, HookToolError, ParamsError } from './errors.js';
import { createExecRunner } from './exec-runner.js';
import { type CharmIo } from './runner.js';
import { type Schema, parseActionParams, parseConfig } from './schemas.js';
import {
  type StatusMemo,
  dropStatusMemo,
  hookMaySkipStatus,
  memoShows,
  restoreStatusMemo,
  saveStatusMemo,
  takeStatusMemo,
} from './status-memo.js';
import { type ConfigValue, type LogLevel, type StatusName } from './tool-types.js';
import { HookTools } from './tools.js';

/** The typed config: the schema's output, or the raw `config-get` map when there is no schema. */
export type ConfigOf<C> = C extends Schema ? z.output<C> : Record<string, ConfigValue>;
/** The typed params: the schema's output, or the raw `action-get` map when there is no schema. */
export type ParamsOf<P> = P extends Schema ? z.output<P> : Record<string, unknown>;

/** Collects the unit status during a hook; the most severe one is set once when the hook ends. */
export interface StatusCollector {
  blocked(message: string): void;
  maintenance(message: string): void;
  waiting(message: string): void;
  active(message?: string): void;
}

/** juju-log at the matching level: the common Logger, whose calls resolve once the line is out. */
export type CharmLogger = Logger<Promise<void>>;

interface CommonContext<Config> {
  tools: HookTools;
  /** The config, read with config-get and parsed once; a CharmConfigError ends the hook as `blocked`. */
  config(): Promise<Config>;
  status: StatusCollector;
  log: CharmLogger;
}

export interface HookContext<Config> extends CommonContext<Config> {
  juju: JujuHookContext;
}

export interface ActionContext<Config> extends CommonContext<Config> {
  juju: JujuActionContext;
  /** Fails the action on purpose: throws ActionFailure; the runtime calls action-fail and exits 0. */
  fail(message: string): never;
  /** action-set, nested objects flattened to dotted keys. */
  setResults(results: Record<string, unknown>): Promise<void>;
  /** action-log: a progress line shown by `juju run`. */
  progress(message: string): Promise<void>;
}

export interface ActionDefinition<Config, P extends Schema | undefined = Schema | undefined> {
  params?: P;
  run(ctx: ActionContext<Config>, params: ParamsOf<P>): Promise<void>;
}

/**
 * A charm: optional config schema, actions, and the one holistic reconcile. `A` maps each action
 * name to its params schema (unknown when the action has none); it is inferred, never written.
 */
export interface CharmDefinition<
  C extends Schema | undefined = Schema | undefined,
  A extends Record<string, unknown> = Record<string, unknown>,
> {
  config?: C;
  // Written out (not via ActionDefinition) so TypeScript infers each action's params type, also
  // when some actions have no params schema.
  actions?: {
    [K in keyof A]: {
      params?: A[K] & Schema;
      run(ctx: ActionContext<ConfigOf<C>>, params: ParamsOf<A[K]>): Promise<void>;
    };
  };
  /** Runs for every hook: make the unit match config and relation data. */
  reconcile(ctx: HookContext<ConfigOf<C>>): Promise<void>;
}

/** Identity with type inference for config and each action's params. */
export function defineCharm<
  C extends Schema | undefined = undefined,
  A extends Record<string, unknown> = Record<string, unknown>,
>(def: CharmDefinition<C, A>): CharmDefinition<C, A> {
  return def;
}

const SEVERITY: readonly StatusName[] = ['blocked', 'maintenance', 'waiting', 'active'];

class Statuses implements StatusCollector {
  private readonly collected = new Map<StatusName, string[]>();

  blocked(message: string): void {
    this.add('blocked', message);
  }
  maintenance(message: string): void {
    this.add('maintenance', message);
  }
  waiting(message: string): void {
    this.add('waiting', message);
  }
  active(message = ''): void {
    this.add('active', message);
  }

  private add(status: StatusName, message: string): void {
    const messages = this.collected.get(status) ?? [];
    if (!messages.includes(message)) messages.push(message);
    this.collected.set(status, messages);
  }

  get empty(): boolean {
    return this.collected.size === 0;
  }

  /** Most severe status; messages of that severity joined with '; '. Nothing collected: active ''. */
  final(): { status: StatusName; message: string } {
    for (const status of SEVERITY) {
      const messages = this.collected.get(status);
      if (messages) return { status, message: messages.filter((message) => message !== '').join('; ') };
    }
    return { status: 'active', message: '' };
  }
}

function logger(tools: HookTools): CharmLogger {
  const at = (level: LogLevel) => (message: string) => tools.jujuLog(message, level);
  return { debug: at('DEBUG'), info: at('INFO'), warning: at('WARNING'), error: at('ERROR') };
}

/** One line describing a failure; hook-tool errors name the tool (never its stdin). */
function describeError(error: unknown): string {
  if (error instanceof HookToolError) return `${error.tool}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** An unexpected error: juju-log at ERROR (best effort) and one stderr line. */
async function reportCrash(io: CharmIo, tools: HookTools, what: string, error: unknown): Promise<void> {
  const line = `${what} failed: ${describeError(error).replace(/\s*\n\s*/g, ' ')}`;
  try {
    await tools.jujuLog(line, 'ERROR');
    // Where it happened, for whoever debugs the charm (frames only: the message is above).
    const frames = error instanceof Error ? error.stack?.split('\n').filter((l) => /^\s+at /.test(l)) : undefined;
    if (frames?.length) await tools.jujuLog(frames.map((l) => l.trim()).join('\n'), 'DEBUG');
  } catch {
    // The stderr line below still reaches the unit log.
  }
  io.stderr(`${line}\n`);
}

/** Runs the charm for the event in `io.env`; resolves to the exit code `dispatch` exits with. */
export async function runCharm<C extends Schema | undefined, A extends Record<string, unknown>>(
  def: CharmDefinition<C, A>,
  io: CharmIo,
): Promise<number> {
  let juju;
  try {
    juju = readJujuContext(io.env);
  } catch (error) {
    io.stderr(`${describeError(error)}\n`);
    return 1;
  }
  // juju exec or a manual run: no event to handle, so do nothing.
  if (juju.kind === 'none') return 0;

  // A status-set before the final one means the unit may no longer show what the memo says; in an
  // action it makes the memo stale, so it goes before the tool runs.
  let earlierStatusSets = 0;
  const onStatusSet =
    juju.kind === 'hook' ? () => void earlierStatusSets++ : () => dropStatusMemo(juju.charmDir, juju.unit);
  const tools = new HookTools(io.runner, juju, { onStatusSet });
  const status = new Statuses();
  let parsedConfig: Promise<ConfigOf<C>> | undefined;
  const common: CommonContext<ConfigOf<C>> = {
    tools,
    config: () =>
      (parsedConfig ??= tools
        .configGet()
        .then((raw) => (def.config === undefined ? raw : parseConfig(def.config, raw)) as ConfigOf<C>)),
    status,
    log: logger(tools),
  };

  if (juju.kind === 'hook') {
    // Taken (moved aside and read) first: only a hook that exits 0 puts it back or writes a new one.
    const remembered = takeStatusMemo(juju.charmDir, juju.unit);
    let shown: StatusMemo | undefined;
    const code = await exitCodeOf(io, tools, `hook "${juju.hookName}"`, async () => {
      try {
        await def.reconcile({ ...common, juju });
      } catch (error) {
        // Bad config is the operator's to fix: show it as blocked and exit 0 (a failed hook would
        // put the unit in error and stop all further hooks until `juju resolve`).
        if (!(error instanceof CharmConfigError)) throw error;
        status.blocked(error.message);
      }
      const final = status.final();
      const now = Date.now();
      if (hookMaySkipStatus(juju.hookName) && earlierStatusSets === 0 && memoShows(remembered, juju.unit, final, now)) {
        shown = remembered;
        return;
      }
      await tools.statusSet(final.status, final.message);
      shown = { unit: juju.unit, ...final, setAt: now };
    });
    if (code === 0 && shown !== undefined) {
      if (shown === remembered) restoreStatusMemo(juju.charmDir, juju.unit);
      else saveStatusMemo(juju.charmDir, shown);
    }
    return code;
  }

  const name = juju.actionName;
  return exitCodeOf(io, tools, `action "${name}"`, async () => {
    const action = def.actions && Object.hasOwn(def.actions, name) ? def.actions[name] : undefined;
    if (action === undefined) {
      await tools.actionFail(
        `unknown action "${name}" (this charm defines: ${Object.keys(def.actions ?? {}).join(', ') || 'none'})`,
      );
      return;
    }
    const ctx: ActionContext<ConfigOf<C>> = {
      ...common,
      juju,
      fail: (message) => {
        throw new ActionFailure(message);
      },
      setResults: (results) => tools.actionSet(results),
      progress: (message) => tools.actionLog(message),
    };
    try {
      const raw = await tools.actionGet();
      const params = (action.params === undefined ? raw : parseActionParams(action.params, raw)) as ParamsOf<
        A[keyof A]
      >;
      await action.run(ctx, params);
    } catch (error) {
      // Expected failures: action-fail then exit 0, so the message is kept and pending changes commit.
      if (!(error instanceof ActionFailure || error instanceof ParamsError || error instanceof CharmConfigError))
        throw error;
      await tools.actionFail(error.message);
    }
    if (!status.empty) await setFinalStatus(tools, status);
  });
}

/**
 * The exit code of one hook or action: 0 when `body` returns. An exception it lets through is a
 * crash: reported, then exit 1, so the hook (or the task, with `exit status 1`) fails and Juju
 * discards its pending changes.
 */
async function exitCodeOf(io: CharmIo, tools: HookTools, what: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    await reportCrash(io, tools, what, error);
    return 1;
  }
}

async function setFinalStatus(tools: HookTools, status: Statuses): Promise<void> {
  const final = status.final();
  await tools.statusSet(final.status, final.message);
}

/** Production entry point: the real environment, hook tools and streams; sets process.exitCode. */
export async function main<C extends Schema | undefined, A extends Record<string, unknown>>(
  def: CharmDefinition<C, A>,
): Promise<void> {
  // `dispatch` turned on Node's compile cache for this hook's bundle (lib/charm-pack/dispatch-script.ts);
  // the programs and tools a hook runs are not to inherit the charm's cache directory.
  delete process.env.NODE_COMPILE_CACHE;
  const env = process.env;
  process.exitCode = await runCharm(def, {
    env,
    runner: createExecRunner(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
  // A charm's stray promise can still crash the process after the hook returned: a failed hook
  // must leave no status memo (status-memo.ts).
  process.once('exit', (code) => {
    if (code !== 0) dropStatusMemo(charmDirOf(env), env.JUJU_UNIT_NAME ?? '');
  });
}
