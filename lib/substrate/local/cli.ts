// `turku-local`: the local substrate's Juju-shaped CLI (docs/integration.md, "The local
// controller"). Each command is one request to the model's controller over its socket
// (controller-protocol.ts), printed as Juju 3 prints it: the same verbs, flags and output
// shapes, so `juju status --format json` readers (lib/substrate/juju-status.ts) and the Juju
// driver read it too. Errors are one `ERROR ...` line on stderr and a non-zero exit.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';

import { prepareLxdSubstrate } from '../lxd/prepare.js';
import { CliError, count, list, parse, type Parsed, parseDuration, settingsOf, str } from './cli-args.js';
import { formatted, type LogLine, plainTask, type Task, taskView, unitTag } from './cli-output.js';
import {
  LocalController,
  MACHINE_KINDS,
  type MachineLogin,
  type MachinesKind,
  type SubstrateState,
} from './controller.js';
import { controllerAnswers, controllerPid, request, startControllerProcess } from './controller-client.js';
import { type ControllerRequest, controllerFiles } from './controller-protocol.js';
import { DEFAULT_BASE_DIR, LocalDriver, validModelName } from './driver.js';
import { statusTable, table } from './status-table.js';

export { CliError, parseDuration } from './cli-args.js';

export const USAGE = `Usage: turku-local <command> [-m MODEL] [options]

The local substrate's controller, driven as Juju 3's CLI drives a model (root only).

  bootstrap [-m MODEL] [--machines namespaces|lxd]
                                          create the model if new, start its controller
  status [--format tabular|json|yaml]     the model as juju status shows it
  deploy CHARM|BUNDLE [APP] [-n N] [--config k=v] [--overlay FILE]
  add-unit APP [-n N]
  remove-unit UNIT [--no-prompt]
  integrate APP[:ENDPOINT] APP[:ENDPOINT]
  remove-relation APP[:ENDPOINT] APP[:ENDPOINT]
  config APP [k=v ...] [--format yaml|json]
  run UNIT ACTION [k=v ...] [--params FILE] [--string-args] [--wait DURATION] [--format plain|json|yaml]
  exec --unit UNIT [--format plain|json|yaml] -- COMMAND ...
  ssh UNIT [COMMAND ...]                  a root shell on the unit's machine (its namespace or container)
  debug-log [-n LINES] [--include UNIT] [--level LEVEL] [--tail | --no-tail]
  show-unit UNIT [--format yaml|json]
  models [--format tabular|json]
  destroy-model MODEL [--no-prompt]       stop the controller, remove machines, network and files

The model is -m/--model, else $TURKU_LOCAL_MODEL, else turku-demo; models live under
--base-dir (default ${DEFAULT_BASE_DIR}, or $TURKU_LOCAL_BASE_DIR).`;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly stdoutIsTty: boolean;
}

export class Cli {
  private model = process.env['TURKU_LOCAL_MODEL'] ?? 'turku-demo';
  private baseDir = process.env['TURKU_LOCAL_BASE_DIR'] ?? DEFAULT_BASE_DIR;

  constructor(private readonly io: CliIo) {}

  private get modelDir(): string {
    return join(this.baseDir, this.model);
  }

  private async call<T = unknown>(body: ControllerRequest): Promise<T> {
    if (!existsSync(this.modelDir)) throw new CliError(`model "${this.model}" not found (no ${this.modelDir})`);
    try {
      return await request<T>(controllerFiles(this.modelDir).socket, body);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof Error && error.name === 'NoControllerError') {
        throw new CliError(
          `no controller is running for model "${this.model}": start it with turku-local bootstrap -m ${this.model}`,
        );
      }
      throw new CliError(message.split('\n')[0] ?? message);
    }
  }

  /** Runs one command line; returns the exit code. */
  async run(argv: string[]): Promise<number> {
    // Global options may come before the command too: they are moved after it.
    const leading: string[] = [];
    let rest = argv;
    while (rest[0] !== undefined && ['-m', '--model', '--base-dir'].includes(rest[0]) && rest[1] !== undefined) {
      leading.push(rest[0], rest[1]);
      rest = rest.slice(2);
    }
    const [command, ...after] = rest;
    const args = [...leading, ...after];
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      this.io.out(`${USAGE}\n`);
      return 0;
    }
    const handler = this.commands[command];
    if (handler === undefined) throw new CliError(`unrecognized command: turku-local ${command}`);
    return handler(args);
  }

  private takeGlobals(values: Parsed['values']): void {
    if (values['help'] === true) throw new CliError(USAGE);
    const model = str(values['model']);
    if (model !== undefined) this.model = validModelName(model.replace(/^[^:]*:/, ''));
    const baseDir = str(values['base-dir']);
    if (baseDir !== undefined) this.baseDir = resolve(baseDir);
  }

  private readonly commands: Record<string, (args: string[]) => Promise<number>> = {
    bootstrap: async (args) => {
      const { values, positionals } = parse(args, {
        'agent-ping-interval': { type: 'string' },
        'update-status-interval': { type: 'string' },
        machines: { type: 'string' },
      });
      this.takeGlobals(values);
      if (positionals.length > 0) throw new CliError(`unrecognized args: ${positionals.join(' ')}`);
      const fresh = !existsSync(join(this.modelDir, 'substrate.json'));
      const machines = machinesKind(str(values['machines']));
      if (fresh) {
        const ping = str(values['agent-ping-interval']);
        const update = str(values['update-status-interval']);
        await LocalController.createModel(this.modelDir, this.model, {
          ...(ping === undefined ? {} : { agentPingIntervalMs: parseDuration(ping) }),
          ...(update === undefined ? {} : { updateStatusIntervalMs: parseDuration(update) }),
          ...(machines === undefined ? {} : { machines }),
        });
      } else if (machines !== undefined) {
        throw new CliError(`model "${this.model}" exists: its machines are chosen when it is created`);
      }
      if (await controllerAnswers(this.modelDir)) {
        this.io.err(
          `Model "${this.model}" already has a running controller (pid ${String(await controllerPid(this.modelDir))}).\n`,
        );
        return 0;
      }
      // The first LXD set-up builds the machines' image (minutes): here, with its progress shown,
      // rather than inside the controller's start.
      const substrate = JSON.parse(await readFile(join(this.modelDir, 'substrate.json'), 'utf8')) as SubstrateState;
      if (substrate.machines === 'lxd') await prepareLxdSubstrate({ log: (line) => this.io.err(`${line}\n`) });
      const pid = await startControllerProcess(this.modelDir);
      this.io.err(
        `${fresh ? 'Created' : 'Resumed'} model "${this.model}" in ${this.modelDir}; controller pid ${pid} on ${controllerFiles(this.modelDir).socket}\n`,
      );
      return 0;
    },

    status: async (args) => {
      const { values } = parse(args);
      this.takeGlobals(values);
      const status = await this.call({ op: 'status' });
      const format = str(values['format']) ?? 'tabular';
      this.io.out(format === 'tabular' ? statusTable(status) : formatted(status, format, 'yaml'));
      return 0;
    },

    deploy: async (args) => {
      const { values, positionals } = parse(args, {
        'num-units': { type: 'string', short: 'n' },
        config: { type: 'string', multiple: true },
        overlay: { type: 'string', multiple: true },
      });
      this.takeGlobals(values);
      const [charm, app, ...rest] = positionals;
      if (charm === undefined || rest.length > 0)
        throw new CliError('usage: deploy CHARM|BUNDLE [APP] [-n N] [--config k=v]');
      if (/\.ya?ml$/.test(charm)) {
        await this.call({
          op: 'deploy-bundle',
          bundle: resolve(charm),
          overlays: list(values['overlay']).map((o) => resolve(o)),
        });
        this.io.err(`Deploy of bundle completed.\n`);
        return 0;
      }
      const isFile = charm.endsWith('.charm');
      const name =
        app ?? (isFile ? charm.replace(/^.*\//, '').replace(/(_.*)?\.charm$/, '') : charm.replace(/^ch:/, ''));
      const numUnits = count(values['num-units'], '-n');
      await this.call({
        op: 'deploy',
        charm: isFile ? resolve(charm) : charm,
        app: name,
        config: settingsOf(list(values['config'])),
        ...(numUnits === undefined ? {} : { numUnits }),
      });
      this.io.err(`Deployed "${name}" from local charm "${charm}"\n`);
      return 0;
    },

    'add-unit': async (args) => {
      const { values, positionals } = parse(args, { 'num-units': { type: 'string', short: 'n' } });
      this.takeGlobals(values);
      if (positionals.length !== 1) throw new CliError('usage: add-unit APP [-n N]');
      await this.call({ op: 'add-unit', app: positionals[0]!, count: count(values['num-units'], '-n') ?? 1 });
      return 0;
    },

    'remove-unit': async (args) => {
      const { values, positionals } = parse(args, {
        'no-prompt': { type: 'boolean' },
        force: { type: 'boolean' },
        'no-wait': { type: 'boolean' },
        'destroy-storage': { type: 'boolean' },
      });
      this.takeGlobals(values);
      if (positionals.length === 0) throw new CliError('usage: remove-unit UNIT [UNIT ...]');
      for (const unit of positionals) {
        await this.call({ op: 'remove-unit', unit });
        this.io.err(`will remove ${unit}\n`);
      }
      return 0;
    },

    integrate: async (args) => this.relation('integrate', args),
    relate: async (args) => this.relation('integrate', args),
    'remove-relation': async (args) => this.relation('remove-relation', args),

    config: async (args) => {
      const { values, positionals } = parse(args);
      this.takeGlobals(values);
      const [app, ...pairs] = positionals;
      if (app === undefined) throw new CliError('usage: config APP [key=value ...]');
      const settings = settingsOf(pairs.filter((pair) => pair.includes('=')));
      const keys = pairs.filter((pair) => !pair.includes('='));
      if (keys.length > 0 && Object.keys(settings).length > 0)
        throw new CliError('cannot get and set configuration values at the same time');
      const config = await this.call<{ settings: Record<string, { value?: unknown }> }>({
        op: 'config',
        app,
        ...(Object.keys(settings).length === 0 ? {} : { values: settings }),
      });
      if (Object.keys(settings).length > 0) return 0;
      if (keys.length === 1) {
        const setting = config.settings[keys[0]!];
        if (setting === undefined)
          throw new CliError(`key "${keys[0]!}" not found in "${app}" application config or charm settings.`);
        this.io.out(`${setting.value === undefined ? '' : JSON.stringify(setting.value).replace(/^"(.*)"$/, '$1')}\n`);
        return 0;
      }
      this.io.out(formatted(config, str(values['format']), 'yaml'));
      return 0;
    },

    run: async (args) => {
      // Juju 3's --wait takes a duration; a bare --wait (next word not a duration) means no limit.
      const normalized = args.flatMap((arg, i) =>
        arg === '--wait' && !/^\d/.test(args[i + 1] ?? '') ? ['--wait=0'] : [arg],
      );
      const { values, positionals } = parse(normalized, {
        wait: { type: 'string' },
        params: { type: 'string' },
        'string-args': { type: 'boolean' },
        background: { type: 'boolean' },
        quiet: { type: 'boolean' },
      });
      this.takeGlobals(values);
      const [unit, action, ...pairs] = positionals;
      if (unit === undefined || action === undefined) throw new CliError('usage: run UNIT ACTION [key=value ...]');
      const paramsFile = str(values['params']);
      const params =
        paramsFile === undefined ? undefined : (load(await readFile(paramsFile, 'utf8')) as Record<string, unknown>);
      if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
        throw new CliError(`${paramsFile ?? ''}: params must be a mapping`);
      const format = str(values['format']) ?? 'plain';
      const waitMs = parseDuration(str(values['wait']));
      const running = this.call<Task>({
        op: 'run',
        unit,
        action,
        args: pairs,
        ...(params === undefined ? {} : { params }),
        ...(values['string-args'] === true ? { stringArgs: true } : {}),
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((done) => {
        if (waitMs > 0) timer = setTimeout(() => done(undefined), waitMs);
      });
      const task = await Promise.race([running, timeout]).finally(() => clearTimeout(timer));
      if (task === undefined) {
        void running.catch(() => undefined);
        throw new CliError(`timed out waiting for results from: unit ${unit}`);
      }
      if (format === 'plain' && values['quiet'] !== true) {
        this.io.err(
          `Running operation ${task.id} with 1 task\n  - task ${task.id} on ${unitTag(task.unit)}\n\nWaiting for task ${task.id}...\n`,
        );
      }
      this.io.out(format === 'plain' ? plainTask(task) : formatted(taskView(task), format, 'yaml'));
      const code = task.results['return-code'];
      if (task.status !== 'completed' || (typeof code === 'number' && code !== 0)) {
        this.io.err(
          `ERROR the following task failed:\n - id "${task.id}" with return code ${typeof code === 'number' ? code : 1}\n`,
        );
        return 1;
      }
      return 0;
    },

    exec: async (args) => {
      const { values, positionals } = parse(args, { unit: { type: 'string', short: 'u' }, wait: { type: 'string' } });
      this.takeGlobals(values);
      const unit = str(values['unit']);
      if (unit === undefined || positionals.length === 0) throw new CliError('usage: exec --unit UNIT -- COMMAND ...');
      // As juju exec: the words are joined into one command line for the shell.
      const result = await this.call<{ exitCode: number; stdout: string; stderr: string }>({
        op: 'exec',
        unit,
        argv: ['bash', '-c', positionals.join(' ')],
      });
      const format = str(values['format']) ?? 'plain';
      if (format === 'plain') {
        this.io.out(result.stdout === '' ? '' : `${result.stdout.replace(/\n+$/, '')}\n`);
        if (result.stderr !== '') this.io.err(`${result.stderr.replace(/\n+$/, '')}\n`);
      } else {
        const view = {
          [unit]: {
            id: '0',
            results: {
              'return-code': result.exitCode,
              stdout: result.stdout,
              ...(result.stderr === '' ? {} : { stderr: result.stderr }),
            },
            status: 'completed',
            unit,
          },
        };
        this.io.out(formatted(view, format, 'yaml'));
      }
      return result.exitCode;
    },

    ssh: async (args) => {
      const { values, positionals } = parse(args);
      this.takeGlobals(values);
      const [unit, ...command] = positionals;
      if (unit === undefined) throw new CliError('usage: ssh UNIT [COMMAND ...]');
      const login = await this.call<MachineLogin>({ op: 'machine', unit });
      const shell = command.length === 0 ? ['bash', '-i'] : ['bash', '-c', command.join(' ')];
      const [program, ...rest] = login.argv;
      const result = spawnSync(program!, [...rest, ...shell], {
        stdio: 'inherit',
        ...(login.cwd === undefined ? {} : { cwd: login.cwd }),
      });
      return result.status ?? 1;
    },

    'debug-log': async (args) => {
      const { values } = parse(args, {
        lines: { type: 'string', short: 'n' },
        include: { type: 'string', multiple: true, short: 'i' },
        level: { type: 'string', short: 'l' },
        tail: { type: 'boolean' },
        'no-tail': { type: 'boolean' },
        replay: { type: 'boolean' },
      });
      this.takeGlobals(values);
      const include = list(values['include']);
      const levels = ['TRACE', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];
      const minimum = levels.indexOf((str(values['level']) ?? 'TRACE').toUpperCase());
      if (minimum < 0)
        throw new CliError(`level value "${str(values['level']) ?? ''}" is not one of ${levels.join(', ')}`);
      const wanted = (line: LogLine) =>
        levels.indexOf(line.level) >= minimum &&
        (include.length === 0 ||
          include.some(
            (name) => name === line.unit || name === unitTag(line.unit) || name === line.unit.split('/')[0],
          ));
      const show = (lines: LogLine[]) => {
        for (const line of lines.filter(wanted)) {
          this.io.out(
            `${unitTag(line.unit)}: ${line.level} unit.${line.unit}.${line.source} ${line.event}: ${line.message.trimEnd()}\n`,
          );
        }
      };
      const first = await this.call<{ lines: LogLine[]; total: number }>({ op: 'debug-log' });
      const shown =
        values['replay'] === true
          ? first.lines
          : first.lines.filter(wanted).slice(-(count(values['lines'], '-n') ?? 10));
      show(shown);
      // Juju follows the log unless --no-tail; here only when asked or on a terminal.
      const follow = values['no-tail'] !== true && (values['tail'] === true || this.io.stdoutIsTty);
      let total = first.total;
      while (follow) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const next = await this.call<{ lines: LogLine[]; total: number }>({ op: 'debug-log' });
        if (next.total > total) show(next.lines.slice(-(next.total - total)));
        total = next.total;
      }
      return 0;
    },

    'show-unit': async (args) => {
      const { values, positionals } = parse(args);
      this.takeGlobals(values);
      if (positionals.length === 0) throw new CliError('usage: show-unit UNIT');
      const shown: Record<string, unknown> = {};
      for (const unit of positionals) Object.assign(shown, await this.call({ op: 'show-unit', unit }));
      this.io.out(formatted(shown, str(values['format']), 'yaml'));
      return 0;
    },

    models: async (args) => {
      const { values } = parse(args);
      this.takeGlobals(values);
      const names = (await readdir(this.baseDir).catch(() => [] as string[]))
        .filter((name) => existsSync(join(this.baseDir, name, 'substrate.json')))
        .sort();
      const models = [];
      for (const name of names) {
        const dir = join(this.baseDir, name);
        const running = await controllerAnswers(dir);
        let machines = 0;
        let units = 0;
        if (running) {
          const status = await request<{
            machines?: Record<string, unknown>;
            applications?: Record<string, { units?: Record<string, { subordinates?: Record<string, unknown> }> }>;
          }>(controllerFiles(dir).socket, { op: 'status' });
          machines = Object.keys(status.machines ?? {}).length;
          for (const app of Object.values(status.applications ?? {}))
            for (const unit of Object.values(app.units ?? {})) units += 1 + Object.keys(unit.subordinates ?? {}).length;
        }
        models.push({
          name,
          'short-name': name,
          'model-type': 'iaas',
          'controller-name': 'local',
          status: { current: running ? 'available' : 'no controller' },
          'machine-count': machines,
          'unit-count': units,
          path: dir,
        });
      }
      const format = str(values['format']) ?? 'tabular';
      if (format !== 'tabular') {
        this.io.out(formatted({ models, 'current-model': this.model }, format, 'yaml'));
        return 0;
      }
      this.io.out(
        `Controller: local\n\n${table([
          ['Model', 'Cloud/Region', 'Type', 'Status', 'Machines', 'Units'],
          ...models.map((m) => [
            `${m.name}${m.name === this.model ? '*' : ''}`,
            'local/localhost',
            'iaas',
            m.status.current,
            String(m['machine-count']),
            String(m['unit-count']),
          ]),
        ])}\n`,
      );
      return 0;
    },

    'destroy-model': async (args) => {
      const { values, positionals } = parse(args, {
        'no-prompt': { type: 'boolean' },
        'destroy-storage': { type: 'boolean' },
        force: { type: 'boolean' },
        'no-wait': { type: 'boolean' },
        timeout: { type: 'string' },
      });
      this.takeGlobals(values);
      const [model, ...rest] = positionals;
      if (model === undefined || rest.length > 0) throw new CliError('usage: destroy-model MODEL [--no-prompt]');
      this.model = validModelName(model.replace(/^[^:]*:/, ''));
      if (!existsSync(this.modelDir)) throw new CliError(`model "${this.model}" not found (no ${this.modelDir})`);
      await LocalDriver.teardown(this.modelDir);
      this.io.err(
        `Model "${this.model}" destroyed: its controller, machines' processes, network namespaces and ${this.modelDir} are gone.\n`,
      );
      return 0;
    },
  };

  private async relation(op: 'integrate' | 'remove-relation', args: string[]): Promise<number> {
    const { values, positionals } = parse(args);
    this.takeGlobals(values);
    if (positionals.length !== 2) throw new CliError(`usage: ${op} APP[:ENDPOINT] APP[:ENDPOINT]`);
    await this.call({ op, a: positionals[0]!, b: positionals[1]! });
    return 0;
  }
}

/** A `--machines` value, checked. */
function machinesKind(value: string | undefined): MachinesKind | undefined {
  if (value === undefined) return undefined;
  const kind = MACHINE_KINDS.find((known) => known === value);
  if (kind === undefined) throw new CliError(`--machines must be one of ${MACHINE_KINDS.join(', ')}, not "${value}"`);
  return kind;
}
