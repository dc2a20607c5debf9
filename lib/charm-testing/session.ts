// Running one event on one unit: the hook environment
// (docs/charm-runtime.md, "The hook environment"), the in-process hook tools bound to the unit and
// event, and the end of the hook (commit or rollback, action results, unit error), through either
// executor kind.
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { type CharmIo, type HookToolRunner } from '../charm/runner.js';
import { type CharmEvent, type EventOutcome } from './events.js';
import { type Model, type Unit, remoteApp } from './model.js';
import { execRefusal, spawnFailure } from './exec-limits.js';
import { PendingChanges } from './pending.js';
import { type ToolContext } from './tools/context.js';
import { runTool } from './tools/index.js';

export interface HookSession {
  /** The JUJU_* environment for this event (docs/charm-runtime.md, "The hook environment"). */
  env: Record<string, string>;
  /** In-process fake tools bound to this unit and event. */
  runner: HookToolRunner;
  /** Applies the pending changes (docs/charm-runtime.md, "Hook tools" commit semantics). */
  commit(): void;
  /** Discards the pending changes. */
  rollback(): void;
}

export interface RunEventOptions {
  /** Needed to run CharmExecutor kind 'process': exposes the session's runner to real tool executables. */
  toolServer?: {
    socketPath: string;
    toolsDir: string;
    register(contextId: string, runner: HookToolRunner): void;
    unregister(contextId: string): void;
  };
  /** Run with exactly this environment (`juju resolve` re-runs a failed hook with the one it failed with). */
  env?: Record<string, string>;
  /** A process charm's run is killed after this long and fails, saying so (SimulatorOptions.hookTimeoutMs). */
  timeoutMs?: number;
}

const API_ADDRESSES = '10.0.0.1:17070';

function requireUnit(model: Model, unitName: string): Unit {
  const unit = model.units[unitName];
  if (unit === undefined) throw new Error(`unit ${unitName} is not in the model`);
  return unit;
}

/** The agent's charm directory on a machine; used for in-process charms that have none. */
function placeholderCharmDir(unit: Unit): string {
  return `/var/lib/juju/agents/unit-${unit.app}-${unit.number}/charm`;
}

/** The endpoint of a relation hook, from its name (`db-relation-joined` -> `db`). */
function hookEndpoint(hookName: string): string | undefined {
  return /^(.+)-relation-(?:created|joined|changed|departed|broken)$/.exec(hookName)?.[1];
}

function secretLabelFor(model: Model, unit: Unit, hookName: string, secretId: string): string {
  const secret = model.secrets[secretId.replace(/^secret:/, '')];
  if (secret === undefined) return '';
  // secret-changed goes to consumers (their own label); the other secret hooks go to the owner.
  // A unit of the owning application has no label of its own: it sees the owner's.
  if (hookName === 'secret-changed') {
    const ownApp = secret.owner.kind === 'application' && secret.owner.app === unit.app;
    return secret.consumers[unit.name]?.label ?? (ownApp ? (secret.label ?? '') : '');
  }
  return secret.label ?? '';
}

export function hookEnvironment(model: Model, unitName: string, event: CharmEvent): Record<string, string> {
  const unit = requireUnit(model, unitName);
  const app = model.applications[unit.app];
  const charmDir = app?.executor.kind === 'process' ? app.executor.charmDir : placeholderCharmDir(unit);
  const isAction = event.kind === 'action';
  const env: Record<string, string> = {
    JUJU_DISPATCH_PATH: `${isAction ? 'actions' : 'hooks'}/${event.name}`,
    JUJU_HOOK_NAME: isAction ? '' : event.name,
    JUJU_UNIT_NAME: unit.name,
    JUJU_MODEL_NAME: model.name,
    JUJU_MODEL_UUID: model.uuid,
    JUJU_VERSION: model.jujuVersion,
    JUJU_CHARM_DIR: charmDir,
    CHARM_DIR: charmDir,
    JUJU_MACHINE_ID: unit.machine,
    JUJU_PRINCIPAL_UNIT: unit.principal ?? '',
    JUJU_AVAILABILITY_ZONE: '',
    JUJU_API_ADDRESSES: API_ADDRESSES,
    JUJU_SLA: 'unsupported',
    JUJU_CHARM_HTTP_PROXY: '',
    JUJU_CHARM_HTTPS_PROXY: '',
    JUJU_CHARM_FTP_PROXY: '',
    JUJU_CHARM_NO_PROXY: '',
    DEBIAN_FRONTEND: 'noninteractive',
    APT_LISTCHANGES_FRONTEND: 'none',
    LANG: 'C.UTF-8',
  };
  if (event.kind === 'action') {
    env['JUJU_ACTION_NAME'] = event.name;
    env['JUJU_ACTION_UUID'] = event.taskId;
    env['JUJU_ACTION_TAG'] = `action-${event.taskId}`;
    return env;
  }
  if (event.relationId !== undefined) {
    const relation = model.relations[event.relationId];
    const endpoint = hookEndpoint(event.name) ?? relation?.ends.find((end) => end.app === unit.app)?.endpoint ?? '';
    env['JUJU_RELATION'] = endpoint;
    env['JUJU_RELATION_ID'] = `${endpoint}:${event.relationId}`;
    env['JUJU_REMOTE_APP'] = event.remoteApp ?? (relation === undefined ? '' : (remoteApp(relation, unit.app) ?? ''));
    // Always exported; empty in created, broken and application-level changed.
    env['JUJU_REMOTE_UNIT'] = event.remoteUnit ?? '';
    if (event.name.endsWith('-relation-departed')) {
      env['JUJU_DEPARTING_UNIT'] = event.departingUnit ?? event.remoteUnit ?? '';
    }
  }
  if (event.storageId !== undefined) {
    const storage = model.storage[event.storageId];
    env['JUJU_STORAGE_ID'] = event.storageId;
    env['JUJU_STORAGE_LOCATION'] = storage?.location ?? '';
    env['JUJU_STORAGE_KIND'] = storage?.kind ?? '';
  }
  if (event.secretId !== undefined) {
    const uri = event.secretId.startsWith('secret:') ? event.secretId : `secret:${event.secretId}`;
    env['JUJU_SECRET_ID'] = uri;
    env['JUJU_SECRET_LABEL'] = event.secretLabel ?? secretLabelFor(model, unit, event.name, uri);
    if (event.secretRevision !== undefined) env['JUJU_SECRET_REVISION'] = String(event.secretRevision);
  }
  return env;
}

interface OpenSession extends HookSession {
  ctx: ToolContext;
}

function openSession(
  model: Model,
  unitName: string,
  event: CharmEvent,
  fixedEnv?: Record<string, string>,
): OpenSession {
  requireUnit(model, unitName);
  const env = fixedEnv ?? hookEnvironment(model, unitName, event);
  const pending = new PendingChanges(model, unitName);
  const ctx: ToolContext = { model, unitName, event, env, pending, remoteReads: new Map(), warnings: [] };
  if (event.kind === 'action') {
    const task = model.tasks[event.taskId];
    if (task === undefined) throw new Error(`task ${event.taskId} is not in the model`);
    ctx.action = { task, results: {} };
  }
  const runner: HookToolRunner = {
    run: (tool, args, stdin) => {
      // In process nothing is spawned: refuse what the kernel would refuse to exec.
      const refusal = execRefusal(tool, args, env);
      if (refusal !== undefined) return Promise.resolve(spawnFailure(tool, refusal));
      return Promise.resolve(runTool(ctx, tool, args, stdin));
    },
  };
  return {
    env,
    runner,
    ctx,
    commit: () => pending.commit(),
    rollback: () => pending.discard(),
  };
}

export function createHookSession(model: Model, unitName: string, event: CharmEvent): HookSession {
  const open = openSession(model, unitName, event);
  return { env: open.env, runner: open.runner, commit: () => open.commit(), rollback: () => open.rollback() };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `dispatch` if executable, else the legacy `hooks/<name>` / `actions/<name>`
 * (docs/charm-runtime.md, "Charm metadata").
 */
async function entryPoint(dispatch: string, charmDir: string, event: CharmEvent): Promise<string | undefined> {
  if (await isExecutable(dispatch)) return dispatch;
  const legacy = join(charmDir, event.kind === 'action' ? 'actions' : 'hooks', event.name);
  return (await isExecutable(legacy)) ? legacy : undefined;
}

let contextCounter = 0;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** No handler existed for the event. */
  missing: boolean;
}

async function execute(
  model: Model,
  unit: Unit,
  event: CharmEvent,
  session: OpenSession,
  options: RunEventOptions,
): Promise<RunResult> {
  const executor = model.applications[unit.app]?.executor;
  if (executor === undefined) throw new Error(`application ${unit.app} is not in the model`);
  if (executor.kind === 'in-process') {
    let stdout = '';
    let stderr = '';
    const io: CharmIo = {
      env: session.env,
      runner: session.runner,
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
    };
    try {
      const code = await executor.run(io);
      return { code, stdout, stderr, missing: false };
    } catch (error) {
      // An uncaught exception is what a crashing dispatch would do: exit 1, message on stderr.
      stderr += `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
      return { code: 1, stdout, stderr, missing: false };
    }
  }
  const entry = await entryPoint(executor.dispatch, executor.charmDir, event);
  if (entry === undefined) return { code: 0, stdout: '', stderr: '', missing: true };
  const server = options.toolServer;
  if (server === undefined) throw new Error('running a process charm needs options.toolServer');
  contextCounter += 1;
  const contextId = `${unit.name}-${event.name}-${process.pid}-${contextCounter}`;
  server.register(contextId, session.runner);
  try {
    const run = execa(entry, [], {
      cwd: executor.charmDir,
      env: {
        ...executor.env,
        ...session.env,
        PATH: `${server.toolsDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
        JUJU_AGENT_SOCKET_ADDRESS: server.socketPath,
        JUJU_AGENT_SOCKET_NETWORK: 'unix',
        JUJU_CONTEXT_ID: contextId,
      },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      stripFinalNewline: false,
      // Its own process group, so that a time limit reaches what the hook started too.
      detached: true,
    });
    const limit = options.timeoutMs === undefined ? undefined : killGroupAfter(run.pid, options.timeoutMs);
    const result = await run;
    const timedOut = limit?.stop() ?? false;
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    if (timedOut) {
      const limit = `${(options.timeoutMs ?? 0) / 1000} s`;
      return {
        code: 1,
        stdout,
        stderr: `${stderr}${event.name} did not finish within ${limit}: killed\n`,
        missing: false,
      };
    }
    const code = result.exitCode ?? 1;
    return {
      code,
      stdout,
      stderr: result.failed && result.exitCode === undefined ? `${stderr}${result.message}\n` : stderr,
      missing: false,
    };
  } finally {
    server.unregister(contextId);
  }
}

/** How long a timed-out hook's process group has to end after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3_000;

/**
 * After `ms`, SIGTERM to the process group led by `pid`, then SIGKILL to it after a grace. TERM
 * first because `lxc exec` passes it on into the container, where KILL would leave the hook
 * running; `ip netns exec` replaces itself with the hook and needs nothing. stop() cancels what
 * has not fired and says whether the limit was reached; if it was, it kills whatever of the group
 * outlived its leader.
 */
function killGroupAfter(pid: number | undefined, ms: number): { stop(): boolean } {
  let reached = false;
  let force: NodeJS.Timeout | undefined;
  const signal = (name: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, name);
    } catch {
      // ESRCH: the group has ended.
    }
  };
  const timer = setTimeout(() => {
    reached = true;
    signal('SIGTERM');
    force = setTimeout(() => signal('SIGKILL'), KILL_GRACE_MS);
  }, ms);
  return {
    stop() {
      clearTimeout(timer);
      clearTimeout(force);
      if (reached) signal('SIGKILL');
      return reached;
    },
  };
}

function logOutput(model: Model, unit: Unit, event: CharmEvent, text: string, source: 'stdout' | 'stderr'): void {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    model.logs.push({
      unit: unit.name,
      level: source === 'stdout' ? 'DEBUG' : 'WARNING',
      source,
      event: event.name,
      message: line,
    });
  }
}

export async function runEvent(
  model: Model,
  unitName: string,
  event: CharmEvent,
  options: RunEventOptions = {},
): Promise<EventOutcome> {
  const unit = requireUnit(model, unitName);
  const session = openSession(model, unitName, event, options.env);
  const action = session.ctx.action;
  if (action !== undefined) action.task.status = 'running';
  const result = await execute(model, unit, event, session, options);
  logOutput(model, unit, event, result.stdout, 'stdout');
  logOutput(model, unit, event, result.stderr, 'stderr');
  const outcome = (committed: boolean): EventOutcome => ({
    exitCode: result.code,
    stdout: result.stdout,
    stderr: result.stderr,
    env: session.env,
    committed,
  });

  if (action !== undefined) {
    const { task } = action;
    if (result.missing) {
      task.status = 'failed';
      task.message = `action not implemented on unit "${unit.name}"`;
      return outcome(false);
    }
    task.results = { ...action.results, 'return-code': result.code };
    if (result.stdout !== '') task.results['stdout'] = result.stdout;
    if (result.stderr !== '') task.results['stderr'] = result.stderr;
    if (result.code !== 0) {
      // A non-zero exit overrides action-fail and discards the pending changes; the unit stays healthy.
      session.rollback();
      task.status = 'failed';
      task.message = `exit status ${result.code}`;
      return outcome(false);
    }
    session.commit();
    task.status = action.failMessage === undefined ? 'completed' : 'failed';
    task.message = action.failMessage ?? '';
    return outcome(true);
  }

  if (result.missing) {
    model.logs.push({
      unit: unit.name,
      level: 'INFO',
      source: 'juju',
      event: event.name,
      message: `skipped "${event.name}" hook (missing)`,
    });
  }
  if (result.code !== 0) {
    session.rollback();
    unit.error = { hook: event.name, env: session.env };
    return outcome(false);
  }
  session.commit();
  return outcome(true);
}
