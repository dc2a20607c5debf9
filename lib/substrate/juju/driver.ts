// The ModelDriver over a real Juju 3 controller: each method is one `juju` command of
// docs/integration.md, "The Juju driver (`lib/substrate/juju`)", run through an injectable
// CommandRunner. `-m <model>` always follows the subcommand name, so it stays ahead of any `--`
// (exec) and every command line has the same shape.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ActionOutcome,
  type ExecOutcome,
  type ModelDriver,
  type ModelStatus,
  type WaitOptions,
  unitsOf,
} from '../driver.js';
import { parseJujuStatus } from '../juju-status.js';
import { type WaitClock, realClock, waitForStatus } from '../wait.js';
import { type CommandResult, type CommandRunner, SpawnError, execaRunner } from './cli.js';

export interface JujuDriverOptions {
  readonly model: string;
  readonly run?: CommandRunner;
  /** The juju binary (default `juju`). */
  readonly juju?: string;
  /** `juju run --wait` (default 5m, docs/integration.md, "Conventions"). */
  readonly actionWait?: string;
  /** For waitUntil; tests pass a fake one. */
  readonly clock?: WaitClock;
  /**
   * Action params that are all one-line strings go on the command line as `key=value` with
   * `--string-args`, as a user types them, instead of through a --params file.
   */
  readonly paramsAsArguments?: boolean;
}

export type ProbeResult = { readonly available: true; readonly controller: string } | ProbeUnavailable;
export interface ProbeUnavailable {
  readonly available: false;
  readonly reason: string;
}

type Settings = Readonly<Record<string, string | number | boolean>>;

/**
 * Terminal task states (docs/charm-runtime.md, "Bundles and `juju status`"); anything else means
 * `--wait` ran out first.
 */
const FINISHED = new Set(['completed', 'failed', 'cancelled', 'aborted', 'error']);

/** The last non-empty line, trimmed: Juju's error line comes last on stderr. */
function lastLine(output: string): string {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  return lines.at(-1)?.trim() ?? '';
}

/** What went wrong, from stderr: the last `ERROR ...` line (advice can follow it), else the last line. */
function errorLine(stderr: string): string {
  const errors = stderr.split('\n').filter((line) => line.startsWith('ERROR'));
  return errors.at(-1)?.trim() ?? lastLine(stderr);
}

/** argv as one line, arguments with spaces or newlines quoted, for error messages. */
function commandLine(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The one task of `juju run|exec --format json`: output is keyed by unit name, but by the real
 * name (app/leader comes back as app/N), so take the only entry rather than looking `unit` up.
 */
function onlyTask(stdout: string): Record<string, unknown> | undefined {
  const parsed = parseJson(stdout);
  if (!isObject(parsed)) return undefined;
  const task = Object.values(parsed)[0];
  return isObject(task) ? task : undefined;
}

function stringify(settings: Settings): string[] {
  return Object.entries(settings).map(([key, value]) => `${key}=${String(value)}`);
}

export class JujuDriver implements ModelDriver {
  readonly kind = 'juju';
  readonly model: string;
  private readonly run: CommandRunner;
  private readonly juju: string;
  private readonly actionWait: string;
  private readonly clock: WaitClock;
  private readonly paramsAsArguments: boolean;

  constructor(options: JujuDriverOptions) {
    this.model = options.model;
    this.run = options.run ?? execaRunner;
    this.juju = options.juju ?? 'juju';
    this.actionWait = options.actionWait ?? '5m';
    this.clock = options.clock ?? realClock;
    this.paramsAsArguments = options.paramsAsArguments ?? false;
  }

  /**
   * Whether a Juju controller can be used: `juju version` (is the client there?), then
   * `juju show-controller --format json`, which reads the current controller from the client store
   * and then asks its API; an unreachable API shows as a non-zero exit or an `errors` list.
   */
  static async probe(run: CommandRunner = execaRunner, juju = 'juju'): Promise<ProbeResult> {
    const version = await tryRun(run, [juju, 'version']);
    if ('reason' in version) return version;
    if (version.exitCode !== 0) return unavailable(`juju version failed: ${errorLine(version.stderr)}`);
    const shown = await tryRun(run, [juju, 'show-controller', '--format', 'json']);
    if ('reason' in shown) return shown;
    if (shown.exitCode !== 0)
      return unavailable(`no controller is reachable: ${errorLine(shown.stderr) || `exit code ${shown.exitCode}`}`);
    const parsed = parseJson(shown.stdout);
    const [controller, details] = isObject(parsed) ? (Object.entries(parsed)[0] ?? []) : [];
    if (controller === undefined)
      return unavailable('no controller is reachable: show-controller printed no controller');
    const errors = isObject(details) && Array.isArray(details['errors']) ? details['errors'] : [];
    if (errors.length > 0) return unavailable(`no controller is reachable: ${lastLine(String(errors[0]))}`);
    return { available: true, controller };
  }

  /**
   * A fresh model configured as docs/integration.md, "Conventions" asks: hook errors stay visible,
   * little update-status noise.
   */
  static async createModel(
    name = `turku-it-${randomBytes(4).toString('hex')}`,
    run: CommandRunner = execaRunner,
    options: Omit<JujuDriverOptions, 'model' | 'run'> = {},
  ): Promise<JujuDriver> {
    const driver = new JujuDriver({ ...options, model: name, run });
    await driver.call(['add-model', name]);
    await driver.call([
      'model-config',
      '-m',
      name,
      'automatically-retry-hooks=false',
      'update-status-hook-interval=60m',
    ]);
    return driver;
  }

  /** Runs `juju <args>`; spawn failures and non-zero exits become a one-line Error. */
  private async call(args: readonly string[], allowFailure = false): Promise<CommandResult> {
    const argv = [this.juju, ...args];
    let result: CommandResult;
    try {
      result = await this.run(argv);
    } catch (error) {
      const why = isNotFound(error)
        ? `${this.juju} is not on PATH`
        : lastLine(error instanceof Error ? error.message : String(error));
      throw new Error(`${commandLine(argv)}: ${why}`, { cause: error });
    }
    if (result.exitCode !== 0 && !allowFailure)
      throw new Error(`${commandLine(argv)}: ${errorLine(result.stderr) || `exit code ${result.exitCode}`}`);
    return result;
  }

  /** `juju <subcommand> -m <model> <args>`. */
  private inModel(subcommand: string, args: readonly string[], allowFailure = false): Promise<CommandResult> {
    return this.call([subcommand, '-m', this.model, ...args], allowFailure);
  }

  async deployBundle(bundle: string, options: { overlays?: readonly string[] } = {}): Promise<void> {
    // Local charm paths in the bundle resolve against the bundle file; packing is the caller's job.
    const overlays = (options.overlays ?? []).flatMap((overlay) => ['--overlay', overlay]);
    await this.inModel('deploy', [bundle, ...overlays]);
  }

  async deploy(charm: string, app: string, options: { config?: Settings; numUnits?: number } = {}): Promise<void> {
    const units = options.numUnits === undefined ? [] : ['-n', String(options.numUnits)];
    const config = stringify(options.config ?? {}).flatMap((setting) => ['--config', setting]);
    await this.inModel('deploy', [charm, app, ...units, ...config]);
  }

  async integrate(a: string, b: string): Promise<void> {
    await this.inModel('integrate', [a, b]);
  }

  async removeRelation(a: string, b: string): Promise<void> {
    await this.inModel('remove-relation', [a, b]);
  }

  async addUnit(app: string, count?: number): Promise<string[]> {
    // add-unit prints nothing machine-readable; the new units are the ones status did not list before.
    const before = new Set(unitsOf(await this.status(), app).map((unit) => unit.name));
    await this.inModel('add-unit', [app, ...(count === undefined ? [] : ['-n', String(count)])]);
    return unitsOf(await this.status(), app)
      .map((unit) => unit.name)
      .filter((name) => !before.has(name));
  }

  async removeUnit(unit: string): Promise<void> {
    await this.inModel('remove-unit', [unit, '--no-prompt']);
  }

  async config(app: string, values: Settings): Promise<void> {
    // `juju config app` with no pairs prints the settings instead of setting any.
    if (Object.keys(values).length === 0) return;
    await this.inModel('config', [app, ...stringify(values)]);
  }

  async runAction(unit: string, action: string, params?: Readonly<Record<string, unknown>>): Promise<ActionOutcome> {
    const args = [unit, action, '--format', 'json', '--wait', this.actionWait];
    if (params === undefined || Object.keys(params).length === 0) return this.actionOutcome(args);
    const values = Object.values(params);
    if (this.paramsAsArguments && values.every((value) => typeof value === 'string' && !value.includes('\n'))) {
      const pairs = Object.entries(params).map(([key, value]) => `${key}=${String(value)}`);
      return this.actionOutcome([unit, action, ...pairs, '--string-args', ...args.slice(2)]);
    }
    // Params go through a file (JSON is YAML) so values keep their types and never meet a shell.
    const dir = await mkdtemp(join(tmpdir(), 'turku-juju-params-'));
    try {
      const file = join(dir, 'params.yaml');
      await writeFile(file, `${JSON.stringify(params, null, 2)}\n`, { mode: 0o600 });
      return await this.actionOutcome([...args, '--params', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** `juju run` exits non-zero for a failed handler but still prints the task: parse stdout first. */
  private async actionOutcome(args: readonly string[]): Promise<ActionOutcome> {
    const result = await this.inModel('run', args, true);
    const task = onlyTask(result.stdout);
    if (task === undefined) {
      const message = errorLine(result.stderr) || `juju run printed no task (exit code ${result.exitCode})`;
      return { status: 'error', message, results: {} };
    }
    const {
      'return-code': returnCode,
      stdout: _stdout,
      stderr,
      ...results
    } = isObject(task['results']) ? task['results'] : {};
    let status = typeof task['status'] === 'string' ? task['status'] : 'error';
    const code = typeof returnCode === 'number' ? returnCode : 0;
    // A handler that exited non-zero failed, whatever the status says
    // (docs/charm-runtime.md, "Bundles and `juju status`"; docs/integration.md, "Conventions").
    if (status === 'completed' && code !== 0) status = 'failed';
    let message = typeof task['message'] === 'string' ? task['message'] : '';
    if (!FINISHED.has(status)) {
      // Still pending or running when --wait ran out: the CLI's stderr says so.
      message = errorLine(result.stderr) || `action still ${status} after ${this.actionWait}`;
      status = 'error';
    } else if (message === '' && status !== 'completed') {
      message = lastLine(typeof stderr === 'string' ? stderr : '') || `return code ${code}`;
    }
    return { status, message, results };
  }

  async exec(unit: string, script: string): Promise<ExecOutcome> {
    // On a real machine paths are the machine's own: $MACHINE_ROOT is empty.
    const result = await this.inModel(
      'exec',
      ['--unit', unit, '--format', 'json', '--', 'env', 'MACHINE_ROOT=', 'sh', '-c', script],
      true,
    );
    // Juju 3 prints the same task object as `juju run`, keyed by unit, with the command's
    // return-code/stdout/stderr under `results` (as Jubilant reads it;
    // docs/charm-runtime.md, "Bundles and `juju status`" describes only `juju run`'s).
    const task = onlyTask(result.stdout);
    const results = isObject(task?.['results']) ? task['results'] : undefined;
    if (results === undefined) {
      // No task (unknown unit, timeout, no controller): the CLI's own failure is the outcome.
      return { exitCode: result.exitCode === 0 ? 1 : result.exitCode, stdout: '', stderr: result.stderr };
    }
    const code = results['return-code'];
    return {
      exitCode: typeof code === 'number' ? code : task?.['status'] === 'completed' ? 0 : 1,
      stdout: typeof results['stdout'] === 'string' ? results['stdout'] : '',
      stderr: typeof results['stderr'] === 'string' ? results['stderr'] : '',
    };
  }

  async status(): Promise<ModelStatus> {
    const result = await this.inModel('status', ['--format', 'json']);
    const parsed = parseJson(result.stdout);
    if (parsed === undefined)
      throw new Error(`juju status -m ${this.model}: output is not JSON: ${lastLine(result.stdout).slice(0, 80)}`);
    return parseJujuStatus(parsed);
  }

  waitUntil(predicate: (status: ModelStatus) => boolean, options: WaitOptions = {}): Promise<ModelStatus> {
    return waitForStatus(() => this.status(), predicate, options, this.clock);
  }

  async destroy(): Promise<void> {
    await this.call(['destroy-model', this.model, '--no-prompt', '--destroy-storage', '--force', '--no-wait']);
  }
}

/** ENOENT from spawning: our SpawnError, or an execa/node error carrying the same code. */
function isNotFound(error: unknown): boolean {
  return error instanceof SpawnError ? error.code === 'ENOENT' : isObject(error) && error['code'] === 'ENOENT';
}

function unavailable(reason: string): ProbeUnavailable {
  return { available: false, reason };
}

/** Runs a probe command; a missing binary is an answer (not on PATH), not an exception. */
async function tryRun(run: CommandRunner, argv: readonly string[]): Promise<CommandResult | ProbeUnavailable> {
  try {
    return await run(argv);
  } catch (error) {
    if (isNotFound(error)) return unavailable(`${argv[0] ?? 'juju'} is not on PATH`);
    return unavailable(`${commandLine(argv)}: ${lastLine(error instanceof Error ? error.message : String(error))}`);
  }
}
